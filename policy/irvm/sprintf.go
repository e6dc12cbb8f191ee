package irvm

import (
	"errors"
	"reflect"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// Every reason sentence of a policy is sprintf(format, [args...]): the
// planner makes the argument array (makeArrayOf, once fused) and calls
// sprintf with it on the next line. When nothing can read that array
// afterwards, fuseSprintf joins the two into sprintfOf, which writes the
// sentence straight from the arguments without making the array.
//
// The planner reuses a function's locals across its blocks, so "nothing can
// read it" is decided on the function's statements in order: a statement
// after the call (or before it in an enclosing scan body, which the next
// iteration runs) that reads the local must be preceded by a statement
// that writes it and that always runs before the reader: one earlier in
// the same block or in a block around the reader. In the planner's
// structured blocks, whatever reaches a statement went through every
// earlier statement of each block around it.

// sprintfOf is sprintf(Format, [Values...]).
type sprintfOf struct {
	Format ir.Operand
	Values []ir.Operand
	Result ir.Local
	ir.Location
}

// fuseSprintf rewrites the pairs of every function and plan.
func fuseSprintf(pol *ir.Policy) {
	if pol.Funcs != nil {
		for _, f := range pol.Funcs.Funcs {
			fuseSprintfIn(f.Blocks)
		}
	}
	if pol.Plans != nil {
		for _, p := range pol.Plans.Plans {
			fuseSprintfIn(p.Blocks)
		}
	}
}

// stmtAt is a statement of a function in pre-order, with its block and
// the scan bodies around it.
type stmtAt struct {
	stmt  ir.Stmt
	block *ir.Block
	index int        // in block.Stmts
	scans []scanSpan // enclosing scan bodies, innermost last
	path  []place    // the statements that contain it, outermost first, and itself
}

type place struct {
	block *ir.Block
	index int
}

// dominates says whether w always runs before q: w is in a block that
// contains q, before the statement of that block that holds q.
func (w stmtAt) dominates(q stmtAt) bool {
	d := len(w.path) - 1
	if len(q.path) <= d {
		return false
	}
	for i := range d {
		if w.path[i] != q.path[i] {
			return false
		}
	}
	return q.path[d].block == w.block && q.path[d].index > w.index
}

type scanSpan struct{ from, to int } // positions of the body's statements

func fuseSprintfIn(blocks []*ir.Block) {
	var order []stmtAt
	var scans []scanSpan
	var path []place
	var walk func(b *ir.Block)
	walk = func(b *ir.Block) {
		for i, st := range b.Stmts {
			path = append(path, place{b, i})
			order = append(order, stmtAt{stmt: st, block: b, index: i, scans: append([]scanSpan(nil), scans...),
				path: append([]place(nil), path...)})
			switch x := st.(type) {
			case *ir.BlockStmt:
				for _, inner := range x.Blocks {
					walk(inner)
				}
			case *ir.NotStmt:
				walk(x.Block)
			case *ir.WithStmt:
				walk(x.Block)
			case *ir.ScanStmt:
				scans = append(scans, scanSpan{from: len(order)})
				walk(x.Block)
				scans[len(scans)-1].to = len(order)
				// Fix the span in what was recorded inside the body.
				for j := scans[len(scans)-1].from; j < len(order); j++ {
					order[j].scans[len(scans)-1] = scans[len(scans)-1]
				}
				scans = scans[:len(scans)-1]
			}
			path = path[:len(path)-1]
		}
	}
	for _, b := range blocks {
		walk(b)
	}

	// The pairs: makeArrayOf t at p, sprintf(format, t) at p+1, same block.
	pairRead := map[int]bool{} // positions of the sprintf calls of pairs
	var pairs []int
	for p := 0; p+1 < len(order); p++ {
		a, ok1 := order[p].stmt.(*makeArrayOf)
		c, ok2 := order[p+1].stmt.(*ir.CallStmt)
		if ok1 && ok2 && order[p].block == order[p+1].block && order[p+1].index == order[p].index+1 &&
			c.Func == "sprintf" && len(c.Args) == 2 && readsLocal(c.Args[1], a.Target) && !readsLocal(c.Args[0], a.Target) {
			pairs = append(pairs, p)
			pairRead[p+1] = true
		}
	}
	var fuse []int
	for _, p := range pairs {
		t := order[p].stmt.(*makeArrayOf).Target
		live := false
		for q, at := range order {
			if q == p+1 || pairRead[q] && readsLocal(at.stmt.(*ir.CallStmt).Args[1], t) || !reads(at.stmt, t) {
				continue
			}
			// Where the reader's value can come from: after the pair, or,
			// in a scan around the pair, from the start of its body.
			from := -1
			switch {
			case q > p+1:
				from = p + 2
			default:
				for _, sc := range order[p].scans {
					if sc.from <= q && q < sc.to {
						from = sc.from
						break
					}
				}
			}
			if from < 0 {
				continue // before the pair, outside any loop around it
			}
			if !writtenBefore(order, t, from, q) {
				live = true
				break
			}
		}
		if !live {
			fuse = append(fuse, p)
		}
	}
	// Replace back to front so that the indexes in each block stay valid.
	for i := len(fuse) - 1; i >= 0; i-- {
		at := order[fuse[i]]
		a := at.stmt.(*makeArrayOf)
		c := order[fuse[i]+1].stmt.(*ir.CallStmt)
		f := &sprintfOf{Format: c.Args[0], Values: a.Values, Result: c.Result, Location: c.Location}
		at.block.Stmts = append(at.block.Stmts[:at.index], append([]ir.Stmt{f}, at.block.Stmts[at.index+2:]...)...)
	}
}

// writtenBefore says whether a statement between positions from and q
// writes t and always runs before the statement at q.
func writtenBefore(order []stmtAt, t ir.Local, from, q int) bool {
	for w := from; w < q; w++ {
		// dominates first: it compares a few pointers, where writes and
		// reads look into the statement by reflection.
		if order[w].dominates(order[q]) && writes(order[w].stmt, t) && !reads(order[w].stmt, t) {
			return true
		}
	}
	return false
}

// writes says whether a statement sets local t as its target or result.
func writes(st ir.Stmt, t ir.Local) bool {
	v := reflect.ValueOf(st)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	v = v.Elem()
	for _, i := range localWrites(v.Type()) {
		if ir.Local(v.FieldByIndex(i).Int()) == t {
			return true
		}
	}
	return false
}

// writeFieldsOf caches, per statement type, the indexes of its Target and
// Result fields of type ir.Local: looking them up by name for every
// statement took about a third of the time a plan is made in.
var writeFieldsOf sync.Map // reflect.Type -> [][]int

func localWrites(typ reflect.Type) [][]int {
	if v, ok := writeFieldsOf.Load(typ); ok {
		return v.([][]int)
	}
	var idx [][]int
	for _, name := range []string{"Target", "Result"} {
		if f, ok := typ.FieldByName(name); ok && f.Type == localType {
			idx = append(idx, f.Index)
		}
	}
	writeFieldsOf.Store(typ, idx)
	return idx
}

var (
	localType   = reflect.TypeFor[ir.Local]()
	operandType = reflect.TypeFor[ir.Operand]()
)

// reads says whether a statement may read local t: every mention of it
// counts, but for the targets of statements that only write them.
func reads(st ir.Stmt, t ir.Local) bool {
	v := reflect.ValueOf(st)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return true
	}
	v = v.Elem()
	writeOnly := func(name string) bool {
		switch st.(type) {
		case *ir.ScanStmt:
			return name == "Key" || name == "Value"
		case *ir.AssignVarOnceStmt, *ir.WithStmt:
			return false
		}
		return name == "Target" || name == "Result"
	}
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case f.Type() == localType:
			if ir.Local(f.Int()) == t && !writeOnly(name) {
				return true
			}
		case f.Type() == operandType:
			if readsLocal(f.Interface().(ir.Operand), t) {
				return true
			}
		case f.Kind() == reflect.Slice && f.Type().Elem() == localType:
			for j := range f.Len() {
				if ir.Local(f.Index(j).Int()) == t {
					return true
				}
			}
		case f.Kind() == reflect.Slice && f.Type().Elem() == operandType:
			for j := range f.Len() {
				if readsLocal(f.Index(j).Interface().(ir.Operand), t) {
					return true
				}
			}
		}
	}
	return false
}

// sprintf runs a fused sprintf: written here when sprintfText applies, else
// the argument array is made and OPA's sprintf called, as without fusion.
func (s *state) sprintf(st *sprintfOf, locals []*ast.Term) (*ast.Term, error) {
	format := s.operand(st.Format, locals)
	if format == nil {
		return nil, nil
	}
	if f, ok := format.Value.(ast.String); ok {
		if v, ok := sprintfText(string(f), len(st.Values), func(i int) *ast.Term { return s.operand(st.Values[i], locals) }); ok {
			return v, nil
		}
	}
	arr, ok := s.arrayOf(&makeArrayOf{Values: st.Values}, locals)
	if !ok {
		return nil, errors.New("irvm: array of an undefined value")
	}
	s.result = nil
	if err := s.prog.sprintf(*s.builtinContext(), []*ast.Term{format, arr}, s.onResult); err != nil {
		return nil, err
	}
	v := s.result
	s.result = nil
	return v, nil
}
