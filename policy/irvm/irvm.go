// Package irvm evaluates Rego policies from the plan OPA's own planner makes
// of them: the intermediate representation (package ir) that OPA compiles to
// WebAssembly. Running the plan directly, with values in OPA's ast form and
// OPA's own built-in functions, costs a fraction of OPA's tree-walking
// evaluator (topdown) for the same decision, because the planner has already
// resolved every reference, rule index and variable binding that topdown
// works out again on each evaluation.
//
// The semantics are those of OPA's WebAssembly compiler
// (internal/compiler/wasm), statement for statement: an undefined statement
// leaves its block, a break leaves as many enclosing blocks as it says, a rule
// function that takes only input and data is evaluated once per evaluation
// (memoised; a with statement opens a fresh memo), conflicts are errors, a
// relation built-in (walk) gives the array of all its outputs. Where topdown
// differs from OPA's WebAssembly, topdown wins: a reference into the base
// document looks keys up as topdown's store does (data.x[2] finds key "2").
// OPA's conformance suite runs through Plan, Compile and Eval in this
// package's tests with no wrong answer.
//
// A Program refuses, at Compile time, a plan it cannot run (a statement or a
// built-in function it does not know): the caller then keeps using topdown.
// An evaluation error carries no location; the caller is expected to repeat
// the evaluation with topdown to report OPA's own error message.
//
// An evaluation stops when its context is done: every loop iteration and
// function call is counted, and every 1024th reads the context, so a
// policy that loops for too long returns the context's error instead of
// running on after its caller has given up. A single built-in call is not
// interrupted.
package irvm

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
)

// ErrConflict is a rule with two different values for one input, or an
// object built with two values for one key.
var ErrConflict = errors.New("conflicting values")

// ErrInternal is a fault of this evaluator, caught: the evaluation's answer
// must come from elsewhere.
var ErrInternal = errors.New("irvm: internal error")

// Program is a planned policy ready to evaluate. It is safe for concurrent
// use: every evaluation has its own state.
type Program struct {
	strings  []*ast.Term
	numbers  []*ast.Term // MakeNumberRefStmt constants, by string index
	funcs    map[string]*function
	byPath   map[string]*function // CallDynamicStmt targets, by joined path
	nfuncs   int
	builtins map[string]builtin
	plans    map[string]*plan
	data     *ast.Term

	sprintf   topdown.BuiltinFunc // OPA's, for the fused sprintf calls sprintfText does not write
	stackSize int                 // locals of all functions and the largest plan
	states    sync.Pool           // of *state, reused between evaluations
}

// callee is what a call statement calls: a planned function or a built-in.
type callee struct {
	fn *function
	bi *builtin
}

type function struct {
	index   int
	fn      *ir.Func
	memo    bool // takes only input and data
	nlocals int
}

type plan struct {
	p       *ir.Plan
	nlocals int
}

// builtin is one of OPA's built-in functions, or a faster equivalent for the
// few that every decision calls many times.
type builtin struct {
	fast     func(args []*ast.Term) (*ast.Term, bool)
	opa      topdown.BuiltinFunc
	relation bool // every output is kept, in an array, in the order OPA gives them
}

