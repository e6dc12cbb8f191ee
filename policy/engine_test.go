package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/xborder/xborder/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// closeEngine stops an engine's background work (planning, watching).
func closeEngine(e *Engine) {
	if e != nil {
		e.Close()
	}
}

// copyDir copies a testdata bundle into a temp dir the test may change.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func openData(purpose string) ExchangeInput {
	return ExchangeInput{Resource: Resource{Kind: "dataset", ID: "air", Owner: "fr-grandest", Classification: "open"}, Purpose: purpose}
}

func TestEngineDecidesWithTypedInputsAndOutputs(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, "testdata/minimal", nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Exchange(ctx, openData("research"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || d.Rules[0] != "open_data" || d.MaxValidity != 24*time.Hour || d.Bundle != e.Info().Hash {
		t.Fatalf("open data: %+v", d)
	}
	d, err = e.Exchange(ctx, openData("marketing"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || d.Reasons[0] != "No rule allows this request." || d.Rules[0] != "default_deny" {
		t.Fatalf("unknown purpose: %+v", d)
	}
	if ok, err := e.CatalogueVisible(ctx, CatalogueInput{Entry: CatalogueEntry{Classification: "confidential"}}); err != nil || ok {
		t.Fatalf("confidential visible=%v err=%v", ok, err)
	}
	if ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "researcher"}, Method: "GET", Path: "/v1/peers"}); err != nil || !ok {
		t.Fatalf("researcher GET /v1/peers: %v %v", ok, err)
	}
	if ok, _ := e.APIAllow(ctx, APIInput{User: APIUser{Role: "researcher"}, Method: "POST", Path: "/v1/policy/reload"}); ok {
		t.Fatal("researcher may reload the policy")
	}
	if d, err := e.Membership(ctx, MembershipInput{Candidate: Candidate{Country: "DE"}}); err != nil || !d.Allow {
		t.Fatalf("membership: %+v %v", d, err)
	}
}

func TestBundleHashCoversPolicyAndDataButNotTests(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "testdata/minimal")
	a, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "exchange_test.rego", "package xborder.exchange_test\n\ntest_more if true\n")
	b, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != b.Hash {
		t.Fatal("changing a test changed the bundle hash")
	}
	for _, f := range b.Files {
		if strings.HasSuffix(f.Path, "_test.rego") {
			t.Fatalf("test file %s is part of the bundle", f.Path)
		}
	}
	write(t, filepath.Join(dir, "data"), "purposes.json", `{"purposes": {"research": {}}}`)
	c, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash == a.Hash {
		t.Fatal("changing a data file kept the bundle hash")
	}
}

func TestBadPoliciesAreRefusedWithFileAndLine(t *testing.T) {
	cases := []struct {
		name, file, body string
		want             []string
	}{
		{"syntax error", "exchange.rego", "package xborder.exchange\n\ndecision := {\"allow\": true\n",
			[]string{"exchange.rego:", "rego_parse_error"}},
		{"unsafe variable", "api.rego", "package xborder.api\n\nallow if {\n\tinput.user.role == role\n}\n",
			[]string{"api.rego:4", "var role is unsafe"}},
		{"unused variable under strict mode", "api.rego", "package xborder.api\n\nallow if {\n\tx := 1\n\tinput.user.role == \"operator\"\n}\n",
			[]string{"api.rego:4", "assigned var x unused"}},
		{"decision point missing", "membership.rego", "package xborder.membership\n\nvote := true\n",
			[]string{"does not define data.xborder.membership.decision"}},
		{"missing data file", "exchange.rego", "package xborder.exchange\n\ndecision := {\"allow\": data.data.jurisdictions.eu[input.country]}\n",
			[]string{"exchange.rego:3", "data.data.jurisdictions", "no data file"}},
		{"malformed data file", "data/purposes.json", `{"purposes": `, []string{"purposes.json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, "testdata/minimal")
			write(t, dir, tc.file, tc.body)
			_, err := Load(context.Background(), dir)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want a *CompileError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDecisionOfTheWrongShapeIsAnError(t *testing.T) {
	ctx := context.Background()
	for name, body := range map[string]string{
		"allow not a boolean":  `decision := {"allow": "yes", "reasons": []}`,
		"reasons not strings":  `decision := {"allow": false, "reasons": [1, 2]}`,
		"validity negative":    `decision := {"allow": true, "max_validity_s": -1}`,
		"decision not object":  `decision := true`,
		"conflicting outcomes": "decision := {\"allow\": true}\n\ndecision := {\"allow\": false} if input.purpose",
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, "testdata/minimal")
			write(t, dir, "exchange.rego", "package xborder.exchange\n\n"+body+"\n")
			e, err := NewEngine(ctx, dir, nil)
			t.Cleanup(func() { closeEngine(e) })
			if err != nil {
				// Some conflicts are caught at compile time already.
				var ce *CompileError
				if errors.As(err, &ce) {
					return
				}
				t.Fatal(err)
			}
			d, err := e.Exchange(ctx, openData("research"))
			if err == nil {
				t.Fatalf("accepted %+v", d)
			}
			if d.Allow {
				t.Fatal("an invalid decision allowed the request")
			}
		})
	}
}

func TestUndefinedDecisionIsNoDecision(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "registry.rego", "package xborder.registry\n\ndecision := {\"allow\": true} if input.command.op == \"project.propose\"\n")
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Registry(ctx, RegistryInput{Command: RegistryCommand{Op: "project.close"}})
	if !errors.Is(err, ErrNoDecision) || d.Allow {
		t.Fatalf("undefined decision: %+v, %v", d, err)
	}
}

