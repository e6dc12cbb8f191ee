package policy

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

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
