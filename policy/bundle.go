package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/xborder/xborder/policy/irvm"
)

// File is one file of a bundle.
type File struct {
	Path   string `json:"path"` // relative to the policy directory
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Bundle is a compiled policy directory with a prepared query per
// decision point. It is immutable; a reload builds a new one.
type Bundle struct {
	Dir      string
	Hash     string
	Files    []File
	LoadedAt time.Time

	compiler  *ast.Compiler
	store     storage.Store
	queries   map[Point]rego.PreparedEvalQuery
	modules   map[string][]byte // the Rego sources, for the planner
	documents map[string]any    // the data files
	// Decisions run from OPA's plan of the decision points (package irvm)
	// once Plan has made it; until then, for a policy the plan cannot run,
	// and for every evaluation the plan fails, the prepared topdown queries
	// take them.
	planOnce sync.Once
	planned  atomic.Pointer[planned]
	// recent, set by the engine before the bundle decides, keeps the
	// inputs of the last decisions the plan is checked on.
	recent *recentInputs
}

// planned is the outcome of Plan: the program and the entrypoint of each
// point it runs, or why there is none.
type planned struct {
	program *irvm.Program
	points  map[Point]string
	err     string
}

// Evaluator says what takes the bundle's decisions: "plan", "planning" (the
// plan is being made; topdown decides meanwhile) or "topdown: " and why
// the plan cannot.
func (b *Bundle) Evaluator() string {
	p := b.planned.Load()
	switch {
	case p == nil:
		return "planning"
	case p.err != "":
		return "topdown: " + p.err
	}
	return "plan"
}

// isPolicyFile selects what a bundle is made of: Rego modules and JSON data.
func isPolicyFile(path string, withTests bool) bool {
	switch {
	case strings.HasSuffix(path, "_test.rego"):
		return withTests
	case strings.HasSuffix(path, ".rego"), strings.HasSuffix(path, ".json"):
		return true
	}
	return false
}

// listFiles walks dir for the files a bundle (or its tests) is made of.
func listFiles(dir string, withTests bool) ([]string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("policy directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("policy directory %s is not a directory", dir)
	}
	var out []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if isPolicyFile(path, withTests) {
			out = append(out, path)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// hashFiles is the bundle hash: SHA-256 over each file's relative path and
// content hash, in path order, so that renaming a file changes it too.
func hashFiles(dir string, paths []string) (string, []File, error) {
	h := sha256.New()
	files := make([]File, 0, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		sum := sha256.Sum256(raw)
		f := File{Path: rel, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(raw))}
		fmt.Fprintf(h, "%s %s\n", f.Path, f.SHA256)
		files = append(files, f)
	}
	return hex.EncodeToString(h.Sum(nil)), files, nil
}

// compileDir loads and strictly compiles a policy directory with OPA's own
// loader, so that data files land where stock `opa` puts them.
func compileDir(dir string, withTests bool) (*ast.Compiler, *loader.Result, error) {
	paths, err := listFiles(dir, withTests)
	if err != nil {
		return nil, nil, err
	}
	if !slices.ContainsFunc(paths, func(p string) bool { return strings.HasSuffix(p, ".rego") }) {
		return nil, nil, fmt.Errorf("policy directory %s holds no .rego file", dir)
	}
	// Loading the directory itself, not the file list, puts data files at
	// the path stock `opa` gives them (policies/data/x.json -> data.data).
	res, err := loader.NewFileLoader().
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(capabilities).
		Filtered([]string{dir}, func(abspath string, info fs.FileInfo, depth int) bool {
			if info.IsDir() {
				return depth > 0 && strings.HasPrefix(info.Name(), ".")
			}
			return !isPolicyFile(abspath, withTests)
		})
	if err != nil {
		return nil, nil, &CompileError{Dir: dir, Err: err}
	}
	if errs := checkForbiddenModules(res.ParsedModules()); len(errs) > 0 {
		return nil, nil, &CompileError{Dir: dir, Err: errs}
	}
	c := newCompiler()
	c.Compile(res.ParsedModules())
	if c.Failed() {
		return nil, nil, &CompileError{Dir: dir, Err: c.Errors}
	}
	if err := checkDataRefs(c, res.Documents); err != nil {
		return nil, nil, &CompileError{Dir: dir, Err: err}
	}
	return c, res, nil
}

// CompileError is a policy directory that does not load or compile; its
// message names file, line and column of each problem.
type CompileError struct {
	Dir string
	Err error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("policy %s does not compile: %v", e.Dir, e.Err)
}

func (e *CompileError) Unwrap() error { return e.Err }

// Load compiles a policy directory into a bundle ready to decide. Every
// decision point must be defined, but for the optional ones.
func Load(ctx context.Context, dir string) (*Bundle, error) {
	c, res, err := compileDir(dir, false)
	if err != nil {
		return nil, err
	}
	paths, err := listFiles(dir, false)
	if err != nil {
		return nil, err
	}
	hash, files, err := hashFiles(dir, paths)
	if err != nil {
		return nil, err
	}
	b := &Bundle{
		Dir: dir, Hash: hash, Files: files, LoadedAt: time.Now().UTC(),
		compiler: c,
		store:    inmem.NewFromObjectWithOpts(res.Documents, inmem.OptRoundTripOnWrite(false)),
		queries:  make(map[Point]rego.PreparedEvalQuery, len(Points)),
	}
	var missing []string
	for _, p := range Points {
		ref := ast.MustParseRef(string(p))
		if len(c.GetRulesExact(ref)) == 0 {
			if !optional[p] {
				missing = append(missing, string(p))
			}
			continue
		}
		pq, err := rego.New(
			rego.Query(string(p)),
			rego.Compiler(c),
			rego.Capabilities(capabilities),
			rego.Store(b.store),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", p, err)
		}
		b.queries[p] = pq
	}
	if len(missing) > 0 {
		return nil, &CompileError{Dir: dir, Err: fmt.Errorf("the policy does not define %s", strings.Join(missing, ", "))}
	}
	b.modules = make(map[string][]byte, len(res.Modules))
	for name, f := range res.Modules {
		b.modules[name] = f.Raw
	}
	b.documents = res.Documents
	return b, nil
}

// Plan has OPA's planner plan every decision point and prepares the plans
// to run; from then on they take the decisions. It takes a few hundred
// milliseconds, so the engine runs it in the background after a load:
// topdown decides meanwhile. A policy the planner or irvm cannot handle is
// still a good policy: its decisions stay with topdown, as Evaluator says.
// Plan runs once per bundle; later calls wait for the first.
func (b *Bundle) Plan(ctx context.Context) {
	b.planOnce.Do(func() {
		// The bundle's tests are read now: they are not part of its hash,
		// but the plan is checked on them (see dualeval.go).
		tests, testsHash, err := testSources(b.Dir)
		if err != nil {
			tests, testsHash = nil, "unreadable"
		}
		e := plans.entry(b.Hash + " " + testsHash)
		// The plan is shared through the cache: one caller's cancellation
		// must not become every bundle's failure.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		defer cancel()
		e.once.Do(func() { e.planned = b.makePlan(ctx, tests) })
		pl := e.planned
		if pl.err == "" {
			// The last real decisions are this engine's own: they are
			// checked for every bundle, cached plan or not.
			if d, same := b.checkRecent(ctx, pl); !same {
				pl = &planned{err: d.Error()}
			}
		}
		b.planned.Store(pl)
	})
}

// topdownOnly has topdown take every decision of the bundle, for the
// reason given, which Evaluator reports; Plan then plans nothing.
func (b *Bundle) topdownOnly(why string) {
	b.planOnce.Do(func() { b.planned.Store(&planned{err: why}) })
}

// plans keeps the plans of the last few bundles by hash, so that the nodes
// of one process (a test's whole federation) plan the same bundle once,
// and a reload back to a bundle seen before does not plan it again. A
// program is safe for concurrent use, and the hash covers every file.
var plans = planCache{max: 8}

type planCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*planEntry
	order   []string // oldest first
}

type planEntry struct {
	once    sync.Once
	planned *planned
}

func (c *planCache) entry(hash string) *planEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[hash]; ok {
		return e
	}
	if c.entries == nil {
		c.entries = map[string]*planEntry{}
	}
	if len(c.order) == c.max {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	e := &planEntry{}
	c.entries[hash] = e
	c.order = append(c.order, hash)
	return e
}

// makePlan plans every decision point of the bundle and refuses the plan
// unless it decides as topdown does on the inputs of the bundle's tests.
func (b *Bundle) makePlan(ctx context.Context, tests map[string][]byte) *planned {
	out := b.planProgram(ctx)
	if out.err != "" {
		return out
	}
	_, diffs, err := b.checkTests(ctx, out, tests)
	switch {
	case len(diffs) > 0:
		return &planned{err: diffs[0].Error()}
	case err != nil:
		// Unchecked is refused: topdown is the reference.
		return &planned{err: "the plan is not checked against the tests: " + err.Error()}
	}
	return out
}

// planProgram plans every decision point of the bundle.
func (b *Bundle) planProgram(ctx context.Context) *planned {
	var points []Point // those the bundle defines
	var entrypoints []string
	for _, p := range Points {
		if _, ok := b.queries[p]; ok {
			points = append(points, p)
			entrypoints = append(entrypoints, p.entrypoint())
		}
	}
	out := &planned{}
	pol, err := irvm.Plan(ctx, b.modules, entrypoints...)
	if err == nil {
		var data ast.Value
		data, err = ast.InterfaceToValue(b.documents)
		if err == nil {
			out.program, err = irvm.Compile(pol, data)
		}
	}
	if err != nil {
		out.err = err.Error()
		return out
	}
	out.points = make(map[Point]string, len(points))
	for i, p := range points {
		out.points[p] = entrypoints[i]
	}
	return out
}

// entrypoint is the point as the planner names it: data.xborder.api.allow
// is xborder/api/allow.
func (p Point) entrypoint() string {
	return strings.ReplaceAll(strings.TrimPrefix(string(p), "data."), ".", "/")
}

// eval evaluates one decision point on an input: with the planned program
// when there is one, else (and whenever the program fails) with topdown,
// whose error messages name the policy's file and line.
func (b *Bundle) eval(ctx context.Context, p Point, input any) (ast.Value, error) {
	pq, ok := b.queries[p]
	if !ok {
		return nil, fmt.Errorf("unknown decision point %s", p)
	}
	in, err := toValue(input)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", p, err)
	}
	b.recent.add(p, in)
	if pl := b.planned.Load(); pl != nil && pl.program != nil {
		rs, err := pl.program.Eval(ctx, pl.points[p], ast.NewTerm(in))
		if err == nil {
			return planResult(p, rs)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("evaluate %s: %w", p, ctx.Err())
		}
		// Fall through: topdown says what went wrong, with its location.
	}
	return b.evalTopdown(ctx, p, pq, in)
}

