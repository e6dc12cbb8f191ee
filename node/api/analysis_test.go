package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/nodetest"
)

// The analyses' routes on real nodes: a researcher of one region fits a
// model over another's cohort through the API, follows it, reads it back
// and has it verified; mistakes are 4xx with their reasons, and nobody
// reads another's analysis.
func TestAnalysesThroughTheAPI(t *testing.T) {
	f := nodetest.NewFederation(t, []string{"fr-grandest", "de-bw"})
	nodes := f.StartAll()
	as := func(i int, sub, role string) *region {
		tok, err := api.IssueToken(f.Identity(i).Key, nodes[i].ID().String(), api.User{Subject: sub, Org: "Org", Role: role}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return &region{n: nodes[i], base: "http://" + nodes[i].APIAddr(), token: tok}
	}
	fr := as(0, "op@fr", api.RoleOperator)
	alice, bob, auditor := as(1, "alice@uni-freiburg.de", api.RoleResearcher), as(1, "bob@uni-freiburg.de", api.RoleResearcher), as(1, "eve@audit.de", api.RoleAuditor)
	ct, body := multipartBody(t, map[string]any{"id": "cohort", "title": "Cohort", "theme": "health", "classification": "restricted",
		"dictionary": cohort.Dictionary()}, cohort.Generate("fr-grandest", 600, 5))
	if code, e, _ := fr.call(t, http.MethodPost, "/v1/datasets", ct, body); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, e.Error)
	}
	testkit.Eventually(t, 30*time.Second, "de-bw lists the cohort", func() bool {
		code, _, _ := alice.call(t, http.MethodGet, "/v1/catalogue/fr-grandest/cohort", "", nil)
		return code == http.StatusOK
	})
	post := func(r *region, path string, v any) (int, api.Error, []byte) {
		raw, _ := json.Marshal(v)
		return r.call(t, http.MethodPost, path, "application/json", bytes.NewReader(raw))
	}
	// Mistakes.
	for name, spec := range map[string]analysis.Spec{
		"unknown column": {Kind: analysis.KindSummary, Datasets: []string{"fr-grandest/cohort"}, Variables: []string{"weight"}, Purpose: "research"},
		"bad formula":    {Kind: analysis.KindGLM, Datasets: []string{"fr-grandest/cohort"}, Formula: "diabetes ~", Family: "binomial", Purpose: "research"},
		"no kind":        {Datasets: []string{"fr-grandest/cohort"}, Purpose: "research"},
	} {
		code, e, _ := post(alice, "/v1/analyses", spec)
		if code != http.StatusBadRequest || len(e.Reasons) == 0 {
			t.Errorf("%s: %d %+v", name, code, e)
		}
	}
	if code, _, _ := alice.call(t, http.MethodPost, "/v1/analyses", "application/json", bytes.NewReader([]byte(`{"kind":"glm","extra":1}`))); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d", code)
	}
	// An auditor reads, but does not run, analyses.
	spec := analysis.Spec{Kind: analysis.KindGLM, Datasets: []string{"fr-grandest/cohort"}, Formula: "sbp ~ age + sex", Family: "gaussian", Purpose: "research"}
	if code, _, _ := post(auditor, "/v1/analyses", spec); code != http.StatusForbidden {
		t.Errorf("an auditor ran an analysis: %d", code)
	}
	// Alice starts, follows and reads her fit.
	code, _, raw := post(alice, "/v1/analyses", spec)
	if code != http.StatusAccepted && code != http.StatusOK {
		t.Fatalf("start: %d %s", code, raw)
	}
	var st analysis.Status
	must(t, json.Unmarshal(raw, &st))
	for !st.Done() {
		code, e, raw := alice.call(t, http.MethodGet, "/v1/analyses/"+st.ID+"?after="+strconv.FormatUint(st.Version, 10)+"&wait=20s", "", nil)
		if code != http.StatusOK {
			t.Fatalf("follow: %d %s", code, e.Error)
		}
		must(t, json.Unmarshal(raw, &st))
	}
	if st.State != analysis.StateDone || st.Result == nil || st.Result.Combined.GLM == nil {
		t.Fatalf("the fit: %+v", st)
	}
	// Bob does not see it; the auditor does.
	if code, _, _ := bob.call(t, http.MethodGet, "/v1/analyses/"+st.ID, "", nil); code != http.StatusNotFound {
		t.Errorf("another researcher read it: %d", code)
	}
	if code, _, _ := auditor.call(t, http.MethodGet, "/v1/analyses/"+st.ID, "", nil); code != http.StatusOK {
		t.Errorf("the auditor: %d", code)
	}
	if code, _, _ := alice.call(t, http.MethodGet, "/v1/analyses/"+st.ID+"?after=x", "", nil); code != http.StatusBadRequest {
		t.Errorf("a malformed after: %d", code)
	}
	// Verified as it is, refused once changed.
	var v api.VerifyAnswer
	_, _, raw = post(alice, "/v1/analyses/verify", st.Result)
	must(t, json.Unmarshal(raw, &v))
	if !v.Valid || !v.Members["fr-grandest"] {
		t.Fatalf("verify: %+v", v)
	}
	st.Result.Combined.GLM.Deviance++
	_, _, raw = post(alice, "/v1/analyses/verify", st.Result)
	v = api.VerifyAnswer{}
	must(t, json.Unmarshal(raw, &v))
	if v.Valid || v.Problem == "" {
		t.Fatalf("a changed result verified: %+v", v)
	}
	if code, _, _ := alice.call(t, http.MethodPost, "/v1/analyses/verify", "application/json", bytes.NewReader([]byte(`[1,2]`))); code != http.StatusBadRequest {
		t.Errorf("a body that is no result: %d", code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
