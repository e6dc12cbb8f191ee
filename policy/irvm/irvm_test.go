package irvm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/util"
)

// Each case is a small policy exercising one construct of the planner's
// output, evaluated by irvm and by OPA's topdown on the same inputs.
var cases = []struct {
	name   string
	module string
	data   string // JSON base document
	inputs []string
}{
	{"else chains and functions", `package t
label(x) := "big" if { x > 10 } else := "small" if { x > 0 } else := "none"
r := [label(input.a), label(input.b), label(-1)]`, ``, []string{`{"a": 11, "b": 3}`, `{"a": "x"}`, `{}`}},

	{"negation", `package t
default r := false
r if { not input.a; not input.b == 1 }`, ``, []string{`{}`, `{"a": true}`, `{"b": 1}`, `{"a": false}`}},

	{"every", `package t
r if { every x in input.xs { x > 1 } }
s := true if { every k, v in input.o { k != v } } else := false`, ``,
		[]string{`{"xs": [2, 3]}`, `{"xs": [1, 3]}`, `{"xs": []}`, `{"xs": "no"}`, `{"o": {"a": "a"}}`, `{"o": {"a": "b"}}`}},

	{"with replaces input and data, and rules see it", `package t
x := input.v
lim := data.cfg.limit
r := [x, y, lim, z] if {
	y := x with input.v as 7
	z := lim with data.cfg.limit as 99
}`, `{"cfg": {"limit": 3}}`, []string{`{"v": 1}`, `{}`}},

	{"conflicting values are an error", `package t
r := 1 if input.a
r := 2 if input.b`, ``, []string{`{"a": true}`, `{"a": true, "b": true}`, `{}`}},

	{"comprehensions, iteration order, sets and objects", `package t
arr := [k | some k, _ in input.o]
vals := [v | some v in input.s]
obj := {k: count(v) | some k, v in input.o}
set contains x if { some x in input.xs; x != "b" }
pairs := [[i, x] | some i, x in input.xs]`, ``,
		[]string{`{"o": {"z": [1], "a": [1, 2], "m": []}, "s": ["c", "a", "b"], "xs": ["b", "a", "b", "c"]}`, `{"o": 3, "xs": {"k": "v"}}`}},

	{"dynamic references into data rules", `package t
import data.lib
r := lib[input.name]
s := data.lib[input.name].x`, `{"lib": {"plain": 5}}`, []string{`{"name": "one"}`, `{"name": "two"}`, `{"name": "plain"}`, `{"name": "nope"}`}},

	{"partial object rules and multi-key refs", `package t
perm[role][method] := true if { some role in input.roles; some method in ["GET", "POST"] }
ok if perm[input.role][input.method]`, ``, []string{`{"roles": ["a", "b"], "role": "a", "method": "GET"}`, `{"roles": ["a"], "role": "b", "method": "GET"}`}},

	{"numbers and arithmetic", `package t
r := [1 == 1.0, 3 / 2, 7 % 3, floor(2.5), min({3, 1.5}), 10 * 0.1, 1 < 2.5]`, ``, []string{`{}`}},

	{"strings and built-ins that cache", `package t
r := {
	"s": sprintf("%s has %d (%v)", [input.a, count(input.a), input.b]),
	"m": regex.match("^[a-z]+-[0-9]+$", input.a),
	"u": upper(trim_space(input.a)),
	"j": concat("/", split(input.a, "-")),
}`, ``, []string{`{"a": "abc-12", "b": [1]}`, `{"a": "x"}`, `{"a": 5}`}},

	{"sentences: sprintf in else chains, comprehensions and partial sets", `package t
msgs := [sprintf("%s-%s", [x, y]) | some x in input.xs; y := upper(x)]
label := sprintf("%s is %q", [input.a, input.b]) if input.a else := sprintf("none %s", ["x"])
reasons contains sprintf("%s", [x]) if some x in input.xs
reasons contains sprintf("%d items, %v", [count(input.xs), input.xs])
r := [msgs, label, reasons]`, ``, []string{`{"xs": ["a", "b"], "a": "x", "b": "y\n"}`, `{"xs": [], "a": false}`, `{"xs": [1, "c"]}`}},

	{"array patterns", `package t
r := x if { [x, "b"] = input.a }
s := [y, z] if { [[y], z] := input.p }`, ``, []string{`{"a": [1, "b"], "p": [[2], 3]}`, `{"a": [1, "c"], "p": [[2, 3], 3]}`, `{"a": [1]}`}},
}

