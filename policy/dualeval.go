package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/xborder/xborder/policy/irvm"
)

// The plan (package irvm) must decide exactly as topdown does. Before a
// plan takes a bundle's decisions, and whenever `xborder policy test` runs,
// both evaluators decide every input the bundle's own Rego tests give a
// decision point, and the plan is refused at the first difference. The node
// also holds the plan to the inputs of its last few real decisions.
//
// The inputs of a test are those in force (`with input as ...`) whenever
// topdown enters a rule of a decision point's package while it runs the
// test: the decision point itself, or a helper rule of its package the test
// reads directly. Limits: a test that mocks data (`with data.x as ...`)
// gives its input, but both evaluators then decide it on the bundle's own
// data; a test that never enters a rule of a decision point's package
// gives nothing to compare; a rule whose value topdown takes from its cache
// is not entered again (the input is the same).

// recentPerPoint is how many inputs of real decisions are kept per point.
const recentPerPoint = 64

// maxTestInputs caps the distinct test inputs compared per bundle.
const maxTestInputs = 4096

// checkTimeout bounds the running of the tests and the comparisons (about
// a second for the shipped policies); a plan not checked in time is
// refused.
const checkTimeout = 2 * time.Minute

// recentInputs keeps the inputs of the last decisions of each point, in
// memory only: they may hold personal data, so they are never logged,
// written or reported, only evaluated again when a new plan is checked.
type recentInputs struct {
	mu     sync.Mutex
	points map[Point]*inputRing
}

type inputRing struct {
	buf  [recentPerPoint]ast.Value
	next int
	n    int
}

func newRecentInputs() *recentInputs {
	r := &recentInputs{points: make(map[Point]*inputRing, len(Points))}
	for _, p := range Points {
		r.points[p] = &inputRing{}
	}
	return r
}

// add remembers the input of a decision; it costs a lock and a store.
func (r *recentInputs) add(p Point, in ast.Value) {
	if r == nil {
		return
	}
	ring := r.points[p]
	if ring == nil {
		return
	}
	r.mu.Lock()
	ring.buf[ring.next] = in
	ring.next = (ring.next + 1) % recentPerPoint
	ring.n = min(ring.n+1, recentPerPoint)
	r.mu.Unlock()
}

// snapshot returns the remembered inputs of p, oldest first.
func (r *recentInputs) snapshot(p Point) []ast.Value {
	if r == nil {
		return nil
	}
	ring := r.points[p]
	if ring == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ast.Value, 0, ring.n)
	for i := range ring.n {
		out = append(out, ring.buf[(ring.next-ring.n+i+recentPerPoint)%recentPerPoint])
	}
	return out
}

// testInput is one input a Rego test gave a decision point.
type testInput struct {
	test  string // data.pkg.test_x
	point Point
	input ast.Value
}

// inputTracer records, while a test runs under topdown, the input in force
// whenever a rule of a decision point's package is entered.
type inputTracer struct {
	test   string
	byPkg  map[string][]Point // package path -> points of that package
	seen   map[string]bool    // point + input, across tests
	inputs *[]testInput
	// last is the input of the previous event and its text: a test's
	// input term stays the same across the many rules it enters, and
	// writing it out for every one of them took a third of the check.
	last     *ast.Term
	lastText string
	byModule map[*ast.Module][]Point // byPkg by module, for the same reason
}

func (t *inputTracer) Enabled() bool               { return true }
func (t *inputTracer) Config() topdown.TraceConfig { return topdown.TraceConfig{} }

func (t *inputTracer) TraceEvent(evt topdown.Event) {
	if evt.Op != topdown.EnterOp || len(*t.inputs) >= maxTestInputs {
		return
	}
	rule, ok := evt.Node.(*ast.Rule)
	if !ok || rule.Module == nil {
		return
	}
	in := evt.Input()
	if in == nil || !in.IsGround() {
		return
	}
	points, ok := t.byModule[rule.Module]
	if !ok {
		points = t.byPkg[rule.Module.Package.Path.String()]
		if t.byModule == nil {
			t.byModule = map[*ast.Module][]Point{}
		}
		t.byModule[rule.Module] = points
	}
	if len(points) == 0 {
		return
	}
	if in != t.last {
		t.last, t.lastText = in, in.String()
	}
	for _, p := range points {
		key := string(p) + "\x00" + t.lastText
		if t.seen[key] {
			continue
		}
		t.seen[key] = true
		*t.inputs = append(*t.inputs, testInput{test: t.test, point: p, input: in.Value})
	}
}

