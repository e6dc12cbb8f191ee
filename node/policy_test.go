package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// call makes an API request to a node with a token of the given role.
func call(t *testing.T, n *Node, role, method, path string) (int, []byte) {
	t.Helper()
	tok, err := api.IssueToken(n.id.Key, n.id.PeerID.String(), api.User{Subject: "tester", Role: role}, time.Hour, time.Now())
	must(t, err)
	req, _ := http.NewRequest(method, "http://"+n.APIAddr()+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestAPIAuthorisationFollowsThePolicy(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	n := f.start(0)
	cases := []struct {
		role, method, path string
		want               int
	}{
		{api.RoleResearcher, "GET", "/v1/status", 200},
		{api.RoleAuditor, "GET", "/v1/peers", 200},
		{api.RoleLegal, "GET", "/v1/policy", 200},
		{api.RoleResearcher, "GET", "/v1/policy", 403},
		{api.RoleResearcher, "POST", "/v1/policy/reload", 403},
		{api.RoleAuditor, "POST", "/v1/policy/reload", 403},
		{api.RoleLegal, "POST", "/v1/policy/reload", 200},
		{api.RoleOperator, "POST", "/v1/policy/reload", 200},
	}
	for _, tc := range cases {
		code, body := call(t, n, tc.role, tc.method, tc.path)
		if code != tc.want {
			t.Errorf("%s %s %s = %d, want %d: %s", tc.role, tc.method, tc.path, code, tc.want, body)
		}
	}
	// Changing the API rule changes who may call what, without a restart.
	apiRego := filepath.Join(n.cfg.PoliciesPath(n.dataDir), "api.rego")
	original, err := os.ReadFile(apiRego)
	must(t, err)
	lockdown := "# During a lockdown only operators may call the API.\npackage xborder.api\n\ndefault allow := false\n\nallow if input.user.role == \"operator\"\n"
	must(t, os.WriteFile(apiRego, []byte(lockdown), 0o644))
	testkit.Eventually(t, 20*time.Second, "the lockdown rule is in force", func() bool {
		code, _ := call(t, n, api.RoleResearcher, "GET", "/v1/status")
		return code == 403
	})
	if code, _ := call(t, n, api.RoleOperator, "GET", "/v1/status"); code != 200 {
		t.Fatalf("operator during lockdown: %d", code)
	}
	must(t, os.WriteFile(apiRego, original, 0o644))
	testkit.Eventually(t, 20*time.Second, "the original rule is back", func() bool {
		code, _ := call(t, n, api.RoleResearcher, "GET", "/v1/status")
		return code == 200
	})
}

func TestInvalidPolicyKeepsTheLastGoodOneAndStatusSaysWhy(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	n := f.start(0)
	good := n.Status(context.Background()).Policy
	if good.Hash == "" || good.LoadedAt.IsZero() {
		t.Fatalf("status without policy: %+v", good)
	}
	exchange := filepath.Join(n.cfg.PoliciesPath(n.dataDir), "exchange.rego")
	original, err := os.ReadFile(exchange)
	must(t, err)
	must(t, os.WriteFile(exchange, append(original, []byte("\ndecision := {\n")...), 0o644))
	testkit.Eventually(t, 20*time.Second, "the broken file is refused", func() bool {
		return n.Status(context.Background()).Policy.LastError != ""
	})
	st := n.Status(context.Background()).Policy
	if st.Hash != good.Hash || !strings.Contains(st.LastError, "exchange.rego") {
		t.Fatalf("after a broken edit: %+v", st)
	}
	code, body := call(t, n, api.RoleOperator, "POST", "/v1/policy/reload")
	var refused api.PolicyReloadError
	if code != 422 || json.Unmarshal(body, &refused) != nil || refused.Active.Hash != good.Hash || !strings.Contains(refused.Error, "exchange.rego:") {
		t.Fatalf("reload of a broken policy: %d %s", code, body)
	}
	// The node still decides with the last good bundle.
	if code, _ := call(t, n, api.RoleResearcher, "GET", "/v1/peers"); code != 200 {
		t.Fatalf("API authorisation lost with the broken policy: %d", code)
	}
	must(t, os.WriteFile(exchange, original, 0o644))
	testkit.Eventually(t, 20*time.Second, "the repaired file is loaded", func() bool {
		return n.Status(context.Background()).Policy.LastError == ""
	})
}

func TestReloadSignalReloadsPolicies(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	sig := make(chan os.Signal, 1)
	n, err := Open(f.dirs[0], f.cfgs[0], WithLogger(testLogger(t, "fr")), WithReloadSignal(sig))
	must(t, err)
	must(t, n.Start(context.Background()))
	defer n.Close()
	before := n.policy.Info().LoadedAt
	sig <- syscall.SIGHUP
	testkit.Eventually(t, 20*time.Second, "SIGHUP reloads", func() bool { return n.policy.Info().LoadedAt.After(before) })
}

func TestShippedExchangePolicyDecidesThroughTheNode(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	n := f.start(0)
	in := policy.ExchangeInput{
		Requester: policy.Requester{Node: policy.Node{Node: "de-bw", Country: "DE"}, Researcher: policy.Researcher{Sub: "alice", Role: "researcher"}},
		Resource:  policy.Resource{Kind: "dataset", ID: "icu", Owner: "fr-grandest", Theme: "health", Classification: "sensitive", PersonalData: true},
		Purpose:   "research",
		Self:      policy.Node{Node: "fr-grandest", Country: "FR"},
		Time:      time.Now(),
	}
	d, err := n.policy.Exchange(context.Background(), in)
	must(t, err)
	if d.Allow || len(d.Reasons) == 0 || len(d.Rules) != len(d.Reasons) || d.Bundle != n.policy.Info().Hash {
		t.Fatalf("sensitive data without a project: %+v", d)
	}
	in.Project = &policy.Project{ID: "fr-de-oncology", Lead: "fr-grandest", Partners: []string{"fr-grandest", "de-bw"},
		Datasets: []string{"fr-grandest/icu"}, EthicsRef: "CPP-2026-114", Status: "active", Themes: []string{"health"}}
	d, err = n.policy.Exchange(context.Background(), in)
	must(t, err)
	if !d.Allow || len(d.Obligations) == 0 || d.MaxValidity > 30*24*time.Hour || d.MaxValidity <= 0 {
		t.Fatalf("sensitive data within a project: %+v", d)
	}
}

func TestMembersDeclareTheirPolicyBundleInTheRegistry(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:3], nil)
	nodes := f.startAll()
	ctx := context.Background()
	declared := func(n *Node, member, hash string) func() bool {
		return func() bool {
			declared, err := n.clerk.DeclaredPolicies(ctx)
			if err != nil {
				return false
			}
			peers := api.PeerPolicies(declared, n.policy.Info().Hash)
			for _, p := range peers {
				if p.Member == member {
					return p.Declared && p.Hash == hash && p.SameAsLocal == (hash == n.policy.Info().Hash)
				}
			}
			return false
		}
	}
	for _, n := range nodes {
		for _, m := range nodes {
			testkit.Eventually(t, 30*time.Second, n.cfg.Name+" sees the bundle "+m.cfg.Name+" runs", declared(n, m.cfg.Name, m.policy.Info().Hash))
		}
	}
	// Basel's legal team changes a rule: once reloaded, every member sees
	// that Basel now decides with another bundle.
	basel := nodes[2]
	before := basel.policy.Info().Hash
	file := filepath.Join(basel.cfg.PoliciesPath(basel.dataDir), "exchange.rego")
	src, err := os.ReadFile(file)
	must(t, err)
	must(t, os.WriteFile(file, append(src, []byte("\n# Reviewed by the Basel legal team.\n")...), 0o644))
	info, err := basel.policy.Reload(ctx)
	must(t, err)
	if info.Hash == before {
		t.Fatal("the bundle hash did not change with the file")
	}
	// declared also checks that the others no longer call it the same as theirs.
	for _, n := range nodes {
		testkit.Eventually(t, 30*time.Second, n.cfg.Name+" sees Basel's new bundle", declared(n, "ch-basel", info.Hash))
	}
}

// A node configured with policy.evaluator topdown never plans its policy,
// and its status (GET /v1/status, `xborder status`) says what is configured
// and what decides.
func TestPolicyEvaluatorTopdownShowsInStatus(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	f.cfgs[0].Policy.Evaluator = policy.EvaluatorTopdown
	n := f.start(0)
	st := n.Status(context.Background()).Policy
	if st.EvaluatorConfigured != "topdown" || st.Evaluator != "topdown: policy.evaluator is topdown" {
		t.Fatalf("status policy: %+v", st)
	}
	code, body := call(t, n, api.RoleOperator, "GET", "/v1/status")
	if code != 200 || !strings.Contains(string(body), `"evaluator_configured": "topdown"`) ||
		!strings.Contains(string(body), `"evaluator": "topdown: policy.evaluator is topdown"`) {
		t.Fatalf("GET /v1/status: %d %s", code, body)
	}
	// Decisions are still taken, by topdown.
	if code, _ := call(t, n, api.RoleResearcher, "GET", "/v1/peers"); code != 200 {
		t.Fatalf("researcher GET /v1/peers: %d", code)
	}
}