// Compile prepares a planned policy; data is the base document the policy
// reads under data (its JSON files). It fails on a plan it cannot run. It
// rewrites the plan's blocks in place (fused statements, resolved calls:
// see fuse.go and sprintf.go), so a plan is compiled once.
func Compile(pol *ir.Policy, data ast.Value) (*Program, error) {
	p := &Program{
		funcs:    map[string]*function{},
		byPath:   map[string]*function{},
		builtins: map[string]builtin{},
		plans:    map[string]*plan{},
		data:     ast.NewTerm(data),
	}
	if pol.Static != nil {
		p.strings = make([]*ast.Term, len(pol.Static.Strings))
		p.numbers = make([]*ast.Term, len(pol.Static.Strings))
		for i, s := range pol.Static.Strings {
			p.strings[i] = ast.StringTerm(s.Value)
			if _, err := strconv.ParseFloat(s.Value, 64); err == nil {
				p.numbers[i] = ast.NumberTerm(json.Number(s.Value))
			}
		}
		for _, b := range pol.Static.BuiltinFuncs {
			bi, err := lookupBuiltin(b.Name)
			if err != nil {
				return nil, err
			}
			p.builtins[b.Name] = bi
		}
	}
	if pol.Funcs != nil {
		for i, f := range pol.Funcs.Funcs {
			if len(f.Params) < 2 {
				return nil, fmt.Errorf("irvm: function %s takes %d parameters, want at least input and data", f.Name, len(f.Params))
			}
			fn := &function{index: i, fn: f, memo: len(f.Params) == 2}
			n, err := p.check(f)
			if err != nil {
				return nil, fmt.Errorf("irvm: function %s: %w", f.Name, err)
			}
			fn.nlocals = n
			p.funcs[f.Name] = fn
			if len(f.Path) > 0 {
				p.byPath[joinPath(f.Path)] = fn
			}
		}
		p.nfuncs = len(pol.Funcs.Funcs)
	}
	if pol.Plans != nil {
		for _, pl := range pol.Plans.Plans {
			n, err := p.check(pl)
			if err != nil {
				return nil, fmt.Errorf("irvm: plan %s: %w", pl.Name, err)
			}
			p.plans[pl.Name] = &plan{p: pl, nlocals: n}
		}
	}
	if err := markDataDots(pol); err != nil {
		return nil, fmt.Errorf("irvm: %w", err)
	}
	fuse(pol)
	fuseSprintf(pol)
	p.sprintf = topdown.GetBuiltin("sprintf")
	// Resolve every call now; a call to a name that is neither a planned
	// function nor a built-in would only fail at evaluation time.
	calls := map[*ir.CallStmt]callee{}
	var unknown error
	_ = ir.Walk(visitor(func(x any) {
		c, ok := x.(*ir.CallStmt)
		if !ok || unknown != nil {
			return
		}
		if fn, ok := p.funcs[c.Func]; ok {
			calls[c] = callee{fn: fn}
			return
		}
		if bi, ok := p.builtins[c.Func]; ok {
			calls[c] = callee{bi: &bi}
			return
		}
		unknown = fmt.Errorf("irvm: call to unknown function %s", c.Func)
	}), pol)
	if unknown != nil {
		return nil, unknown
	}
	resolveCalls(pol, calls)
	// Rego has no recursion, so no function is on the call stack twice: the
	// locals of all functions and of the largest plan always fit.
	largest := 0
	for _, pl := range p.plans {
		largest = max(largest, pl.nlocals)
	}
	p.stackSize = largest
	for _, fn := range p.funcs {
		p.stackSize += fn.nlocals
	}
	p.states.New = func() any { return p.newState() }
	return p, nil
}