// planResult reads a plan's result set: one {"result": value}, or none when
// the decision point is undefined for the input.
func planResult(p Point, rs []*ast.Term) (ast.Value, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	obj, ok := rs[0].Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	v := obj.Get(resultKey)
	if v == nil {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	return v.Value, nil
}

var resultKey = ast.StringTerm("result")

// evalTopdown evaluates a decision point with OPA's topdown evaluator.
func (b *Bundle) evalTopdown(ctx context.Context, p Point, pq rego.PreparedEvalQuery, in ast.Value) (ast.Value, error) {
	vc := getRuleCache()
	defer putRuleCache(vc)
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(in),
		rego.EvalMetrics(noMetrics),
		rego.EvalVirtualCache(vc),
		rego.EvalGenerateJSON(keepTerm))
	if err != nil {
		if ctx.Err() != nil { // topdown was cancelled: say by what
			return nil, fmt.Errorf("evaluate %s: %w", p, ctx.Err())
		}
		return nil, fmt.Errorf("evaluate %s: %w", p, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	return t.Value, nil
}

// decide evaluates a decision point whose value is a decision object.
func (b *Bundle) decide(ctx context.Context, p Point, input any) (Decision, error) {
	v, err := b.eval(ctx, p, input)
	if err != nil {
		return Decision{Bundle: b.Hash}, err
	}
	d, err := decodeDecision(p, v)
	d.Bundle = b.Hash
	return d, err
}

// Defines reports whether the bundle defines decision point p (only an
// optional point may be missing).
func (b *Bundle) Defines(p Point) bool {
	_, ok := b.queries[p]
	return ok
}

// boolean evaluates a decision point whose value is a boolean.
func (b *Bundle) boolean(ctx context.Context, p Point, input any) (bool, error) {
	v, err := b.eval(ctx, p, input)
	if err != nil {
		return false, err
	}
	allow, ok := v.(ast.Boolean)
	if !ok {
		return false, &ShapeError{Point: p, Field: "the value", Want: "a boolean", Got: asJSON(v)}
	}
	return bool(allow), nil
}

// asJSON is a value as a Go value, for error messages.
func asJSON(v ast.Value) any {
	if v == nil {
		return nil
	}
	x, err := ast.JSON(v)
	if err != nil {
		return v.String()
	}
	return x
}

// decodeDecision checks the shape of a decision object field by field.
func decodeDecision(p Point, v ast.Value) (Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Decision{}, &ShapeError{Point: p, Field: "the decision", Want: "an object", Got: asJSON(v)}
	}
	get := func(field string) ast.Value {
		if t := obj.Get(ast.StringTerm(field)); t != nil {
			return t.Value
		}
		return nil
	}
	var d Decision
	allow, ok := get("allow").(ast.Boolean)
	if !ok {
		return Decision{}, &ShapeError{Point: p, Field: "allow", Want: "a boolean", Got: asJSON(get("allow"))}
	}
	d.Allow = bool(allow)
	strs := func(field string) ([]string, error) {
		raw := get(field)
		if raw == nil {
			return []string{}, nil
		}
		list, ok := raw.(*ast.Array)
		if !ok {
			return nil, &ShapeError{Point: p, Field: field, Want: "an array of strings", Got: asJSON(raw)}
		}
		out := make([]string, 0, list.Len())
		for i := range list.Len() {
			s, ok := list.Elem(i).Value.(ast.String)
			if !ok {
				return nil, &ShapeError{Point: p, Field: field, Want: "an array of strings", Got: asJSON(raw)}
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	var err error
	if d.Reasons, err = strs("reasons"); err != nil {
		return Decision{}, err
	}
	if d.Rules, err = strs("rules"); err != nil {
		return Decision{}, err
	}
	if d.Obligations, err = strs("obligations"); err != nil {
		return Decision{}, err
	}
	if raw := get("agreement"); raw != nil {
		a, ok := raw.(ast.String)
		if !ok {
			return Decision{}, &ShapeError{Point: p, Field: "agreement", Want: "a string", Got: asJSON(raw)}
		}
		d.Agreement = string(a)
	}
	if raw := get("max_validity_s"); raw != nil {
		n, ok := asSeconds(raw)
		if !ok {
			return Decision{}, &ShapeError{Point: p, Field: "max_validity_s", Want: "a non-negative number", Got: asJSON(raw)}
		}
		d.MaxValiditySeconds = n
		d.MaxValidity = time.Duration(n) * time.Second
	}
	return d, nil
}

// asSeconds accepts a non-negative number, truncated to whole seconds.
func asSeconds(v ast.Value) (int64, bool) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, false
	}
	f, ok := n.Float64()
	if !ok || f < 0 {
		return 0, false
	}
	return int64(f), true
}

var errNotObject = errors.New("the input must be a JSON object")

// checkDataRefs refuses a bundle whose modules read base documents (data
// files) that no file provides: without it a missing data/*.json would
// silently turn every decision that needs it into a denial.
func checkDataRefs(c *ast.Compiler, docs map[string]any) error {
	var errs ast.Errors
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		ast.WalkRefs(c.Modules[name], func(r ast.Ref) bool {
			if !r.HasPrefix(ast.DefaultRootRef) {
				return false
			}
			prefix := r.GroundPrefix()
			if len(prefix) < 2 || len(c.GetRulesWithPrefix(prefix)) > 0 || len(c.GetRulesForVirtualDocument(prefix)) > 0 {
				return false
			}
			if !hasDocument(docs, prefix[1:]) {
				loc := r[0].Location
				errs = append(errs, ast.NewError(ast.CompileErr, loc,
					"%v refers to %v, but no data file provides it (add it under data/ in the policy directory)", prefix, prefix))
			}
			return false
		})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// hasDocument reports whether the path (string keys only) exists in docs.
func hasDocument(docs map[string]any, path ast.Ref) bool {
	var cur any = docs
	for _, t := range path {
		key, ok := t.Value.(ast.String)
		if !ok {
			return true // an array index or a non-string key: cannot check statically
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = obj[string(key)]; !ok {
			return false
		}
	}
	return true
}