func TestFailedReloadKeepsTheLastGoodPolicy(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "testdata/minimal")
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	good := e.Info().Hash
	write(t, dir, "exchange.rego", "package xborder.exchange\n\ndecision := {\n")
	if _, err := e.Reload(ctx); err == nil {
		t.Fatal("an invalid policy was accepted")
	}
	info := e.Info()
	if info.Hash != good || !strings.Contains(info.LastError, "exchange.rego") || info.LastErrorAt.IsZero() {
		t.Fatalf("after a failed reload: %+v", info)
	}
	if d, err := e.Exchange(ctx, openData("research")); err != nil || !d.Allow || d.Bundle != good {
		t.Fatalf("the last good policy no longer decides: %+v %v", d, err)
	}
	// A later good reload clears the error.
	write(t, dir, "exchange.rego", "package xborder.exchange\n\ndecision := {\"allow\": false, \"reasons\": [\"Closed for maintenance.\"]}\n")
	info, err = e.Reload(ctx)
	if err != nil || info.Hash == good || info.LastError != "" {
		t.Fatalf("good reload: %+v %v", info, err)
	}
	if d, _ := e.Exchange(ctx, openData("research")); d.Allow || d.Reasons[0] != "Closed for maintenance." {
		t.Fatalf("new policy not in force: %+v", d)
	}
}

func TestWatchReloadsOnFileChange(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "testdata/minimal")
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Watch(); err != nil {
		t.Fatal(err)
	}
	first := e.Info().Hash
	write(t, filepath.Join(dir, "data"), "purposes.json", `{"purposes": {"research": {}, "education": {}}}`)
	testkit.Eventually(t, 20*time.Second, "the change is picked up", func() bool { return e.Info().Hash != first })
	if d, _ := e.Exchange(ctx, openData("education")); !d.Allow {
		t.Fatalf("new purpose not in force: %+v", d)
	}
	second := e.Info().Hash
	write(t, dir, "api.rego", "package xborder.api\n\nallow if {\n")
	testkit.Eventually(t, 20*time.Second, "the bad change is refused", func() bool { return e.Info().LastError != "" })
	if e.Info().Hash != second {
		t.Fatal("a bad policy replaced the good one")
	}
}

