package irvm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/test/cases"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/xborder/xborder/policy/irvm"
)

// TestConformance runs OPA's own conformance suite (the YAML cases of the
// pinned OPA module, v1/test/cases/testdata/v1) through the path the node
// decides with: OPA's planner (irvm.Plan, each case's query made the body of
// a rule that collects its bindings), irvm.Compile and Program.Eval. Each
// case ends one of four ways:
//
//   - pass: irvm gives OPA's expected answer (result set or error);
//   - topdown: the planner or Compile refuses the case, or the evaluation
//     fails, so the node would decide with topdown; topdown's answer is then
//     checked to be the expected one;
//   - skipped: irvm differs from topdown where OPA's own WebAssembly runner
//     skips the case too (its exceptions.yaml, whose reason is logged);
//   - wrong: irvm gives an answer OPA does not. There must be none.
func TestConformance(t *testing.T) {
	dir := opaModuleDir(t)
	set, err := cases.Load(filepath.Join(dir, "v1", "test", "cases", "testdata", "v1"))
	if err != nil {
		t.Fatalf("load OPA's conformance cases: %v", err)
	}
	if len(set.Cases) < 1000 {
		t.Fatalf("only %d conformance cases found under %s", len(set.Cases), dir)
	}
	wasmSkips := wasmExceptions(t, dir)
	registerTestSleep.Do(func() {
		// The built-in OPA's runners register for the cases that need a
		// slow built-in (its WebAssembly runner's addTestSleepBuiltin).
		rego.RegisterBuiltin1(&rego.Function{
			Name: "test.sleep",
			Decl: types.NewFunction(types.Args(types.S), types.NewNull()),
		}, func(_ rego.BuiltinContext, op *ast.Term) (*ast.Term, error) {
			d, _ := time.ParseDuration(string(op.Value.(ast.String)))
			time.Sleep(d)
			return ast.NullTerm(), nil
		})
	})

	run := set.Sorted().Cases
	if raceEnabled {
		// The race detector makes the suite ten times slower: it checks
		// every tenth case here, and `make test` runs the whole suite
		// without it (BENCHMARKS.md, "Policy conformance").
		var sample []cases.TestCase
		for i, tc := range run {
			if i%10 == 0 {
				sample = append(sample, tc)
			}
		}
		run = sample
	}
	var (
		mu       sync.Mutex
		counts   = map[outcome]int{}
		refusals = map[string]int{}
		wrong    []string
	)
	record := func(tc cases.TestCase, o outcome, detail string) {
		mu.Lock()
		defer mu.Unlock()
		counts[o]++
		if o == wrong_ {
			wrong = append(wrong, fmt.Sprintf("%s: %s", tc.Note, detail))
		}
	}
	start := time.Now()
	t.Run("cases", func(t *testing.T) {
		for _, tc := range run {
			t.Run(tc.Note, func(t *testing.T) {
				if len(tc.Env) > 0 {
					for k, v := range tc.Env {
						t.Setenv(k, v)
					}
				} else {
					t.Parallel()
				}
				o, detail, stage := runCase(t.Context(), tc)
				if o == byTopdown {
					mu.Lock()
					refusals[stage]++
					mu.Unlock()
				}
				if o == wrong_ {
					if reason, ok := wasmSkips[tc.Note]; ok {
						t.Logf("skipped as OPA's WebAssembly runner skips it (%s): %s", reason, detail)
						o = skipped
					}
				}
				if o == topdownWrong {
					t.Errorf("topdown, which decides this case, does not give OPA's expected answer: %s", detail)
				}
				if o == wrong_ {
					t.Errorf("irvm's answer is not OPA's: %s", detail)
				}
				record(tc, o, detail)
			})
		}
	})
	t.Logf("OPA conformance (%d of %d cases, %s): %d pass, %d -> topdown (%d refused by the planner, %d by Compile, %d failed in Eval), %d skipped as OPA's WebAssembly runner does, %d wrong",
		len(run), len(set.Cases), time.Since(start).Round(time.Millisecond),
		counts[pass], counts[byTopdown], refusals["plan"], refusals["compile"], refusals["eval"], counts[skipped], counts[wrong_])
	sort.Strings(wrong)
	for _, w := range wrong {
		t.Log("wrong: " + w)
	}
}

var registerTestSleep sync.Once

type outcome int

const (
	pass outcome = iota
	byTopdown
	skipped
	wrong_
	topdownWrong
)

// opaModuleDir is the pinned OPA module in the module cache.
func opaModuleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/open-policy-agent/opa").Output()
	if err != nil {
		t.Fatalf("find the OPA module (go list -m): %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("the OPA module is not in the module cache: run go mod download")
	}
	return dir
}

