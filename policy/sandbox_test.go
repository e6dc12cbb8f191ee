package policy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/xborder/xborder/policy/irvm"
)

// internalServer counts the requests an evaluation sends it.
func internalServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"secret": "internal"}`))
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

// A policy directory that calls a forbidden built-in does not compile, on
// every path that compiles one: the node's load and reload (which keeps the
// last good policy), `policy check`, `policy test` and `policy eval`. The
// error names the built-in, the file and the line.
func TestForbiddenBuiltinInAPolicyIsACompileError(t *testing.T) {
	ctx := context.Background()
	srv, hits := internalServer(t)
	for _, tc := range []struct{ builtin, call string }{
		{"http.send", `http.send({"method": "GET", "url": "` + srv.URL + `"}).status_code == 200`},
		{"net.lookup_ip_addr", `count(net.lookup_ip_addr("localhost")) > 0`},
		{"opa.runtime", `opa.runtime().env.HOME != ""`},
		{"rand.intn", `rand.intn("x", 10) == 1`},
		{"uuid.rfc4122", `uuid.rfc4122("x") != ""`},
		{"json.match_schema", `json.match_schema({}, {"$ref": "file:///etc/passwd"})[0]`},
		{"json.verify_schema", `json.verify_schema({"$ref": "` + srv.URL + `"})[0]`},
		{"io.jwt.encode_sign", `io.jwt.encode_sign({"alg": "ES256"}, {}, {}) != ""`},
		{"io.jwt.encode_sign_raw", `io.jwt.encode_sign_raw("{}", "{}", "{}") != ""`},
	} {
		t.Run(tc.builtin, func(t *testing.T) {
			dir := copyDir(t, "testdata/minimal")
			e, err := NewEngine(ctx, dir, nil)
			t.Cleanup(func() { closeEngine(e) })
			if err != nil {
				t.Fatal(err)
			}
			good := e.Info().Hash
			write(t, dir, "extra.rego", "package xborder.extra\n\nallow if {\n\t"+tc.call+"\n}\n")
			want := []string{"extra.rego:4", tc.builtin, "may not be called"}
			check := func(what string, err error) {
				t.Helper()
				var ce *CompileError
				if !errors.As(err, &ce) {
					t.Fatalf("%s = %v, want a *CompileError", what, err)
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: %q does not mention %q", what, err, w)
					}
				}
			}
			_, err = Load(ctx, dir)
			check("Load", err)
			_, err = e.Reload(ctx)
			check("Reload", err)
			if info := e.Info(); info.Hash != good || !strings.Contains(info.LastError, tc.builtin) {
				t.Fatalf("after the refused reload: %+v", info)
			}
			_, err = Check(dir)
			check("Check", err)
			_, err = Test(ctx, dir, TestOptions{})
			check("Test", err)
			_, err = EvalQuery(ctx, dir, "data.xborder.extra.allow", map[string]any{}, ExplainOff)
			check("EvalQuery", err)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("a policy reached the internal server %d times", n)
	}
}

// A test file may not call a forbidden built-in either, nor mock one with
// `with`: `policy test` runs in the same sandbox as decisions.
func TestForbiddenBuiltinInATestIsACompileError(t *testing.T) {
	srv, hits := internalServer(t)
	for name, body := range map[string]string{
		"call": "package xborder.extra_test\n\ntest_send if {\n\thttp.send({\"method\": \"GET\", \"url\": \"" + srv.URL + "\"}).status_code == 200\n}\n",
		"with": "package xborder.extra_test\n\nmock(_) := {\"status_code\": 200}\n\ntest_send if {\n\tdata.xborder.api.allow with http.send as mock\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, "testdata/minimal")
			write(t, dir, "extra_test.rego", body)
			for what, err := range map[string]error{
				"Check": func() error { _, err := Check(dir); return err }(),
				"Test":  func() error { _, err := Test(context.Background(), dir, TestOptions{}); return err }(),
			} {
				if err == nil || !strings.Contains(err.Error(), "http.send") || !strings.Contains(err.Error(), "extra_test.rego:") {
					t.Errorf("%s = %v, want a compile error naming http.send and the file", what, err)
				}
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("a test reached the internal server %d times", n)
	}
}

// Ad-hoc queries (the playground, POST /v1/policy/eval, `policy eval`)
// are compiled in the same sandbox: a forbidden built-in is refused before
// anything runs.
func TestForbiddenBuiltinInAQueryIsRefused(t *testing.T) {
	ctx := context.Background()
	srv, hits := internalServer(t)
	e, err := NewEngine(ctx, "../policies", nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`http.send({"method": "GET", "url": "` + srv.URL + `"})`,
		`x := http.send({"method": "GET", "url": input.url}).body`,
		`y := [r | r := http.send({"method": "GET", "url": input.url})]`,
	} {
		in := map[string]any{"url": srv.URL}
		if _, err := e.Eval(ctx, q, in, ExplainFull); err == nil || !strings.Contains(err.Error(), "http.send may not be called") {
			t.Errorf("Engine.Eval(%s) = %v, want a refusal naming http.send", q, err)
		}
		if _, err := EvalQuery(ctx, "../policies", q, in, ExplainOff); err == nil || !strings.Contains(err.Error(), "http.send may not be called") {
			t.Errorf("EvalQuery(%s) = %v, want a refusal naming http.send", q, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("a query reached the internal server %d times", n)
	}
	// What stays: pure built-ins, the clock, trace.
	if res, err := e.Eval(ctx, `x := time.now_ns() > 0; trace("ok"); net.cidr_contains("10.0.0.0/8", "10.1.2.3")`, nil, ExplainOff); err != nil || !res.Defined {
		t.Fatalf("allowed built-ins: %+v %v", res, err)
	}
}

// The sandbox's capabilities are this OPA's, less exactly the forbidden
// built-ins, and allow no network host.
func TestSandboxCapabilities(t *testing.T) {
	all := ast.CapabilitiesForThisVersion()
	have := map[string]bool{}
	for _, b := range capabilities.Builtins {
		have[b.Name] = true
	}
	for _, b := range all.Builtins {
		_, no := Forbidden[b.Name]
		if have[b.Name] == no {
			t.Errorf("%s: in the sandbox %v, forbidden %v", b.Name, have[b.Name], no)
		}
	}
	for name := range Forbidden {
		if !slices.ContainsFunc(all.Builtins, func(b *ast.Builtin) bool { return b.Name == name }) {
			t.Errorf("forbidden %s is not a built-in of this OPA", name)
		}
	}
	if capabilities.AllowNet == nil || len(capabilities.AllowNet) != 0 {
		t.Errorf("allow_net = %v, want empty", capabilities.AllowNet)
	}
}

// irvm, which runs the plans that take the decisions, refuses every
// forbidden built-in as well, should a plan ever hold one.
func TestIrvmRefusesForbiddenBuiltins(t *testing.T) {
	ctx := context.Background()
	for name := range Forbidden {
		b := ast.BuiltinMap[name]
		args := make([]string, len(b.Decl.FuncArgs().Args))
		for i := range args {
			args[i] = fmt.Sprintf("input.a%d", i)
		}
		src := fmt.Sprintf("package t\n\nr := %s(%s)\n", name, strings.Join(args, ", "))
		pol, err := irvm.Plan(ctx, map[string][]byte{"t.rego": []byte(src)}, "t/r")
		if err != nil {
			t.Fatalf("plan %s: %v", name, err)
		}
		if _, err := irvm.Compile(pol, ast.NewObject()); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("irvm.Compile of a plan calling %s = %v, want a refusal naming it", name, err)
		}
	}
}