// check finds the number of locals a function or plan uses and refuses
// statements this package does not run.
func (p *Program) check(x any) (int, error) {
	maxLocal := ir.Local(1)
	see := func(l ir.Local) {
		if l > maxLocal {
			maxLocal = l
		}
	}
	var bad error
	operands := func(ops ...ir.Operand) {
		for _, o := range ops {
			switch v := o.Value.(type) {
			case ir.Local:
				see(v)
			case ir.StringIndex:
				if int(v) < 0 || int(v) >= len(p.strings) {
					bad = fmt.Errorf("string constant %d of %d", v, len(p.strings))
				}
			case ir.Bool:
			default:
				bad = fmt.Errorf("operand %T is not supported", v)
			}
		}
	}
	err := ir.Walk(visitor(func(x any) {
		switch s := x.(type) {
		case *ir.Func:
			for _, l := range s.Params {
				see(l)
			}
			see(s.Return)
		case *ir.ReturnLocalStmt:
			see(s.Source)
		case *ir.CallStmt:
			see(s.Result)
			operands(s.Args...)
		case *ir.CallDynamicStmt:
			see(s.Result)
			operands(s.Path...)
			for _, l := range s.Args {
				see(l)
			}
		case *ir.DotStmt:
			see(s.Target)
			operands(s.Source, s.Key)
		case *ir.LenStmt:
			see(s.Target)
			operands(s.Source)
		case *ir.ScanStmt:
			see(s.Source)
			see(s.Key)
			see(s.Value)
		case *ir.AssignIntStmt:
			see(s.Target)
		case *ir.AssignVarStmt:
			see(s.Target)
			operands(s.Source)
		case *ir.AssignVarOnceStmt:
			see(s.Target)
			operands(s.Source)
		case *ir.ResetLocalStmt:
			see(s.Target)
		case *ir.MakeNullStmt:
			see(s.Target)
		case *ir.MakeNumberIntStmt:
			see(s.Target)
		case *ir.MakeNumberRefStmt:
			see(s.Target)
			if s.Index < 0 || s.Index >= len(p.numbers) || p.numbers[s.Index] == nil {
				bad = fmt.Errorf("number constant %d is not a number", s.Index)
			}
		case *ir.MakeArrayStmt:
			see(s.Target)
		case *ir.MakeObjectStmt:
			see(s.Target)
		case *ir.MakeSetStmt:
			see(s.Target)
		case *ir.IsDefinedStmt:
			see(s.Source)
		case *ir.IsUndefinedStmt:
			see(s.Source)
		case *ir.ArrayAppendStmt:
			see(s.Array)
			operands(s.Value)
		case *ir.ObjectInsertStmt:
			see(s.Object)
			operands(s.Key, s.Value)
		case *ir.ObjectInsertOnceStmt:
			see(s.Object)
			operands(s.Key, s.Value)
		case *ir.ObjectMergeStmt:
			see(s.A)
			see(s.B)
			see(s.Target)
		case *ir.SetAddStmt:
			see(s.Set)
			operands(s.Value)
		case *ir.EqualStmt:
			operands(s.A, s.B)
		case *ir.NotEqualStmt:
			operands(s.A, s.B)
		case *ir.IsArrayStmt:
			operands(s.Source)
		case *ir.IsObjectStmt:
			operands(s.Source)
		case *ir.IsSetStmt:
			operands(s.Source)
		case *ir.ResultSetAddStmt:
			see(s.Value)
		case *ir.WithStmt:
			see(s.Local)
			operands(s.Value)
			for _, i := range s.Path {
				if i < 0 || i >= len(p.strings) {
					bad = fmt.Errorf("with path refers to string %d of %d", i, len(p.strings))
				}
			}
		case *ir.BlockStmt, *ir.BreakStmt, *ir.NotStmt, *ir.NopStmt:
		case ir.Stmt:
			bad = fmt.Errorf("statement %T is not supported", s)
		}
	}), x)
	if err != nil {
		return 0, err
	}
	if bad != nil {
		return 0, bad
	}
	return int(maxLocal) + 1, nil
}

type visitor func(x any)

func (v visitor) Before(any)                      {}
func (v visitor) Visit(x any) (ir.Visitor, error) { v(x); return v, nil }
func (v visitor) After(any)                       {}

func joinPath(path []string) string {
	n := 0
	for _, s := range path {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range path {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, s...)
	}
	return string(b)
}

// Eval runs one plan on an input and returns the values of its result set:
// for a plan made from an entrypoint, objects {"result": value}; none when
// the entrypoint is undefined. The values may share parts with the input,
// the data and other evaluations (the empty collections): they are read,
// never changed.
func (p *Program) Eval(ctx context.Context, name string, input *ast.Term) (_ []*ast.Term, err error) {
	pl, ok := p.plans[name]
	if !ok {
		return nil, fmt.Errorf("irvm: no plan %s", name)
	}
	s := p.states.Get().(*state)
	// A fault of this evaluator must not take the node down: it becomes an
	// error, on which the caller asks topdown instead. The state it leaves
	// is not reused.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrInternal, r)
			return
		}
		s.release()
	}()
	s.ctx = ctx
	locals := s.push(pl.nlocals)
	locals[ir.Input] = input
	locals[ir.Data] = p.data
	for _, b := range pl.p.Blocks {
		r, err := s.block(b, locals)
		if err != nil {
			return nil, err
		}
		if r.returned {
			break
		}
	}
	out := s.results
	s.results = nil
	return out, nil
}

// newState makes the state of one evaluation at a time.
func (p *Program) newState() *state {
	st := &state{prog: p, memo: make([]memoEntry, p.nfuncs), stack: make([]*ast.Term, p.stackSize)}
	st.bctx = topdown.BuiltinContext{Metrics: metrics.NoOp(), Seed: rand.Reader, Cache: builtins.Cache{}}
	st.onResult = func(t *ast.Term) error { st.result = t; return nil }
	st.onKey, st.onElem = st.pushKey, st.pushElem
	return st
}