func withTopdown(t *testing.T, module, data, query string, input ast.Value, strict bool) ([]ast.Value, error) {
	t.Helper()
	opts := []func(*rego.Rego){rego.Query(query), rego.Module("t.rego", module), rego.StrictBuiltinErrors(strict),
		rego.ParsedInput(input)}
	if data != "" {
		opts = append(opts, rego.Store(storeOf(t, data)))
	}
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil {
		return nil, err
	}
	var out []ast.Value
	for _, r := range rs {
		v, err := ast.InterfaceToValue(r.Expressions[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out, nil
}

func TestAgreesWithTopdown(t *testing.T) {
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mod, err := ast.ParseModuleWithOpts("t.rego", c.module, ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatal(err)
			}
			var entrypoints []string
			seen := map[string]bool{}
			for _, r := range mod.Rules {
				name := r.Head.Ref()[0].Value.(ast.Var).String()
				if !seen[name] && r.Head.Args == nil {
					seen[name] = true
					entrypoints = append(entrypoints, "t/"+name)
				}
			}
			pol, err := Plan(ctx, map[string][]byte{"t.rego": []byte(c.module)}, entrypoints...)
			if err != nil {
				t.Fatal(err)
			}
			data := ast.Value(ast.NewObject())
			if c.data != "" {
				data = ast.MustParseTerm(c.data).Value
			}
			prog, err := Compile(pol, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range c.inputs {
				input := ast.MustParseTerm(in)
				for _, e := range entrypoints {
					query := "data." + strings.ReplaceAll(e, "/", ".")
					rs, gerr := prog.Eval(ctx, e, input)
					want, werr := withTopdown(t, c.module, c.data, query, input.Value, true)
					switch {
					case gerr != nil:
						// A built-in's error or a conflict: the caller repeats
						// the evaluation with topdown, whose answer stands.
						var te *topdownErr
						if !errors.As(gerr, &te) && !errors.Is(gerr, ErrConflict) {
							t.Fatalf("%s on %s: irvm error %v (topdown: %v)", e, in, gerr, werr)
						}
						continue
					case werr != nil:
						// Where a built-in fails and another expression of the
						// same body is undefined, which one is met first
						// depends on the evaluator; the value is then the one
						// topdown gives when built-in errors make undefined.
						want, werr = withTopdown(t, c.module, c.data, query, input.Value, false)
						if werr != nil {
							t.Fatalf("%s on %s: topdown error %v without strict built-in errors", e, in, werr)
						}
					}
					var got []ast.Value
					for _, r := range rs {
						got = append(got, r.Value.(ast.Object).Get(ast.StringTerm("result")).Value)
					}
					if len(got) != len(want) || (len(got) == 1 && asJSON(t, got[0]).Compare(want[0]) != 0) {
						t.Fatalf("%s on %s:\nirvm    %v\ntopdown %v", e, in, got, want)
					}
				}
			}
		})
	}
}

type topdownErr = topdown.Error

// asJSON is a value as rego's result sets give it: sets become arrays.
func asJSON(t *testing.T, v ast.Value) ast.Value {
	x, err := ast.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ast.InterfaceToValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// program plans and compiles a one-module policy with the entrypoint t/r.
func program(t *testing.T, module string) *Program {
	t.Helper()
	pol, err := Plan(context.Background(), map[string][]byte{"t.rego": []byte(module)}, "t/r")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(pol, ast.NewObject())
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

func TestConflictIsAnError(t *testing.T) {
	prog := program(t, "package t\nr := 1 if input.a\nr := 2 if input.b\n")
	_, err := prog.Eval(context.Background(), "t/r", ast.MustParseTerm(`{"a": true, "b": true}`))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want a conflict", err)
	}
}

func TestRefusesWhatItCannotRun(t *testing.T) {
	ctx := context.Background()
	pol, err := Plan(ctx, map[string][]byte{"t.rego": []byte("package t\nr := http.send({\"method\": \"GET\", \"url\": input.u})\n")}, "t/r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(pol, ast.NewObject()); err == nil || !strings.Contains(err.Error(), "http.send") {
		t.Fatalf("Compile = %v, want a refusal naming http.send", err)
	}
	bad := &ir.Policy{Funcs: &ir.Funcs{Funcs: []*ir.Func{{Name: "f", Params: []ir.Local{0}}}}}
	if _, err := Compile(bad, ast.NewObject()); err == nil {
		t.Fatal("a function without the data parameter compiled")
	}
}

func storeOf(t *testing.T, data string) storage.Store {
	t.Helper()
	var doc map[string]any
	if err := util.UnmarshalJSON([]byte(data), &doc); err != nil {
		t.Fatal(err)
	}
	return inmem.NewFromObject(doc)
}

func TestFaultBecomesAnError(t *testing.T) {
	prog := program(t, "package t\nr := count(input.xs)\n")
	prog.stackSize = 1 // a stack too small for the plan: push faults
	if _, err := prog.Eval(context.Background(), "t/r", ast.MustParseTerm(`{"xs": [1]}`)); !errors.Is(err, ErrInternal) {
		t.Fatalf("err = %v, want ErrInternal", err)
	}
}

// The fast sprintf writes what OPA's does, and leaves to OPA what it does
// not handle.
func TestSprintfStrings(t *testing.T) {
	opa := topdown.GetBuiltin("sprintf")
	for _, c := range []struct {
		format, args string
		fast         bool
	}{
		{`"%s has %s"`, `["a", "b"]`, true}, {`"%q and %v, 100%%"`, `["x\"y\n", "é"]`, true}, {`"no verbs"`, `[]`, true},
		{`"%s"`, `[]`, false}, {`"%s"`, `["a", "b"]`, false}, {`"%d"`, `[1]`, false}, {`"%5s"`, `["a"]`, false},
		{`"%s"`, `[1.5]`, false}, {`"%s %v"`, `[["a"], {"k": 1}]`, false}, {`"trailing %"`, `["a"]`, false},
		{`"%+q"`, `["é"]`, false}, {`"%x"`, `["a"]`, false},
	} {
		args := []*ast.Term{ast.MustParseTerm(c.format), ast.MustParseTerm(c.args)}
		var want *ast.Term
		if err := opa(topdown.BuiltinContext{}, args, func(t *ast.Term) error { want = t; return nil }); err != nil {
			t.Fatal(err)
		}
		got, ok := sprintfStrings(args)
		if ok != c.fast {
			t.Fatalf("sprintf(%s, %s): fast path taken %v, want %v", c.format, c.args, ok, c.fast)
		}
		if !ok {
			continue // OPA's own sprintf runs
		}
		if got.Value.Compare(want.Value) != 0 {
			t.Errorf("sprintf(%s, %s) = %v, OPA says %v", c.format, c.args, got, want)
		}
	}
}

// fuseSprintf joins an argument array and its sprintf only when nothing can
// read the array afterwards.
func TestFuseSprintfOnlyDeadArrays(t *testing.T) {
	str := func(i int) ir.Operand { return ir.Operand{Value: ir.StringIndex(i)} }
	loc := func(l int) ir.Operand { return ir.Operand{Value: ir.Local(l)} }
	pair := func() []ir.Stmt {
		return []ir.Stmt{
			&makeArrayOf{Values: []ir.Operand{str(0)}, Target: 5},
			&ir.CallStmt{Func: "sprintf", Args: []ir.Operand{str(1), loc(5)}, Result: 6},
		}
	}
	read := &ir.AssignVarStmt{Source: loc(5), Target: 7}
	write := &ir.AssignVarStmt{Source: str(2), Target: 5}
	nested := func(stmts ...ir.Stmt) ir.Stmt { return &ir.BlockStmt{Blocks: []*ir.Block{{Stmts: stmts}}} }
	for _, c := range []struct {
		name  string
		stmts []ir.Stmt
		fused bool
	}{
		{"nothing reads it", pair(), true},
		{"read afterwards", append(pair(), read), false},
		{"read in a later block", append(pair(), nested(read)), false},
		{"written, then read", append(pair(), write, read), true},
		{"written in a block the reader is not in", append(pair(), nested(write), read), false},
		{"written in the reader's block", append(pair(), nested(write, read)), true},
		{"remade by another pair", append(pair(), pair()...), true},
		{"read earlier in the loop", []ir.Stmt{&ir.ScanStmt{Source: 0, Key: 8, Value: 9,
			Block: &ir.Block{Stmts: append([]ir.Stmt{read}, pair()...)}}}, false},
		{"written earlier in the loop", []ir.Stmt{&ir.ScanStmt{Source: 0, Key: 8, Value: 9,
			Block: &ir.Block{Stmts: append([]ir.Stmt{write, read}, pair()...)}}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := &ir.Block{Stmts: c.stmts}
			fuseSprintfIn([]*ir.Block{b})
			var fused bool
			_ = ir.Walk(visitor(func(x any) {
				if _, ok := x.(*sprintfOf); ok {
					fused = true
				}
			}), b)
			if fused != c.fused {
				t.Fatalf("fused = %v, want %v", fused, c.fused)
			}
		})
	}
}

// A with inside a with restores the input of the enclosing body, which an
// evaluation without input does not have: the inner body then runs without
// input, as topdown's does.
func TestWithInsideWithWithoutInput(t *testing.T) {
	p := program(t, `package t
inner := input
r := [a, b] if {
	a := inner with input as 1
	b := count([x | x := inner])
}`)
	rs, err := p.Eval(context.Background(), "t/r", nil)
	if err != nil {
		t.Fatalf("evaluation without input: %v", err)
	}
	if len(rs) != 1 || rs[0].String() != `{"result": [1, 0]}` {
		t.Fatalf("got %v, want one result [1, 0]", rs)
	}
}
