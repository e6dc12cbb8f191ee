package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"
)

// CheckResult summarises a successful strict compile.
type CheckResult struct {
	Modules   int
	DataFiles int
}

// Check compiles every module of dir, tests included, strictly: the same
// check as `opa check --strict`.
func Check(dir string) (CheckResult, error) {
	_, res, err := compileDir(dir, true)
	if err != nil {
		return CheckResult{}, err
	}
	n := 0
	paths, _ := listFiles(dir, true)
	for _, p := range paths {
		if strings.HasSuffix(p, ".json") {
			n++
		}
	}
	return CheckResult{Modules: len(res.Modules), DataFiles: n}, nil
}

// TestOptions configures Test.
type TestOptions struct {
	Verbose  bool
	Coverage bool
	Run      string // regular expression selecting tests; empty: all
	Out      io.Writer
}

// TestSummary counts test results; Coverage is set with TestOptions.Coverage.
type TestSummary struct {
	Passed, Failed, Errored, Skipped int
	Coverage                         *cover.Report
	// Compared is how many inputs of the tests both evaluators decided;
	// each of Differences is counted in Failed too.
	Compared    int
	Differences []Difference
}

// OK reports whether every test passed.
func (s TestSummary) OK() bool { return s.Failed == 0 && s.Errored == 0 && s.Passed > 0 }

// Test runs the Rego tests of dir (the `test_` rules of its modules) with
// OPA's test runner and reports them like `opa test`.
func Test(ctx context.Context, dir string, o TestOptions) (TestSummary, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	c, res, err := compileDir(dir, true)
	if err != nil {
		return TestSummary{}, err
	}
	modules := map[string]*ast.Module{}
	for name, m := range res.ParsedModules() {
		modules[name] = m
	}
	store := inmem.NewFromObject(res.Documents)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return TestSummary{}, err
	}
	defer store.Abort(ctx, txn)

	var cov *cover.Cover
	runner := tester.NewRunner().
		SetCompiler(c).
		SetStore(store).
		SetModules(modules).
		CapturePrintOutput(true).
		EnableTracing(o.Verbose).
		SetTimeout(30 * time.Second).
		Filter(o.Run)
	if o.Coverage {
		cov = cover.New()
		runner = runner.SetCoverageQueryTracer(cov)
	}
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return TestSummary{}, fmt.Errorf("run tests: %w", err)
	}
	var sum TestSummary
	tee := make(chan *tester.Result)
	done := make(chan error, 1)
	go func() {
		done <- tester.PrettyReporter{Output: o.Out, Verbose: o.Verbose, FailureLine: true}.Report(tee)
	}()
	for r := range ch {
		switch {
		case r.Skip:
			sum.Skipped++
		case r.Error != nil:
			sum.Errored++
		case r.Fail:
			sum.Failed++
		default:
			sum.Passed++
		}
		tee <- r
	}
	close(tee)
	if err := <-done; err != nil {
		return sum, err
	}
	if sum.Passed+sum.Failed+sum.Errored == 0 {
		fmt.Fprintf(o.Out, "no tests found in %s: tests are rules named test_... in *_test.rego files\n", dir)
	}
	if err := comparePlan(ctx, dir, o.Out, &sum); err != nil {
		return sum, err
	}
	if cov != nil {
		rep := cov.Report(modules)
		sum.Coverage = &rep
		writeCoverage(o.Out, dir, rep, o.Verbose)
	}
	return sum, nil
}