// release empties the state and returns it to the program's pool.
func (s *state) release() {
	clear(s.stack[:s.top])
	s.top = 0
	clear(s.memo)
	s.results = nil
	s.keys = s.keys[:0]
	s.ctx = nil
	s.bctx.Context = nil
	clear(s.bctx.Cache)
	s.result = nil
	s.prog.states.Put(s)
}

// push takes n locals off the stack; pop gives them back, emptied. The
// stack holds the locals of every function at once, so it cannot overflow
// (Rego has no recursion); push checks anyway.
func (s *state) push(n int) []*ast.Term {
	if s.top+n > len(s.stack) {
		panic(fmt.Sprintf("stack of %d locals exceeded", len(s.stack)))
	}
	f := s.stack[s.top : s.top+n : s.top+n]
	s.top += n
	return f
}

func (s *state) pop(f []*ast.Term) {
	clear(f)
	s.top -= len(f)
}

// builtinContext is what OPA's built-ins get. It has no clock: the
// built-ins that read one (time.now_ns, io.jwt.decode_verify, http.send)
// are refused at Compile.
func (s *state) builtinContext() *topdown.BuiltinContext {
	if s.bctx.Context == nil {
		s.bctx.Context = s.ctx
	}
	return &s.bctx
}

type memoEntry struct {
	set   bool
	value *ast.Term
}

// state is one evaluation.
type state struct {
	prog    *Program
	ctx     context.Context
	memo    []memoEntry
	stack   []*ast.Term // the locals of the functions being run
	top     int
	keys    []*ast.Term            // the sorted keys of the collections being scanned
	bctx    topdown.BuiltinContext // made once; its cache is emptied after each evaluation
	results []*ast.Term
	args    []*ast.Term // scratch for built-in arguments

	result   *ast.Term             // a built-in's output
	onResult func(*ast.Term) error // stores it; made once per state
	onKey    func(k, v *ast.Term)  // pushKey, bound once
	onElem   func(e *ast.Term)     // pushElem, bound once
	ticks    uint32                // loop iterations, for tick
}

// checkEvery is how many loop iterations pass between two reads of the
// evaluation's context: often enough that a cancelled evaluation stops
// within microseconds, rarely enough that reading it costs nothing next to
// the iterations themselves.
const checkEvery = 1024

// tick counts one iteration of a loop (a scan's element) and, every
// checkEvery of them, returns the context's error if the caller has given
// up or the deadline has passed.
func (s *state) tick() error {
	s.ticks++
	if s.ticks%checkEvery != 0 || s.ctx == nil {
		return nil
	}
	return s.ctx.Err()
}

// exit is how a block ended: it ran to its end (leave < 0); it was left
// (leave == 0: a statement was undefined, or a break 0), or it was left along
// with leave more enclosing blocks; or a return statement ended the function.
type exit struct {
	leave    int
	returned bool
	value    *ast.Term
}

var ran = exit{leave: -1}

func (s *state) operand(o ir.Operand, locals []*ast.Term) *ast.Term {
	switch v := o.Value.(type) {
	case ir.Local:
		return locals[v]
	case ir.StringIndex:
		return s.prog.strings[v]
	case ir.Bool:
		return ast.InternedTerm(bool(v))
	}
	return nil
}

// nested turns how a nested block ended into what its enclosing block does:
// go on (goOn), or end itself as the returned exit says.
func nested(r exit) (exit, bool) {
	if r.returned {
		return r, false
	}
	if r.leave <= 0 {
		return exit{}, true
	}
	return exit{leave: r.leave - 1}, false
}

