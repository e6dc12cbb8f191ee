package irvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"
	"github.com/open-policy-agent/opa/v1/ir"
)

// Plan asks OPA's planner (the front half of `opa build -t plan`) for the
// plans of entrypoints such as "xborder/exchange/decision", from the source
// of the policy's modules (path → Rego v1 text, tests left out).
func Plan(ctx context.Context, modules map[string][]byte, entrypoints ...string) (*ir.Policy, error) {
	if len(entrypoints) == 0 {
		return nil, errors.New("irvm: no entrypoint to plan")
	}
	paths := make([]string, 0, len(modules))
	for p := range modules {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	b := &bundle.Bundle{Data: map[string]any{}}
	for _, p := range paths {
		m, err := ast.ParseModuleWithOpts(p, string(modules[p]), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, err
		}
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: p, Path: p, Raw: modules[p], Parsed: m})
	}
	c := compile.New().
		WithTarget(compile.TargetPlan).
		WithRegoVersion(ast.RegoV1).
		WithPruneUnused(true).
		WithEntrypoints(entrypoints...).
		WithBundle(b)
	if err := c.Build(ctx); err != nil {
		return nil, fmt.Errorf("irvm: plan: %w", err)
	}
	out := c.Bundle()
	if len(out.PlanModules) != 1 {
		return nil, fmt.Errorf("irvm: the planner made %d plan files, want 1", len(out.PlanModules))
	}
	var pol ir.Policy
	if err := json.Unmarshal(out.PlanModules[0].Raw, &pol); err != nil {
		return nil, fmt.Errorf("irvm: read the plan: %w", err)
	}
	normalise(&pol)
	return &pol, nil
}

// normalise turns the operand values the JSON decoder makes (*ir.Local,
// *ir.StringIndex, *ir.Bool) into the values the planner makes (ir.Local,
// ...), which is what Compile and Eval read.
func normalise(pol *ir.Policy) {
	fix := func(o *ir.Operand) {
		switch v := o.Value.(type) {
		case *ir.Local:
			o.Value = *v
		case *ir.StringIndex:
			o.Value = *v
		case *ir.Bool:
			o.Value = *v
		}
	}
	operand := reflect.TypeFor[ir.Operand]()
	_ = ir.Walk(visitor(func(x any) {
		if _, ok := x.(ir.Stmt); !ok {
			return
		}
		v := reflect.ValueOf(x)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return
		}
		v = v.Elem()
		for i := range v.NumField() {
			f := v.Field(i)
			switch {
			case f.Type() == operand:
				fix(f.Addr().Interface().(*ir.Operand))
			case f.Kind() == reflect.Slice && f.Type().Elem() == operand:
				for j := range f.Len() {
					fix(f.Index(j).Addr().Interface().(*ir.Operand))
				}
			}
		}
	}), pol)
}