// wasmExceptions reads the cases OPA's WebAssembly runner skips, with why.
func wasmExceptions(t *testing.T, dir string) map[string]string {
	t.Helper()
	bs, err := os.ReadFile(filepath.Join(dir, "internal", "wasm", "sdk", "test", "e2e", "exceptions.yaml"))
	if err != nil {
		t.Fatalf("read OPA's WebAssembly exceptions: %v", err)
	}
	out := map[string]string{}
	if err := util.Unmarshal(bs, &out); err != nil {
		t.Fatalf("read OPA's WebAssembly exceptions: %v", err)
	}
	return out
}

const (
	queryPackage = "xborder_conformance_query"
	queryRule    = "bindings"
)

// runCase runs one case through irvm, and through topdown when irvm does
// not decide it.
func runCase(ctx context.Context, tc cases.TestCase) (outcome, string, string) {
	input, err := caseInput(tc)
	if err != nil {
		return wrong_, err.Error(), ""
	}
	var data ast.Value = ast.NewObject()
	if tc.Data != nil {
		if data, err = ast.InterfaceToValue(*tc.Data); err != nil {
			return wrong_, err.Error(), ""
		}
	}
	got, stage, err := evalIRVM(ctx, tc, data, input)
	if err != nil {
		// The node repeats the evaluation with topdown, whose answer stands.
		o, detail := checkTopdown(ctx, tc, input, err)
		return o, detail, stage
	}
	switch {
	case tc.WantResult != nil:
		want := resultSet(*tc.WantResult)
		if want.Compare(normalise(got, tc.SortBindings)) != 0 {
			return wrong_, fmt.Sprintf("got %v, want %v", got, want), ""
		}
		return pass, "", ""
	case tc.WantError != nil || tc.WantErrorCode != nil:
		// As OPA's WebAssembly runner: an error only strict built-in errors
		// raise leaves the query undefined without them.
		if tc.StrictError && got.Len() == 0 {
			return pass, "", ""
		}
		return wrong_, fmt.Sprintf("got %v, want an error (%s)", got, wantErr(tc)), ""
	}
	return wrong_, "the case wants nothing", ""
}

func wantErr(tc cases.TestCase) string {
	var parts []string
	if tc.WantErrorCode != nil {
		parts = append(parts, *tc.WantErrorCode)
	}
	if tc.WantError != nil {
		parts = append(parts, *tc.WantError)
	}
	return strings.Join(parts, ": ")
}

func caseInput(tc cases.TestCase) (*ast.Term, error) {
	switch {
	case tc.InputTerm != nil:
		return ast.ParseTerm(*tc.InputTerm)
	case tc.Input != nil:
		v, err := ast.InterfaceToValue(*tc.Input)
		if err != nil {
			return nil, err
		}
		return ast.NewTerm(v), nil
	}
	return nil, nil
}

// evalIRVM plans the case's query as the body of a rule that collects its
// bindings, compiles the plan and evaluates it: the set of binding objects.
func evalIRVM(ctx context.Context, tc cases.TestCase, data ast.Value, input *ast.Term) (ast.Set, string, error) {
	body, err := ast.ParseBodyWithOpts(tc.Query, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, "plan", err
	}
	names := queryVars(body)
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\n%s contains {", queryPackage, queryRule)
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %s", n, n)
	}
	fmt.Fprintf(&b, "} if {\n%s\n}\n", tc.Query)
	modules := map[string][]byte{"query.rego": []byte(b.String())}
	for i, m := range tc.Modules {
		modules[fmt.Sprintf("module-%d.rego", i)] = []byte(m)
	}
	pol, err := irvm.Plan(ctx, modules, queryPackage+"/"+queryRule)
	if err != nil {
		return nil, "plan", fmt.Errorf("plan: %w", err)
	}
	prog, err := irvm.Compile(pol, data)
	if err != nil {
		return nil, "compile", fmt.Errorf("compile: %w", err)
	}
	rs, err := prog.Eval(ctx, queryPackage+"/"+queryRule, input)
	if err != nil {
		return nil, "eval", fmt.Errorf("eval: %w", err)
	}
	if len(rs) != 1 {
		return nil, "eval", fmt.Errorf("eval: %d results, want 1", len(rs))
	}
	obj, ok := rs[0].Value.(ast.Object)
	if !ok || obj.Get(ast.StringTerm("result")) == nil {
		return nil, "eval", fmt.Errorf("eval: result %v", rs[0])
	}
	s, ok := obj.Get(ast.StringTerm("result")).Value.(ast.Set)
	if !ok {
		return nil, "eval", fmt.Errorf("eval: result %v is not a set", rs[0])
	}
	return s, "", nil
}

