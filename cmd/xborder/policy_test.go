package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyPolicies copies the shipped policy directory into a temp dir.
func copyPolicies(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "policies")
	must(t, os.CopyFS(dst, os.DirFS("../../policies")))
	return dst
}

func TestPolicyTestCheckFmtOnTheShippedPolicies(t *testing.T) {
	dir := copyPolicies(t)
	code, out, errs := xb(t, "policy", "test", dir, "--coverage", "--threshold", "90")
	if code != 0 || !strings.Contains(out, "PASS:") || !strings.Contains(out, "Coverage:") || !strings.Contains(out, "Plan and topdown: identical on the ") {
		t.Fatalf("policy test: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := xb(t, "policy", "check", dir); code != 0 || !strings.Contains(out, ": ok (") {
		t.Fatalf("policy check: exit %d %s %s", code, out, errs)
	}
	if code, out, errs := xb(t, "policy", "fmt", dir, "--diff"); code != 0 || out != "" {
		t.Fatalf("the shipped policies are not formatted: exit %d\n%s%s", code, out, errs)
	}
}

func TestPolicyTestFailsWithTheFailingRule(t *testing.T) {
	dir := copyPolicies(t)
	// A legal team tightens a rule: open data now needs a project. The
	// existing test that expects open data to be shared must fail.
	path := filepath.Join(dir, "exchange_test.rego")
	raw, err := os.ReadFile(path)
	must(t, err)
	broken := string(raw) + "\ntest_everything_is_denied if {\n\tnot exchange.decision.allow with input as {}\n\tfalse\n}\n"
	must(t, os.WriteFile(path, []byte(broken), 0o644))
	code, out, errs := xb(t, "policy", "test", dir)
	if code != exitError || !strings.Contains(out, "test_everything_is_denied") || !strings.Contains(out, "FAIL") || !strings.Contains(errs, "1 failed") {
		t.Fatalf("policy test with a failing test: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestPolicyCheckAndFmtReportProblems(t *testing.T) {
	dir := copyPolicies(t)
	must(t, os.WriteFile(filepath.Join(dir, "extra.rego"), []byte("package xborder.extra\nallow if {input.x==1}\n"), 0o644))
	code, out, _ := xb(t, "policy", "fmt", dir, "--diff")
	if code != exitError || !strings.Contains(out, "extra.rego") || !strings.Contains(out, "+") {
		t.Fatalf("fmt --diff: exit %d\n%s", code, out)
	}
	if code, out, _ := xb(t, "policy", "fmt", dir); code != 0 || !strings.Contains(out, "formatted") {
		t.Fatalf("fmt: exit %d %s", code, out)
	}
	if code, _, _ := xb(t, "policy", "fmt", dir, "--diff"); code != 0 {
		t.Fatal("fmt did not fix the file")
	}
	must(t, os.WriteFile(filepath.Join(dir, "extra.rego"), []byte("package xborder.extra\n\nallow if {\n\tinput.x == y\n}\n"), 0o644))
	code, _, errs := xb(t, "policy", "check", dir)
	if code != exitError || !strings.Contains(errs, "extra.rego:4") || !strings.Contains(errs, "unsafe") {
		t.Fatalf("check of an unsafe rule: exit %d %s", code, errs)
	}
}

func TestPolicyEvalExplainsADenial(t *testing.T) {
	dir := copyPolicies(t)
	input := filepath.Join(t.TempDir(), "request.json")
	must(t, os.WriteFile(input, []byte(`{
	  "requester": {"node": "de-bw", "country": "DE", "org": "BW", "researcher": {"sub": "alice", "org": "Uni Freiburg", "role": "researcher"}},
	  "resource": {"kind": "dataset", "id": "icu", "owner": "fr-grandest", "theme": "health", "classification": "sensitive", "personal_data": true, "license": "", "requires_project": false, "partners": []},
	  "purpose": "research", "project": null, "agreements": [],
	  "self": {"node": "fr-grandest", "country": "FR", "org": "Grand Est"}, "time": "2026-11-26T10:00:00Z"}`), 0o644))
	code, out, errs := xb(t, "policy", "eval", "data.xborder.exchange.decision", "--input", input, dir, "--explain")
	if code != 0 {
		t.Fatalf("eval: exit %d %s", code, errs)
	}
	var d struct {
		Allow   bool     `json:"allow"`
		Reasons []string `json:"reasons"`
		Rules   []string `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Allow || len(d.Reasons) == 0 || len(d.Rules) == 0 {
		t.Fatalf("eval output %q: %v", out, err)
	}
	if !strings.Contains(errs, "Explanation (fails)") || !strings.Contains(errs, "exchange.rego") {
		t.Fatalf("no explanation on stderr:\n%s", errs)
	}
	must(t, os.WriteFile(input, []byte(`["not", "an", "object"]`), 0o644))
	if code, _, errs := xb(t, "policy", "eval", "data.xborder.exchange.decision", "--input", input, dir); code != exitError || !strings.Contains(errs, "must be a JSON object") {
		t.Fatalf("array input: exit %d %s", code, errs)
	}
	if code, _, _ := xb(t, "policy", "eval", "data.xborder.exchange.decision", dir); code != exitUsage {
		t.Fatalf("missing --input: exit %d", code)
	}
}

// `policy check`, `policy test` and `policy eval` refuse a policy that calls
// a built-in no xborder policy may call, naming it, the file and the line.
func TestPolicyCommandsRefuseForbiddenBuiltins(t *testing.T) {
	dir := copyPolicies(t)
	must(t, os.WriteFile(filepath.Join(dir, "extra.rego"), []byte("package xborder.extra\n\nsecret := opa.runtime().env\n"), 0o644))
	input := filepath.Join(t.TempDir(), "in.json")
	must(t, os.WriteFile(input, []byte(`{}`), 0o644))
	for _, args := range [][]string{
		{"policy", "check", dir},
		{"policy", "test", dir},
		{"policy", "eval", "data.xborder.extra.secret", "--input", input, dir},
	} {
		code, out, errs := xb(t, args...)
		if code != exitError || !strings.Contains(errs, "extra.rego:3") || !strings.Contains(errs, "opa.runtime may not be called") {
			t.Errorf("%s: exit %d\n%s\n%s", strings.Join(args[:2], " "), code, out, errs)
		}
	}
}
