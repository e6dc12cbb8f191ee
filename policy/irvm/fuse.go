package irvm

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// The planner writes every array and object literal of the policy, such as
// the arguments of a sprintf or a refusal {"rule": ..., "reason": ...}, as
// a Make statement followed by one append or insert per element. Run as
// written, each append copies the array and each insert may grow the
// object; fuse turns such a run into one statement that builds the
// collection at once. Nothing else changes: the elements are the same
// operands, read at the same point.

// makeArrayOf builds the array of its operands' values.
type makeArrayOf struct {
	Values []ir.Operand
	Target ir.Local
	ir.Location
}

// makeObjectOf builds the object of its keys' and values' operands.
type makeObjectOf struct {
	Keys, Values []ir.Operand
	Target       ir.Local
	ir.Location
}

// fuse rewrites the runs in every block of the policy.
func fuse(pol *ir.Policy) {
	_ = ir.Walk(visitor(func(x any) {
		if b, ok := x.(*ir.Block); ok {
			b.Stmts = fuseBlock(b.Stmts)
		}
	}), pol)
}

func fuseBlock(stmts []ir.Stmt) []ir.Stmt {
	out := stmts[:0:0]
	for i := 0; i < len(stmts); i++ {
		switch s := stmts[i].(type) {
		case *ir.MakeArrayStmt:
			var values []ir.Operand
			j := i + 1
			for ; j < len(stmts); j++ {
				a, ok := stmts[j].(*ir.ArrayAppendStmt)
				if !ok || a.Array != s.Target || readsLocal(a.Value, s.Target) {
					break
				}
				values = append(values, a.Value)
			}
			if len(values) > 0 {
				out = append(out, &makeArrayOf{Values: values, Target: s.Target, Location: s.Location})
				i = j - 1
				continue
			}
		case *ir.MakeObjectStmt:
			var keys, values []ir.Operand
			j := i + 1
			for ; j < len(stmts); j++ {
				o, ok := stmts[j].(*ir.ObjectInsertStmt)
				if !ok || o.Object != s.Target || readsLocal(o.Key, s.Target) || readsLocal(o.Value, s.Target) {
					break
				}
				keys, values = append(keys, o.Key), append(values, o.Value)
			}
			if len(keys) > 0 {
				out = append(out, &makeObjectOf{Keys: keys, Values: values, Target: s.Target, Location: s.Location})
				i = j - 1
				continue
			}
		}
		out = append(out, stmts[i])
	}
	return out
}

func readsLocal(o ir.Operand, l ir.Local) bool {
	v, ok := o.Value.(ir.Local)
	return ok && v == l
}

// arrayOf and objectOf run the fused statements.
func (s *state) arrayOf(st *makeArrayOf, locals []*ast.Term) (*ast.Term, bool) {
	terms := make([]*ast.Term, len(st.Values))
	for i, o := range st.Values {
		if terms[i] = s.operand(o, locals); terms[i] == nil {
			return nil, false
		}
	}
	return ast.NewTerm(ast.NewArray(terms...)), true
}

func (s *state) objectOf(st *makeObjectOf, locals []*ast.Term) (*ast.Term, bool) {
	items := make([][2]*ast.Term, len(st.Keys))
	for i := range st.Keys {
		k, v := s.operand(st.Keys[i], locals), s.operand(st.Values[i], locals)
		if k == nil || v == nil {
			return nil, false
		}
		items[i] = [2]*ast.Term{k, v}
	}
	return ast.NewTerm(ast.NewObject(items...)), true
}

// resolvedCall is a call statement with what it calls looked up once.
type resolvedCall struct {
	*ir.CallStmt
	callee callee
}

// resolveCalls replaces the call statements of the policy's blocks.
func resolveCalls(pol *ir.Policy, calls map[*ir.CallStmt]callee) {
	_ = ir.Walk(visitor(func(x any) {
		b, ok := x.(*ir.Block)
		if !ok {
			return
		}
		for i, st := range b.Stmts {
			if c, ok := st.(*ir.CallStmt); ok {
				b.Stmts[i] = &resolvedCall{CallStmt: c, callee: calls[c]}
			}
		}
	}), pol)
}