// pointPackages maps the package of each point the compiler defines to the
// point.
func pointPackages(c *ast.Compiler) map[string][]Point {
	out := map[string][]Point{}
	for _, p := range Points {
		ref := ast.MustParseRef(string(p))
		if len(c.GetRulesExact(ref)) == 0 {
			continue
		}
		pkg := ref[:len(ref)-1].String()
		out[pkg] = append(out[pkg], p)
	}
	return out
}

// testRules lists the test rules of the compiled modules (those named
// test_... in *_test.rego files), as data.pkg.test_x, in order.
func testRules(c *ast.Compiler) []string {
	set := map[string]bool{}
	for name, m := range c.Modules {
		if !strings.HasSuffix(name, "_test.rego") {
			continue
		}
		for _, r := range m.Rules {
			n := r.Head.Name.String()
			if len(r.Head.Reference) > 0 {
				n = r.Head.Reference[0].Value.String()
			}
			if !strings.HasPrefix(n, "test_") || len(r.Head.Args) > 0 {
				continue
			}
			set[m.Package.Path.String()+"."+n] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// collectTestInputs runs every test rule of c under topdown and returns the
// inputs the tests gave the decision points, each once, with the first test
// that gave it. A test that fails or errs still gives its inputs.
func collectTestInputs(ctx context.Context, c *ast.Compiler, store storage.Store) ([]testInput, error) {
	byPkg := pointPackages(c)
	var inputs []testInput
	seen := map[string]bool{}
	for _, test := range testRules(c) {
		if err := ctx.Err(); err != nil {
			return inputs, err
		}
		tr := &inputTracer{test: test, byPkg: byPkg, seen: seen, inputs: &inputs}
		_, _ = rego.New(
			rego.Query(test),
			rego.Compiler(c),
			rego.Store(store),
			rego.QueryTracer(tr),
		).Eval(ctx)
		if len(inputs) >= maxTestInputs {
			break
		}
	}
	return inputs, nil
}

// testSources reads the *_test.rego files of dir, and hashes them as
// hashFiles does.
func testSources(dir string) (map[string][]byte, string, error) {
	paths, err := listFiles(dir, true)
	if err != nil {
		return nil, "", err
	}
	paths = slices.DeleteFunc(paths, func(p string) bool { return !strings.HasSuffix(p, "_test.rego") })
	out := make(map[string][]byte, len(paths))
	h := sha256.New()
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		out[p] = raw
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(raw)
		fmt.Fprintf(h, "%s %x\n", filepath.ToSlash(rel), sum)
	}
	return out, hex.EncodeToString(h.Sum(nil)), nil
}

// untrustedInTests are the built-in functions a test run by the node may
// not call: the node runs a bundle's tests at every load, and they must
// not reach the network.
var untrustedInTests = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

// compileWithTests compiles the bundle's modules together with test
// sources, with the bundle compiler's capabilities less those of
// untrustedInTests.
func (b *Bundle) compileWithTests(tests map[string][]byte) (*ast.Compiler, error) {
	mods := make(map[string]*ast.Module, len(b.modules)+len(tests))
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1}
	for name, src := range b.modules {
		m, err := ast.ParseModuleWithOpts(name, string(src), popts)
		if err != nil {
			return nil, err
		}
		mods[name] = m
	}
	for name, src := range tests {
		m, err := ast.ParseModuleWithOpts(name, string(src), popts)
		if err != nil {
			return nil, err
		}
		mods[name] = m
	}
	caps := ast.CapabilitiesForThisVersion()
	if bc := b.compiler.Capabilities(); bc != nil {
		caps = bc
	}
	trimmed := *caps
	trimmed.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), func(bi *ast.Builtin) bool {
		return slices.Contains(untrustedInTests, bi.Name)
	})
	c := ast.NewCompiler().
		WithStrict(true).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(false).
		WithCapabilities(&trimmed)
	c.Compile(mods)
	if c.Failed() {
		return nil, c.Errors
	}
	return c, nil
}