func (s *state) block(b *ir.Block, locals []*ast.Term) (exit, error) {
	for _, stmt := range b.Stmts {
		switch st := stmt.(type) {
		case *ir.DotStmt:
			src := s.operand(st.Source, locals)
			if src == nil {
				return exit{}, nil
			}
			v := dot(src.Value, s.operand(st.Key, locals))
			if v == nil {
				return exit{}, nil
			}
			locals[st.Target] = v

		case *dataDot:
			src := s.operand(st.Source, locals)
			if src == nil {
				return exit{}, nil
			}
			key := s.operand(st.Key, locals)
			v := dot(src.Value, key)
			if v == nil && key != nil {
				v = storeKey(src.Value, key)
			}
			if v == nil {
				return exit{}, nil
			}
			locals[st.Target] = v

		case *resolvedCall:
			v, err := s.call(st.CallStmt, st.callee, locals)
			if err != nil {
				return exit{}, err
			}
			if v == nil {
				return exit{}, nil
			}
			locals[st.Result] = v

		case *ir.AssignVarStmt:
			locals[st.Target] = s.operand(st.Source, locals)

		case *ir.AssignVarOnceStmt:
			v := s.operand(st.Source, locals)
			if cur := locals[st.Target]; cur != nil && v != nil && cur.Value.Compare(v.Value) != 0 {
				return exit{}, fmt.Errorf("%w: complete rules must not produce multiple outputs", ErrConflict)
			}
			locals[st.Target] = v

		case *ir.EqualStmt:
			a, b := s.operand(st.A, locals), s.operand(st.B, locals)
			if a == nil || b == nil || a.Value.Compare(b.Value) != 0 {
				return exit{}, nil
			}

		case *ir.NotEqualStmt:
			a, b := s.operand(st.A, locals), s.operand(st.B, locals)
			if a == nil || b == nil || a.Value.Compare(b.Value) == 0 {
				return exit{}, nil
			}

		case *ir.IsDefinedStmt:
			if locals[st.Source] == nil {
				return exit{}, nil
			}

		case *ir.IsUndefinedStmt:
			if locals[st.Source] != nil {
				return exit{}, nil
			}

		case *ir.ResetLocalStmt:
			locals[st.Target] = nil

		case *ir.BlockStmt:
			for _, inner := range st.Blocks {
				r, err := s.block(inner, locals)
				if err != nil {
					return exit{}, err
				}
				if out, goOn := nested(r); !goOn {
					return out, nil
				}
			}

		case *ir.BreakStmt:
			return exit{leave: int(st.Index)}, nil

		case *ir.NotStmt:
			r, err := s.block(st.Block, locals)
			if err != nil {
				return exit{}, err
			}
			if r.leave < 0 && !r.returned {
				return exit{}, nil // the negated block held: the not is undefined
			}
			if out, goOn := nested(r); !goOn {
				return out, nil
			}

		case *ir.ScanStmt:
			out, goOn, err := s.scan(st, locals)
			if err != nil {
				return exit{}, err
			}
			if !goOn {
				return out, nil
			}

		case *ir.ReturnLocalStmt:
			return exit{returned: true, value: locals[st.Source]}, nil

		case *sprintfOf:
			v, err := s.sprintf(st, locals)
			if err != nil {
				return exit{}, err
			}
			if v == nil {
				return exit{}, nil
			}
			locals[st.Result] = v

		case *makeArrayOf:
			v, ok := s.arrayOf(st, locals)
			if !ok {
				return exit{}, errors.New("irvm: array of an undefined value")
			}
			locals[st.Target] = v

		case *makeObjectOf:
			v, ok := s.objectOf(st, locals)
			if !ok {
				return exit{}, errors.New("irvm: object of an undefined value")
			}
			locals[st.Target] = v

		// Many collections a decision makes stay empty (the refusals of a
		// request that is granted, the agreements of a dataset): each starts
		// as a shared empty value, replaced in its term by a collection of
		// its own when the first element comes.
		case *ir.MakeObjectStmt:
			locals[st.Target] = ast.NewTerm(emptyObject)

		case *ir.MakeArrayStmt:
			if st.Capacity > 0 {
				locals[st.Target] = ast.NewTerm(ast.NewArrayWithCapacity(int(st.Capacity)))
			} else {
				locals[st.Target] = ast.NewTerm(emptyArray)
			}

		case *ir.MakeSetStmt:
			locals[st.Target] = ast.NewTerm(emptySet)

		case *ir.MakeNullStmt:
			locals[st.Target] = ast.InternedNullTerm

		case *ir.MakeNumberIntStmt:
			locals[st.Target] = ast.InternedTerm(int(st.Value))

		case *ir.MakeNumberRefStmt:
			locals[st.Target] = s.prog.numbers[st.Index]

		case *ir.AssignIntStmt:
			locals[st.Target] = ast.InternedTerm(int(st.Value))

		case *ir.LenStmt:
			src := s.operand(st.Source, locals)
			if src == nil {
				return exit{}, nil
			}
			n, ok := length(src.Value)
			if !ok {
				return exit{}, nil
			}
			locals[st.Target] = ast.InternedTerm(n)

		case *ir.IsArrayStmt:
			if v := s.operand(st.Source, locals); v == nil || !isArray(v.Value) {
				return exit{}, nil
			}

		case *ir.IsObjectStmt:
			if v := s.operand(st.Source, locals); v == nil || !isObject(v.Value) {
				return exit{}, nil
			}

		case *ir.IsSetStmt:
			if v := s.operand(st.Source, locals); v == nil || !isSet(v.Value) {
				return exit{}, nil
			}

		case *ir.ArrayAppendStmt:
			t := locals[st.Array]
			arr, ok := t.Value.(*ast.Array)
			v := s.operand(st.Value, locals)
			if !ok || v == nil {
				return exit{}, errors.New("irvm: array append to a non-array or of an undefined value")
			}
			t.Value = arr.Append(v) // in the term: every local that holds it sees it

		case *ir.ObjectInsertStmt:
			obj, ok := ownObject(locals[st.Object])
			k, v := s.operand(st.Key, locals), s.operand(st.Value, locals)
			if !ok || k == nil || v == nil {
				return exit{}, errors.New("irvm: object insert into a non-object or of an undefined value")
			}
			obj.Insert(k, v)

		case *ir.ObjectInsertOnceStmt:
			obj, ok := ownObject(locals[st.Object])
			k, v := s.operand(st.Key, locals), s.operand(st.Value, locals)
			if !ok || k == nil || v == nil {
				return exit{}, errors.New("irvm: object insert into a non-object or of an undefined value")
			}
			if cur := obj.Get(k); cur != nil {
				if cur.Value.Compare(v.Value) != 0 {
					return exit{}, fmt.Errorf("%w: object keys must be unique", ErrConflict)
				}
				continue
			}
			obj.Insert(k, v)

		case *ir.ObjectMergeStmt:
			a, okA := locals[st.A].Value.(ast.Object)
			b, okB := locals[st.B].Value.(ast.Object)
			if !okA || !okB {
				return exit{}, fmt.Errorf("%w: merge of a non-object", ErrConflict)
			}
			m, ok := a.Merge(b)
			if !ok {
				return exit{}, fmt.Errorf("%w: objects do not merge", ErrConflict)
			}
			locals[st.Target] = ast.NewTerm(m)

		case *ir.SetAddStmt:
			set, ok := ownSet(locals[st.Set])
			v := s.operand(st.Value, locals)
			if !ok || v == nil {
				return exit{}, errors.New("irvm: set add to a non-set or of an undefined value")
			}
			set.Add(v)

		case *ir.WithStmt:
			out, goOn, err := s.with(st, locals)
			if err != nil {
				return exit{}, err
			}
			if !goOn {
				return out, nil
			}

		case *ir.CallDynamicStmt:
			out, goOn, err := s.callDynamic(st, locals)
			if err != nil {
				return exit{}, err
			}
			if !goOn {
				return out, nil
			}

		case *ir.ResultSetAddStmt:
			if v := locals[st.Value]; v != nil {
				s.results = append(s.results, v)
			}

		case *ir.NopStmt:

		default:
			return exit{}, fmt.Errorf("irvm: statement %T is not supported", stmt)
		}
	}
	return ran, nil
}