func TestDecisionsDuringReloadsAreConsistent(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "testdata/minimal")
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := e.Exchange(ctx, openData("research"))
				if err != nil || d.Bundle == "" {
					t.Errorf("decision during reload: %+v %v", d, err)
					return
				}
			}
		}()
	}
	for i := range 10 {
		write(t, dir, "exchange_extra.rego", "package xborder.extra\n\nn := "+string(rune('0'+i))+"\n")
		if _, err := e.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// A region's policy written before data.xborder.audit.decision existed
// still loads and decides everything else; the audit point then discloses
// nothing and says why. The shipped policy discloses the chain to members.
func TestAPolicyWithoutTheAuditPointLoadsAndDisclosesNothing(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "../policies")
	for _, f := range []string{"audit.rego", "audit_test.rego"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := NewEngine(ctx, dir, nil)
	if err != nil {
		t.Fatalf("a policy without the audit point: %v", err)
	}
	defer e.Close()
	in := AuditInput{Requester: Node{Node: "de-bw", Country: "DE"}, Self: Node{Node: "fr-grandest", Country: "FR"}, Detail: "chain"}
	d, err := e.Audit(ctx, in)
	if err != nil || d.Allow || len(d.Rules) != 1 || d.Rules[0] != "no_audit_policy" {
		t.Fatalf("audit without the point: %+v %v", d, err)
	}
	if ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "operator"}, Method: "GET", Path: "/v1/status"}); err != nil || !ok {
		t.Fatalf("the other points still decide: %v %v", ok, err)
	}
	e.Bundle().Plan(ctx)
	if ev := e.Bundle().Evaluator(); ev != "plan" {
		t.Fatalf("a policy without the optional point is still planned: %s", ev)
	}

	shipped, err := NewEngine(ctx, "../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer shipped.Close()
	if d, err := shipped.Audit(ctx, in); err != nil || !d.Allow || d.Rules[0] != "chain_to_members" {
		t.Fatalf("shipped audit policy, chain: %+v %v", d, err)
	}
	in.Detail = "records"
	if d, err := shipped.Audit(ctx, in); err != nil || d.Allow || d.Rules[0] != "records_withheld" {
		t.Fatalf("shipped audit policy, records: %+v %v", d, err)
	}
}

// A node holds the plan until it is ready (WithPlanAfter): topdown decides
// meanwhile, and the plan is made, and reported (WithOnPlanned), only once
// the channel is closed.
func TestPlanIsHeldUntilStartAndReported(t *testing.T) {
	ctx := context.Background()
	start := make(chan struct{})
	reported := make(chan Info, 2)
	held, err := NewEngine(ctx, "testdata/minimal", nil, WithPlanAfter(start), WithOnPlanned(func(i Info) { reported <- i }))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// An engine not held plans the same bundle meanwhile; once it has,
	// the held one would have too.
	free, err := NewEngine(ctx, "testdata/minimal", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer free.Close()
	testkit.Eventually(t, 60*time.Second, "the engine not held plans", func() bool { return free.Info().Evaluator == "plan" })
	if ev := held.Info().Evaluator; ev != "planning" {
		t.Fatalf("held engine: evaluator %q before start, want planning", ev)
	}
	select {
	case i := <-reported:
		t.Fatalf("a plan was reported before start: %+v", i)
	default:
	}
	// Topdown decides while the plan is held.
	if d, err := held.Exchange(ctx, openData("research")); err != nil || !d.Allow {
		t.Fatalf("decision while the plan is held: %+v %v", d, err)
	}
	close(start)
	select {
	case i := <-reported:
		if i.Evaluator != "plan" || i.Hash != held.Info().Hash {
			t.Fatalf("reported after start: %+v", i)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no plan reported within 60 s of start")
	}
	if d, err := held.Exchange(ctx, openData("research")); err != nil || !d.Allow {
		t.Fatalf("decision from the plan: %+v %v", d, err)
	}
}

// An engine closed while its plan is held makes no plan and reports none
// (goleak, in TestMain, checks that nothing is left running).
func TestCloseWhileThePlanIsHeld(t *testing.T) {
	reported := make(chan Info, 1)
	e, err := NewEngine(context.Background(), "testdata/minimal", nil,
		WithPlanAfter(make(chan struct{})), WithOnPlanned(func(i Info) { reported <- i }))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return while the plan was held")
	}
	if ev := e.Info().Evaluator; ev != "planning" {
		t.Fatalf("evaluator after Close: %q, want planning (no plan made)", ev)
	}
	select {
	case i := <-reported:
		t.Fatalf("a plan was reported after Close: %+v", i)
	default:
	}
}