// comparePlan has both evaluators decide every input the tests give a
// decision point, as the node does before a plan takes its decisions, and
// counts each difference as a failed test.
func comparePlan(ctx context.Context, dir string, w io.Writer, sum *TestSummary) error {
	b, err := Load(ctx, dir)
	if err != nil {
		fmt.Fprintf(w, "\nPlan and topdown not compared: %v\n", err)
		return nil
	}
	pl := b.planProgram(ctx)
	if pl.err != "" {
		fmt.Fprintf(w, "\nPlan and topdown not compared: the policy is not planned, topdown takes every decision: %s\n", pl.err)
		return nil
	}
	tests, _, err := testSources(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	n, diffs, err := b.checkTests(ctx, pl, tests)
	if err != nil {
		sum.Errored++
		fmt.Fprintf(w, "\nERROR: plan and topdown not compared on the tests: %v\n", err)
		return nil
	}
	sum.Compared, sum.Differences = n, diffs
	sum.Failed += len(diffs)
	if len(diffs) == 0 {
		fmt.Fprintf(w, "\nPlan and topdown: identical on the %d inputs the tests give decision points\n", n)
		return nil
	}
	fmt.Fprintf(w, "\nPlan and topdown: %d of the %d inputs the tests give decision points decided differently\n", len(diffs), n)
	for _, d := range diffs {
		fmt.Fprintf(w, "FAIL: %s: %s\n  plan:    %s\n  topdown: %s\n", d.Test, d.Error(), d.Plan, d.Topdown)
	}
	return nil
}

func writeCoverage(w io.Writer, dir string, rep cover.Report, verbose bool) {
	fmt.Fprintf(w, "\nCoverage: %.1f%% (%d of %d lines)\n", rep.Coverage, rep.CoveredLines, rep.CoveredLines+rep.NotCoveredLines)
	for _, name := range slices.Sorted(maps.Keys(rep.Files)) {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		fr := rep.Files[name]
		rel, err := filepath.Rel(dir, name)
		if err != nil {
			rel = name
		}
		fmt.Fprintf(w, "  %-28s %5.1f%%", rel, fr.Coverage)
		if len(fr.NotCovered) > 0 {
			var lines []string
			for _, r := range fr.NotCovered {
				if r.Start.Row == r.End.Row {
					lines = append(lines, fmt.Sprint(r.Start.Row))
				} else {
					lines = append(lines, fmt.Sprintf("%d-%d", r.Start.Row, r.End.Row))
				}
			}
			if !verbose && len(lines) > 8 {
				lines = append(lines[:8], "...")
			}
			fmt.Fprintf(w, "  not covered: lines %s", strings.Join(lines, ", "))
		}
		fmt.Fprintln(w)
	}
}

// FormatResult is one module that formatting changed (or would change).
type FormatResult struct {
	Path      string
	Original  []byte
	Formatted []byte
}

// Format formats every .rego file of dir as `opa fmt` does. With write, the
// changed files are rewritten in place.
func Format(dir string, write bool) ([]FormatResult, error) {
	paths, err := listFiles(dir, true)
	if err != nil {
		return nil, err
	}
	var out []FormatResult
	for _, p := range paths {
		if !strings.HasSuffix(p, ".rego") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		formatted, err := format.SourceWithOpts(p, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("format %s: %w", p, err)
		}
		if bytes.Equal(src, formatted) {
			continue
		}
		out = append(out, FormatResult{Path: p, Original: src, Formatted: formatted})
		if write {
			info, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(p, formatted, info.Mode().Perm()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Explain selects how much of the evaluation EvalQuery explains.
type Explain string

const (
	ExplainOff   Explain = ""
	ExplainNotes Explain = "notes" // trace(...) notes of the policy
	ExplainFails Explain = "fails" // the expressions that failed
	ExplainFull  Explain = "full"  // every step
)

// EvalResult is the answer of an ad-hoc query.
type EvalResult struct {
	Value   any    `json:"value"`
	Defined bool   `json:"defined"`
	Trace   string `json:"trace,omitempty"`
}

// ParseInput decodes an input document, which must be a JSON object.
func ParseInput(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the input is not JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w, not %s", errNotObject, jsonKind(v))
	}
	return obj, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// EvalQuery evaluates a query against the policy directory (tests left
// out) with an input, as `opa eval` does, optionally explaining it.
func EvalQuery(ctx context.Context, dir, query string, input map[string]any, explain Explain) (EvalResult, error) {
	c, res, err := compileDir(dir, false)
	if err != nil {
		return EvalResult{}, err
	}
	return evalWith(ctx, c, inmem.NewFromObject(res.Documents), query, input, explain)
}

// evalWith evaluates a query on a compiled policy and its data.
func evalWith(ctx context.Context, c *ast.Compiler, store storage.Store, query string, input map[string]any, explain Explain) (EvalResult, error) {
	body, err := ast.ParseBodyWithOpts(query, ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: capabilities})
	if err != nil {
		return EvalResult{}, fmt.Errorf("query %q: %w", query, err)
	}
	if errs := checkForbidden(body); len(errs) > 0 {
		return EvalResult{}, fmt.Errorf("query %q: %w", query, errs)
	}
	buf := topdown.NewBufferTracer()
	opts := []func(*rego.Rego){
		rego.Query(query),
		rego.Compiler(c),
		rego.Capabilities(capabilities),
		rego.Store(store),
		rego.Input(input),
		rego.StrictBuiltinErrors(true),
	}
	if explain != ExplainOff {
		opts = append(opts, rego.QueryTracer(buf))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return EvalResult{}, fmt.Errorf("evaluate %s: %w", query, err)
	}
	var out EvalResult
	if len(rs) > 0 && len(rs[0].Expressions) > 0 {
		out.Value, out.Defined = rs[0].Expressions[0].Value, true
	}
	if explain != ExplainOff {
		var events []*topdown.Event
		switch explain {
		case ExplainNotes:
			events = lineage.Notes(*buf)
		case ExplainFails:
			events = lineage.Fails(*buf)
		case ExplainFull:
			events = lineage.Full(*buf)
		default:
			return EvalResult{}, fmt.Errorf("explain %q is not one of notes, fails, full", explain)
		}
		var b strings.Builder
		topdown.PrettyTraceWithLocation(&b, events)
		out.Trace = b.String()
	}
	return out, nil
}