// The shared empty collections; never changed.
var (
	emptyObject = ast.NewObject()
	emptyArray  = ast.NewArray()
	emptySet    = ast.NewSet()
)

// ownObject and ownSet return the collection a term holds, first giving the
// term one of its own if it holds the shared empty one.
func ownObject(t *ast.Term) (ast.Object, bool) {
	obj, ok := t.Value.(ast.Object)
	if ok && obj == emptyObject {
		obj = ast.NewObject()
		t.Value = obj
	}
	return obj, ok
}

func ownSet(t *ast.Term) (ast.Set, bool) {
	set, ok := t.Value.(ast.Set)
	if ok && set == emptySet {
		set = ast.NewSet()
		t.Value = set
	}
	return set, ok
}

// scan runs the block once per element of a collection, in OPA's order:
// arrays by index, objects and sets by sorted key. Inside the block, break 0
// (or an undefined statement) goes on with the next element and break 1
// ends the scan, as in OPA's WebAssembly.
func (s *state) scan(st *ir.ScanStmt, locals []*ast.Term) (exit, bool, error) {
	src := locals[st.Source]
	if src == nil {
		return exit{}, false, nil
	}
	switch c := src.Value.(type) {
	case *ast.Array:
		for i := range c.Len() {
			if out, goOn, stop, err := s.scanOne(st, locals, ast.InternedTerm(i), c.Elem(i)); stop {
				return out, goOn, err
			}
		}
	case ast.Object, ast.Set:
		// The keys go on a stack shared by nested scans, so that scanning
		// does not allocate once the stack has grown.
		base := len(s.keys)
		if o, ok := c.(ast.Object); ok {
			o.Foreach(s.onKey)
		} else {
			c.(ast.Set).Foreach(s.onElem)
		}
		end := len(s.keys)
		defer func() { s.keys = s.keys[:base] }()
		for i := base; i < end; i++ {
			k, v := s.keys[i], s.keys[i]
			if o, ok := c.(ast.Object); ok {
				v = o.Get(k)
			}
			if out, goOn, stop, err := s.scanOne(st, locals, k, v); stop {
				return out, goOn, err
			}
		}
	}
	// A scan never makes its enclosing block undefined by itself.
	return exit{}, true, nil
}

