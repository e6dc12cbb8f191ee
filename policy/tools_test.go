package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCompilesTestsToo(t *testing.T) {
	res, err := Check("testdata/minimal")
	if err != nil {
		t.Fatal(err)
	}
	if res.Modules != 7 || res.DataFiles != 1 {
		t.Fatalf("Check = %+v, want 7 modules (tests included) and 1 data file", res)
	}
	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "exchange_test.rego", "package xborder.exchange_test\n\ntest_x if {\n\ty := 1\n}\n")
	if _, err := Check(dir); err == nil || !strings.Contains(err.Error(), "exchange_test.rego:4") {
		t.Fatalf("a broken test file passed the check: %v", err)
	}
}

func TestRunsRegoTestsWithCoverage(t *testing.T) {
	var out bytes.Buffer
	sum, err := Test(context.Background(), "testdata/minimal", TestOptions{Coverage: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Passed != 2 || sum.Coverage == nil || sum.Coverage.Coverage <= 0 {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	if !strings.Contains(out.String(), "PASS: 2/2") || !strings.Contains(out.String(), "Coverage:") {
		t.Fatalf("report:\n%s", out.String())
	}

	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "exchange_test.rego", `package xborder.exchange_test

import data.xborder.exchange

test_restricted_allowed if {
	exchange.decision.allow with input as {"resource": {"classification": "restricted"}, "purpose": "research"}
}
`)
	out.Reset()
	sum, err = Test(context.Background(), dir, TestOptions{Verbose: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK() || sum.Failed != 1 || !strings.Contains(out.String(), "test_restricted_allowed") || !strings.Contains(out.String(), "FAIL") {
		t.Fatalf("a failing test was not reported: %+v\n%s", sum, out.String())
	}
}

func TestFormatFindsAndRewritesUnformattedModules(t *testing.T) {
	dir := copyDir(t, "testdata/minimal")
	if res, err := Format(dir, false); err != nil || len(res) != 0 {
		t.Fatalf("testdata is not formatted: %v %v", res, err)
	}
	messy := "package xborder.api\ndefault allow:=false\nallow if {input.user.role==\"operator\"}\n"
	write(t, dir, "api.rego", messy)
	res, err := Format(dir, false)
	if err != nil || len(res) != 1 || filepath.Base(res[0].Path) != "api.rego" {
		t.Fatalf("Format(check) = %v %v", res, err)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "api.rego")); string(raw) != messy {
		t.Fatal("check mode rewrote the file")
	}
	if _, err := Format(dir, true); err != nil {
		t.Fatal(err)
	}
	if res, _ := Format(dir, false); len(res) != 0 {
		t.Fatal("the rewritten file is still not formatted")
	}
	if _, err := Load(context.Background(), dir); err != nil {
		t.Fatalf("formatting broke the policy: %v", err)
	}
}

func TestEvalQueryExplains(t *testing.T) {
	ctx := context.Background()
	in, err := ParseInput([]byte(`{"resource": {"classification": "open"}, "purpose": "marketing"}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := EvalQuery(ctx, "testdata/minimal", "data.xborder.exchange.decision", in, ExplainFails)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := res.Value.(map[string]any)
	if !res.Defined || !ok || d["allow"] != false {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Trace, "exchange.rego") || !strings.Contains(res.Trace, "purposes") {
		t.Fatalf("the explanation does not show the failed purpose check:\n%s", res.Trace)
	}
	for _, bad := range []string{`[1,2]`, `"x"`, `{`, ``} {
		if _, err := ParseInput([]byte(bad)); err == nil {
			t.Errorf("ParseInput(%q) accepted", bad)
		}
	}
	if _, err := EvalQuery(ctx, "testdata/minimal", "data.xborder[", in, ExplainOff); err == nil {
		t.Fatal("a malformed query was accepted")
	}
}
