package irvm

import (
	"errors"
	"reflect"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/util"
)

// Topdown reads a reference into the base document (data.x[2], data.a[k])
// from its store, by a path of strings: a number key finds the object key
// that is its text ("2"), and an array element is found by the text of its
// index. The same lookup on a value bound to a variable (o := data.x; o[2])
// finds no such key. dataDot is a DotStmt of such a reference chain whose
// key is not a string constant: it looks up as the store does.
type dataDot struct {
	*ir.DotStmt
}

// storeKey looks key up in src as topdown's store does, when the plain
// lookup found nothing.
func storeKey(src ast.Value, key *ast.Term) *ast.Term {
	switch c := src.(type) {
	case ast.Object:
		if n, ok := key.Value.(ast.Number); ok {
			return c.Get(ast.StringTerm(n.String()))
		}
	case *ast.Array:
		if s, ok := key.Value.(ast.String); ok {
			i, ok := util.Atoi(string(s))
			if !ok || i < 0 || i >= c.Len() {
				return nil
			}
			return c.Elem(i)
		}
	}
	return nil
}

// markDataDots rewrites, in every function and plan, the DotStmts that walk
// down the base document from data with a key that is not a string
// constant. A local is on such a chain when its only writers are DotStmts
// whose source is data or another local on the chain.
//
// Under `with data... as`, topdown looks the replaced value up plainly (a
// number finds no key "2"), and the planner hands the replaced data to the
// functions a body calls as their data. A function cannot tell which data
// it was given, so a policy that both replaces data somewhere and reads
// data with computed keys is refused (errDataDotUnderWith): topdown decides
// it.
func markDataDots(pol *ir.Policy) error {
	var bodies [][]*ir.Block
	if pol.Funcs != nil {
		for _, f := range pol.Funcs.Funcs {
			bodies = append(bodies, f.Blocks)
		}
	}
	if pol.Plans != nil {
		for _, p := range pol.Plans.Plans {
			bodies = append(bodies, p.Blocks)
		}
	}
	replaced := false
	for _, blocks := range bodies {
		replaced = replaced || writesData(blocks)
	}
	marked := 0
	for _, blocks := range bodies {
		marked += markBody(blocks, !replaced)
	}
	if replaced && marked > 0 {
		return errDataDotUnderWith
	}
	return nil
}

var errDataDotUnderWith = errors.New("the policy replaces data with `with` and reads data with computed keys, which the plan cannot look up as topdown does under `with`")

// writesData reports whether a body replaces data (a `with data...`).
func writesData(blocks []*ir.Block) bool {
	found := false
	for _, b := range blocks {
		_ = ir.Walk(visitor(func(x any) {
			if _, ok := x.(ir.Stmt); ok && slices.Contains(writtenLocals(x), ir.Data) {
				found = true
			}
		}), b)
	}
	return found
}

// markBody marks (when rewrite) the data-chain DotStmts of one body and
// returns how many there are.
func markBody(blocks []*ir.Block, rewrite bool) int {
	var dots []*ir.DotStmt
	otherWrites := map[ir.Local]bool{ir.Data: false}
	for _, b := range blocks {
		_ = ir.Walk(visitor(func(x any) {
			if d, ok := x.(*ir.DotStmt); ok {
				dots = append(dots, d)
				return
			}
			if _, ok := x.(ir.Stmt); ok {
				for _, l := range writtenLocals(x) {
					otherWrites[l] = true
				}
			}
		}), b)
	}
	if otherWrites[ir.Data] {
		return 0 // data is replaced (with): leave this body as it is
	}
	chain := map[ir.Local]bool{ir.Data: true}
	fromChain := func(d *ir.DotStmt) bool {
		l, ok := d.Source.Value.(ir.Local)
		return ok && chain[l]
	}
	for changed := true; changed; {
		changed = false
		for _, d := range dots {
			if chain[d.Target] || otherWrites[d.Target] || !fromChain(d) {
				continue
			}
			all := true
			for _, o := range dots {
				if o.Target == d.Target && !fromChain(o) {
					all = false
					break
				}
			}
			if all {
				chain[d.Target] = true
				changed = true
			}
		}
	}
	marked := 0
	for _, b := range blocks {
		_ = ir.Walk(visitor(func(x any) {
			blk, ok := x.(*ir.Block)
			if !ok {
				return
			}
			for i, st := range blk.Stmts {
				d, ok := st.(*ir.DotStmt)
				if !ok || !fromChain(d) {
					continue
				}
				if _, ok := d.Key.Value.(ir.StringIndex); ok {
					continue
				}
				marked++
				if rewrite {
					blk.Stmts[i] = &dataDot{DotStmt: d}
				}
			}
		}), b)
	}
	return marked
}

// writeFields are the fields by which a statement sets or changes a local.
var writeFields = map[string]bool{
	"Target": true, "Result": true, "Local": true, "Key": true, "Value": true,
	"Array": true, "Object": true, "Set": true,
}

// writtenLocals are the locals a statement (not a DotStmt) sets or changes.
func writtenLocals(x any) []ir.Local {
	v := reflect.ValueOf(x)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	var out []ir.Local
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !writeFields[f.Name] {
			continue
		}
		if l, ok := v.Field(i).Interface().(ir.Local); ok {
			out = append(out, l)
		}
	}
	return out
}