func (s *state) pushKey(k, _ *ast.Term) { s.keys = append(s.keys, k) }

func (s *state) pushElem(e *ast.Term) { s.keys = append(s.keys, e) }

// scanOne runs a scan's block for one element; stop says whether the scan
// ends there, and then out and goOn what the enclosing block does.
func (s *state) scanOne(st *ir.ScanStmt, locals []*ast.Term, k, v *ast.Term) (out exit, goOn, stop bool, err error) {
	if err := s.tick(); err != nil {
		return exit{}, false, true, err
	}
	locals[st.Key], locals[st.Value] = k, v
	r, err := s.block(st.Block, locals)
	switch {
	case err != nil:
		return exit{}, false, true, err
	case r.returned:
		return r, false, true, nil
	case r.leave <= 0:
		return exit{}, true, false, nil
	case r.leave == 1:
		return exit{}, true, true, nil
	default:
		return exit{leave: r.leave - 2}, false, true, nil
	}
}

// with runs a block with the input or data replaced, or a path in it
// upserted, and a fresh memo; both are restored afterwards.
func (s *state) with(st *ir.WithStmt, locals []*ast.Term) (exit, bool, error) {
	saved := locals[st.Local]
	v := s.operand(st.Value, locals)
	switch {
	case len(st.Path) == 0:
		// The planner restores the input of the enclosing body (with input
		// as ... inside a with) from a local, which is undefined when the
		// evaluation has no input: the block then runs without one.
		locals[st.Local] = v
	case v == nil:
		return exit{}, false, errors.New("irvm: with an undefined value")
	default:
		locals[st.Local] = upsert(saved, st.Path, s.prog.strings, v)
	}
	memo := s.memo
	s.memo = make([]memoEntry, s.prog.nfuncs)
	r, err := s.block(st.Block, locals)
	s.memo = memo
	locals[st.Local] = saved
	if err != nil {
		return exit{}, false, err
	}
	if r.leave == 0 && !r.returned {
		return exit{}, false, nil // the block was undefined: so is the with
	}
	if r.leave < 0 && !r.returned {
		return exit{}, true, nil
	}
	out, goOn := nested(r)
	return out, goOn, nil
}

// upsert returns a copy of doc with value at path, making objects on the way
// and replacing what is not an object.
func upsert(doc *ast.Term, path []int, strs []*ast.Term, value *ast.Term) *ast.Term {
	var obj ast.Object
	if doc != nil {
		if o, ok := doc.Value.(ast.Object); ok {
			obj = o.Copy()
		}
	}
	if obj == nil {
		obj = ast.NewObject()
	}
	key := strs[path[0]]
	if len(path) == 1 {
		obj.Insert(key, value)
	} else {
		obj.Insert(key, upsert(obj.Get(key), path[1:], strs, value))
	}
	return ast.NewTerm(obj)
}