// queryVars are the variables a query binds, as its result set shows them.
func queryVars(body ast.Body) []string {
	seen := map[string]bool{}
	vis := ast.NewVarVisitor().WithParams(ast.VarVisitorParams{SkipRefCallHead: true, SkipClosures: true})
	vis.Walk(body)
	for v := range vis.Vars() {
		if v.IsWildcard() || v.IsGenerated() || v.Equal(ast.InputRootDocument.Value) || v.Equal(ast.DefaultRootDocument.Value) {
			continue
		}
		seen[string(v)] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// checkTopdown evaluates the case as OPA's topdown test runner does
// (v1/topdown/exported_test.go) and checks that its answer is the expected
// one.
func checkTopdown(ctx context.Context, tc cases.TestCase, input *ast.Term, irvmErr error) (outcome, string) {
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1}
	if tc.ExperimentalKeywords {
		popts.Capabilities = ast.CapabilitiesForThisVersion(ast.CapabilitiesExperimentalKeywords(true))
	}
	modules := map[string]string{}
	for i, m := range tc.Modules {
		modules[fmt.Sprintf("test-%d.rego", i)] = m
	}
	fail := func(format string, args ...any) (outcome, string) {
		return topdownWrong, fmt.Sprintf("irvm: %v; topdown: ", irvmErr) + fmt.Sprintf(format, args...)
	}
	compiler, err := ast.CompileModulesWithOpt(modules, ast.CompileOpts{ParserOptions: popts})
	if err != nil {
		return fail("compile: %v", err)
	}
	query, err := compiler.QueryCompiler().Compile(ast.MustParseBodyWithOpts(tc.Query, popts))
	if err != nil {
		return fail("compile the query: %v", err)
	}
	store := inmem.New()
	if tc.Data != nil {
		store = inmem.NewFromObject(*tc.Data)
	}
	txn := storage.NewTransactionOrDie(ctx, store)
	defer store.Abort(ctx, txn)
	rs, err := topdown.NewQuery(query).
		WithCompiler(compiler).
		WithStore(store).
		WithTransaction(txn).
		WithInput(input).
		WithStrictBuiltinErrors(tc.StrictError).
		Run(ctx)
	if tc.WantError != nil || tc.WantErrorCode != nil {
		if err == nil {
			return fail("no error, want %s", wantErr(tc))
		}
		if tc.WantError != nil && !strings.Contains(err.Error(), *tc.WantError) {
			return fail("%v, want %s", err, wantErr(tc))
		}
		if tc.WantErrorCode != nil {
			var te *topdown.Error
			if !errors.As(err, &te) || te.Code != *tc.WantErrorCode {
				return fail("%v, want %s", err, wantErr(tc))
			}
		}
		return byTopdown, ""
	}
	if err != nil {
		return fail("%v", err)
	}
	got := ast.NewSet()
	for _, r := range rs {
		obj := ast.NewObject()
		for k, v := range r {
			if tc.IgnoreGeneratedVars && strings.HasPrefix(string(k), "__localq") {
				continue
			}
			obj.Insert(ast.StringTerm(string(k)), v)
		}
		got.Add(ast.NewTerm(obj))
	}
	if tc.WantResult != nil {
		if want := resultSet(*tc.WantResult); want.Compare(normalise(got, tc.SortBindings)) != 0 {
			return fail("%v, want %v", got, want)
		}
	}
	return byTopdown, ""
}

func resultSet(want []map[string]any) ast.Set {
	exp := ast.NewSet()
	for _, b := range want {
		obj := ast.NewObject()
		for k, v := range b {
			obj.Insert(ast.StringTerm(k), ast.NewTerm(ast.MustInterfaceToValue(v)))
		}
		exp.Add(ast.NewTerm(obj))
	}
	return exp
}

// normalise turns binding values into JSON and back, as OPA's runner does
// (sets become arrays), sorting arrays when the case says bindings are sets.
func normalise(rs ast.Set, sortBindings bool) ast.Set {
	out := ast.NewSet()
	rs.Foreach(func(b *ast.Term) {
		obj := ast.NewObject()
		b.Value.(ast.Object).Foreach(func(k, v *ast.Term) {
			j, err := ast.JSON(v.Value)
			if err != nil {
				panic(errors.New("binding is not JSON: " + err.Error()))
			}
			if a, ok := j.([]any); ok && sortBindings {
				slices.SortFunc(a, util.Compare)
			}
			obj.Insert(k, ast.NewTerm(ast.MustInterfaceToValue(j)))
		})
		out.Add(ast.NewTerm(obj))
	})
	return out
}