// perturbPlan, set by tests only, changes what the plan answers in the
// comparisons with topdown (never in decisions), so that a difference can
// be made on purpose.
var perturbPlan atomic.Pointer[func(p Point, in ast.Value, v ast.Value, err error) (ast.Value, error)]

// Difference is an input on which the plan and topdown decide differently.
type Difference struct {
	Test    string // the test that gave the input; empty for a real decision
	Point   Point
	Plan    string // the plan's value, or its error
	Topdown string // topdown's value, or its error
}

func (d Difference) Error() string {
	if strings.HasPrefix(d.Plan, "not compared") {
		return fmt.Sprintf("the plan was not compared with topdown on the recent decisions in time (%s)", d.Point)
	}
	if d.Test == "" {
		return fmt.Sprintf("the plan differs from topdown on a recent decision (%s)", d.Point)
	}
	return fmt.Sprintf("the plan differs from topdown on test %s (%s)", d.Test, d.Point)
}

// ErrPlanDiffers is what a Difference is, for errors.Is.
var ErrPlanDiffers = errors.New("the plan differs from topdown")

func (d Difference) Is(target error) bool { return target == ErrPlanDiffers }

// compare decides p on in with the plan (as eval does: a failed plan
// evaluation is repeated by topdown) and with topdown, and reports whether
// they agree. Two errors agree.
func (b *Bundle) compare(ctx context.Context, prog *irvm.Program, entry string, p Point, in ast.Value) (Difference, bool) {
	pq, ok := b.queries[p]
	if !ok {
		return Difference{}, true
	}
	want, terr := b.evalTopdown(ctx, p, pq, in)
	var got ast.Value
	rs, perr := prog.Eval(ctx, entry, ast.NewTerm(in))
	if perr != nil {
		got, perr = want, terr // eval falls back to topdown
	} else {
		got, perr = planResult(p, rs)
	}
	if f := perturbPlan.Load(); f != nil {
		got, perr = (*f)(p, in, got, perr)
	}
	switch {
	case perr != nil && terr != nil:
		return Difference{}, true
	case perr == nil && terr == nil && got.Compare(want) == 0:
		return Difference{}, true
	}
	d := Difference{Point: p, Plan: describe(got, perr), Topdown: describe(want, terr)}
	return d, false
}

func describe(v ast.Value, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return v.String()
}

// checkTests runs the bundle's tests (tests read from its directory now) to
// collect their inputs and compares the plan with topdown on each. It
// returns how many inputs it compared and every difference; an error says
// the tests could not be run.
func (b *Bundle) checkTests(ctx context.Context, pl *planned, tests map[string][]byte) (int, []Difference, error) {
	if len(tests) == 0 {
		return 0, nil, nil
	}
	c, err := b.compileWithTests(tests)
	if err != nil {
		return 0, nil, err
	}
	inputs, err := collectTestInputs(ctx, c, b.store)
	if err != nil {
		return 0, nil, err
	}
	var diffs []Difference
	for _, ti := range inputs {
		entry, ok := pl.points[ti.point]
		if !ok {
			continue
		}
		if d, same := b.compare(ctx, pl.program, entry, ti.point, ti.input); !same {
			d.Test = ti.test
			diffs = append(diffs, d)
		}
	}
	return len(inputs), diffs, ctx.Err()
}

// checkRecent compares the plan with topdown on the inputs of the last real
// decisions and returns the first difference.
func (b *Bundle) checkRecent(ctx context.Context, pl *planned) (Difference, bool) {
	for _, p := range Points {
		entry, ok := pl.points[p]
		if !ok {
			continue
		}
		for _, in := range b.recent.snapshot(p) {
			if err := ctx.Err(); err != nil {
				// Not checked in time is not checked: the plan is refused.
				return Difference{Point: p, Plan: "not compared: " + err.Error(), Topdown: "not compared"}, false
			}
			if d, same := b.compare(ctx, pl.program, entry, p, in); !same {
				return d, false
			}
		}
	}
	return Difference{}, true
}