// callDynamic calls the data function the path names, if one does; else the
// caller's fallback block (the base document) runs.
func (s *state) callDynamic(st *ir.CallDynamicStmt, locals []*ast.Term) (exit, bool, error) {
	parts := make([]string, len(st.Path))
	for i, o := range st.Path {
		t := s.operand(o, locals)
		if t == nil {
			return exit{}, false, nil
		}
		str, ok := t.Value.(ast.String)
		if !ok {
			return exit{}, false, nil
		}
		parts[i] = string(str)
	}
	fn, ok := s.prog.byPath[joinPath(parts)]
	if !ok {
		return exit{}, false, nil // no such function: break 0, look in data
	}
	args := make([]*ast.Term, len(st.Args))
	for i, l := range st.Args {
		args[i] = locals[l]
	}
	v, err := s.invoke(fn, args)
	if err != nil {
		return exit{}, false, err
	}
	locals[st.Result] = v
	if v == nil {
		return exit{leave: 3}, false, nil // the function is defined, its value is not
	}
	return exit{}, true, nil
}

func (s *state) call(st *ir.CallStmt, c callee, locals []*ast.Term) (*ast.Term, error) {
	if fn := c.fn; fn != nil {
		if fn.memo {
			if m := s.memo[fn.index]; m.set {
				return m.value, nil
			}
		}
		frame := s.push(fn.nlocals)
		for i, a := range st.Args {
			if i < len(fn.fn.Params) {
				frame[fn.fn.Params[i]] = s.operand(a, locals)
			}
		}
		return s.run(fn, frame)
	}
	args := s.args[:0]
	for _, a := range st.Args {
		v := s.operand(a, locals)
		if v == nil {
			return nil, nil
		}
		args = append(args, v)
	}
	s.args = args[:0]
	if c.bi.fast != nil {
		if v, ok := c.bi.fast(args); ok {
			return v, nil
		}
	}
	// OPA's topdown reuses the argument slice it hands a built-in, so
	// built-ins do not keep it; neither does this scratch slice outlive the
	// call.
	if c.bi.relation {
		var outs []*ast.Term
		if err := c.bi.opa(*s.builtinContext(), args, func(t *ast.Term) error {
			outs = append(outs, t)
			return nil
		}); err != nil {
			return nil, err
		}
		return ast.ArrayTerm(outs...), nil
	}
	s.result = nil
	if err := c.bi.opa(*s.builtinContext(), args, s.onResult); err != nil {
		return nil, err
	}
	v := s.result
	s.result = nil
	return v, nil
}

// invoke runs a planned function (a rule, or a function of the policy) on
// arguments.
func (s *state) invoke(fn *function, args []*ast.Term) (*ast.Term, error) {
	if fn.memo {
		if m := s.memo[fn.index]; m.set {
			return m.value, nil
		}
	}
	frame := s.push(fn.nlocals)
	for i, p := range fn.fn.Params {
		if i < len(args) {
			frame[p] = args[i]
		}
	}
	return s.run(fn, frame)
}

// run runs a function whose parameters are in frame, then gives the frame
// back.
func (s *state) run(fn *function, frame []*ast.Term) (*ast.Term, error) {
	defer s.pop(frame)
	if err := s.tick(); err != nil {
		return nil, err
	}
	var value *ast.Term
	for _, b := range fn.fn.Blocks {
		r, err := s.block(b, frame)
		if err != nil {
			return nil, err
		}
		if r.returned {
			value = r.value
			break
		}
	}
	if fn.memo {
		s.memo[fn.index] = memoEntry{set: true, value: value}
	}
	return value, nil
}

// dot looks key up in a collection: an object's value, an array's element,
// or the element itself when a set holds it.
func dot(src ast.Value, key *ast.Term) *ast.Term {
	if key == nil {
		return nil
	}
	switch c := src.(type) {
	case ast.Object:
		return c.Get(key)
	case *ast.Array:
		n, ok := key.Value.(ast.Number)
		if !ok {
			return nil
		}
		i, ok := n.Int()
		if !ok || i < 0 || i >= c.Len() {
			return nil
		}
		return c.Elem(i)
	case ast.Set:
		if c.Contains(key) {
			return key
		}
	}
	return nil
}

func length(v ast.Value) (int, bool) {
	switch c := v.(type) {
	case *ast.Array:
		return c.Len(), true
	case ast.Object:
		return c.Len(), true
	case ast.Set:
		return c.Len(), true
	}
	return 0, false
}

func isArray(v ast.Value) bool  { _, ok := v.(*ast.Array); return ok }
func isObject(v ast.Value) bool { _, ok := v.(ast.Object); return ok }
func isSet(v ast.Value) bool    { _, ok := v.(ast.Set); return ok }
