package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/nodetest"
)

// region is one in-process node of a test federation, with an operator
// token for its API.
type region struct {
	n     *node.Node
	base  string
	token string
}

// startRegions starts a federation of real nodes on loopback, one per
// name, each with an operator token for its API.
func startRegions(t *testing.T, names ...string) []*region {
	t.Helper()
	f := nodetest.NewFederation(t, names)
	var out []*region
	for i := range names {
		n := f.Start(i)
		tok, err := api.IssueToken(f.Identity(i).Key, n.ID().String(), api.User{Subject: "op@" + f.Configs[i].Name, Role: api.RoleOperator}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &region{n: n, base: "http://" + n.APIAddr(), token: tok})
	}
	return out
}

// call sends one API request and returns the status and the error body.
func (r *region) call(t *testing.T, method, path, contentType string, body io.Reader) (int, api.Error, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e api.Error
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, e, raw
}

func multipartBody(t *testing.T, meta any, content []byte) (string, io.Reader) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	part, _ := mw.CreateFormField("metadata")
	_ = json.NewEncoder(part).Encode(meta)
	fp, _ := mw.CreateFormFile("file", "data.csv")
	_, _ = fp.Write(content)
	_ = mw.Close()
	return mw.FormDataContentType(), &b
}

// TestClientMistakesAre4xxWithAReason sends the mistakes a client can make
// to every write route of a real node (two regions on loopback, the
// shipped policies, raft, bbolt): each is answered 4xx with a JSON error
// that says what is wrong, never 5xx or 502.
func TestClientMistakesAre4xxWithAReason(t *testing.T) {
	rs := startRegions(t, "fr-grandest", "de-bw")
	fr := rs[0]
	card := map[string]any{"task": "tumour segmentation", "architecture": "3D U-Net", "training_datasets": []string{"fr-grandest/icu"},
		"metrics": map[string]float64{"dice": 0.87}, "intended_uses": []string{"research"}, "excluded_uses": []string{"diagnosis"}}
	for _, meta := range []map[string]any{
		{"id": "icu", "title": "ICU stays", "theme": "health", "classification": "open"},
		{"id": "seg", "kind": "model", "title": "Tumour segmentation", "theme": "health", "classification": "open", "model": card},
	} {
		ct, body := multipartBody(t, meta, []byte("a,b\n1,2\n"))
		if code, _, raw := fr.call(t, http.MethodPost, "/v1/datasets", ct, body); code != http.StatusOK {
			t.Fatalf("publish %v: %d %s", meta["id"], code, raw)
		}
	}
	long := strings.Repeat("x", 300<<10) // under the API's body limit, over the registry's command limit
	agreement := func(extra string) string {
		return `{"id":"seg-2026","model":"fr-grandest/seg","parties":["fr-grandest","de-bw"],"purposes":["research"]` + extra + `}`
	}
	cases := []struct {
		name, method, path, body string
		want                     int
		reason                   string
	}{
		{"request: a path in the ID", "POST", "/v1/requests", `{"owner":"de-bw","id":"../etc","purpose":"research"}`, 400, "invalid dataset or model ID"},
		{"request: a download's name", "POST", "/v1/requests", `{"owner":"de-bw","id":"icu.partial","purpose":"research"}`, 400, `ends in ".partial"`},
		{"request: no ID", "POST", "/v1/requests", `{"owner":"de-bw","id":"","purpose":"research"}`, 400, "is empty"},
		{"request: this node's own entry", "POST", "/v1/requests", `{"owner":"fr-grandest","id":"icu","purpose":"research"}`, 400, "entry of this node"},
		{"request: not a member", "POST", "/v1/requests", `{"owner":"nl-limburg","id":"icu","purpose":"research"}`, 404, "not a member"},
		{"request: not JSON", "POST", "/v1/requests", `{"owner":`, 400, "not valid JSON"},
		{"request: an unknown field", "POST", "/v1/requests", `{"owner":"de-bw","id":"icu","why":"x"}`, 400, "unknown field"},
		{"request: an oversized body", "POST", "/v1/requests", `{"owner":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "exceeds"},
		{"fetch: a path in the ID", "POST", "/v1/fetch", `{"owner":"de-bw","id":"../etc","purpose":"research"}`, 400, "invalid dataset or model ID"},
		{"fetch: upper case", "POST", "/v1/fetch", `{"owner":"de-bw","id":"ICU","purpose":"research"}`, 400, "lower-case"},
		{"fetch: neither grant nor purpose", "POST", "/v1/fetch", `{"owner":"de-bw","id":"icu"}`, 400, "give a purpose"},
		{"fetch: this node's own entry", "POST", "/v1/fetch", `{"owner":"fr-grandest","id":"icu","purpose":"research"}`, 400, "entry of this node"},
		{"project propose: oversized command", "POST", "/v1/projects", `{"id":"p1","title":"` + long + `","themes":["health"],"partners":["fr-grandest","de-bw"]}`, 413, "too large"},
		{"project propose: a bad dataset", "POST", "/v1/projects", `{"id":"p2","title":"T","themes":["health"],"partners":["fr-grandest","de-bw"],"datasets":["fr-grandest/../x"]}`, 400, "invalid"},
		{"project propose: a bad ID", "POST", "/v1/projects", `{"id":"P/..","title":"T","themes":["health"],"partners":["fr-grandest","de-bw"]}`, 409, "project id"},
		{"project join: unknown", "POST", "/v1/projects/nope/join", ``, 403, "knows no project"},
		{"project close: unknown", "POST", "/v1/projects/nope/close", ``, 403, "knows no project"},
		{"project attach: a download's name", "POST", "/v1/projects/nope/attach", `{"dataset":"fr-grandest/icu.partial"}`, 400, `".partial"`},
		{"project attach: not OWNER/ID", "POST", "/v1/projects/nope/attach", `{"dataset":"icu"}`, 400, "not OWNER/ID"},
		{"agreement: until 9999-12-31", "POST", "/v1/agreements", agreement(`,"valid_until":"9999-12-31T00:00:00Z"`), 400, "valid_until 9999-12-31: date out of range"},
		{"agreement: from 1600", "POST", "/v1/agreements", agreement(`,"valid_from":"1600-01-01T00:00:00Z","valid_until":"2027-01-01T00:00:00Z"`), 400, "valid_from 1600-01-01: date out of range"},
		{"agreement: from 2300", "POST", "/v1/agreements", agreement(`,"valid_from":"2300-01-01T00:00:00Z","valid_until":"2301-01-01T00:00:00Z"`), 400, "date out of range"},
		{"agreement: until before from", "POST", "/v1/agreements", agreement(`,"valid_from":"2027-01-01T00:00:00Z","valid_until":"2026-06-01T00:00:00Z"`), 400, "valid_until 2026-06-01T00:00:00Z must be after valid_from 2027-01-01T00:00:00Z"},
		{"agreement: until in the past", "POST", "/v1/agreements", agreement(`,"valid_until":"2001-01-01T00:00:00Z"`), 400, "must be after valid_from"},
		{"agreement: no until", "POST", "/v1/agreements", agreement(``), 400, "valid_until"},
		{"agreement: until not a date", "POST", "/v1/agreements", agreement(`,"valid_until":"31/12/2027"`), 400, "not valid JSON"},
		{"agreement: a bad model ID", "POST", "/v1/agreements", `{"id":"a2","model":"fr-grandest/seg.partial","parties":["fr-grandest","de-bw"],"purposes":["research"],"valid_until":"2027-01-01T00:00:00Z"}`, 400, `".partial"`},
		{"agreement: long conditions", "POST", "/v1/agreements", agreement(`,"valid_until":"2027-01-01T00:00:00Z","conditions":"` + long + `"`), 400, "conditions"},
		{"agreement sign: unknown", "POST", "/v1/agreements/nope/sign", ``, 404, "no agreement"},
		{"agreement revoke: unknown", "POST", "/v1/agreements/nope/revoke", ``, 403, "knows no agreement"},
		{"member propose: no country", "POST", "/v1/members", `{"candidate":{"name":"nl-limburg"}}`, 409, "country"},
		{"member propose: oversized command", "POST", "/v1/members", `{"candidate":{"name":"nl-limburg","country":"NL","org":"` + long + `"}}`, 413, "too large"},
		{"member vote: neither yes nor no", "POST", "/v1/members/nl-limburg/vote", `{"vote":"maybe"}`, 400, `"yes" or "no"`},
		{"member vote: nobody proposed", "POST", "/v1/members/nl-limburg/vote", `{"vote":"yes"}`, 403, "no pending proposal"},
		{"policy eval: no query", "POST", "/v1/policy/eval", `{"input":{}}`, 400, "query is empty"},
		{"policy eval: a parse error", "POST", "/v1/policy/eval", `{"query":"data.x[","input":{}}`, 422, "rego_parse_error"},
		{"policy eval: oversized input", "POST", "/v1/policy/eval", `{"query":"data.x","input":{"a":"` + strings.Repeat("x", 2<<20) + `"}}`, 413, "exceeds"},
		{"withdraw: unknown", "DELETE", "/v1/datasets/nope", ``, 404, "no such catalogue entry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			ct := ""
			if c.body != "" {
				body, ct = strings.NewReader(c.body), "application/json"
			}
			code, e, raw := fr.call(t, c.method, c.path, ct, body)
			if code != c.want || e.Code != code || !strings.Contains(e.Error, c.reason) {
				t.Errorf("%d, want %d with %q: %.600s", code, c.want, c.reason, raw)
			}
		})
	}
	// Signing an agreement a party refused is a conflict, not a failure of
	// the node: de-bw refuses a model it cannot see (confidential, shown
	// only to lu-luxembourg).
	card["training_datasets"] = []string{}
	ct, body := multipartBody(t, map[string]any{"id": "secret-seg", "kind": "model", "title": "Secret segmentation", "theme": "health",
		"classification": "confidential", "partners": []string{"lu-luxembourg"}, "model": card}, []byte("weights"))
	if code, _, raw := fr.call(t, http.MethodPost, "/v1/datasets", ct, body); code != http.StatusOK {
		t.Fatalf("publish the confidential model: %d %s", code, raw)
	}
	proposal := `{"id":"secret-2026","model":"fr-grandest/secret-seg","parties":["fr-grandest","de-bw"],"purposes":["research"],"valid_until":"2027-01-01T00:00:00Z"}`
	// 502 while de-bw cannot be reached yet; 403 once it refused.
	testkit.EventuallyNil(t, 30*time.Second, "de-bw refuses the proposal of a model it cannot see", func() error {
		code, e, raw := fr.call(t, http.MethodPost, "/v1/agreements", "application/json", strings.NewReader(proposal))
		if code == http.StatusForbidden && e.Denied && strings.Contains(strings.Join(e.Reasons, " "), "de-bw: ") {
			return nil
		}
		if code != http.StatusBadGateway {
			t.Fatalf("proposal of a model de-bw cannot see: %d %.600s", code, raw)
		}
		return fmt.Errorf("%d %.600s", code, raw)
	})
	if code, e, raw := fr.call(t, http.MethodPost, "/v1/agreements/secret-2026/sign", "", nil); code != http.StatusConflict || !strings.Contains(e.Error, "refused by de-bw") {
		t.Errorf("signing an agreement de-bw refused: %d %.600s", code, raw)
	}

	// Publishing follows the same ID rule as requests and fetches.
	for _, id := range []string{"icu.partial", "a..b", "Upper", "-x", strings.Repeat("a", 129)} {
		ct, body := multipartBody(t, map[string]any{"id": id, "title": "T", "theme": "health", "classification": "open"}, []byte("a,b\n"))
		if code, e, raw := fr.call(t, http.MethodPost, "/v1/datasets", ct, body); code != http.StatusBadRequest || !strings.Contains(e.Error, "id: ") {
			t.Errorf("publish %q: %d %s", id, code, raw)
		}
	}
}
