package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console"
)

// consoleGet fetches a console page with the session cookie token,
// without following redirects.
func consoleGet(t *testing.T, n *Node, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.APIAddr()+path, nil)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "xborder_session", Value: token})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func sessionsAPI(t *testing.T, n *Node, method, path, role string) (int, []byte) {
	t.Helper()
	tok, err := api.IssueToken(n.id.Key, n.id.PeerID.String(), api.User{Subject: "op-" + role, Role: role}, time.Hour, time.Now())
	must(t, err)
	req, _ := http.NewRequest(method, "http://"+n.APIAddr()+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// A console session outlives a restart of the node; an operator lists it
// and revokes it through the API, and the browser's next page is the
// sign-in page. Sign-in and revocation are in the audit trail.
func TestConsoleSessionSurvivesRestartAndIsRevoked(t *testing.T) {
	f := newTestFed(t, "sessions", []string{"fr-grandest"}, nil)
	n := f.start(0)
	code, err := console.IssueSignInCode(n.id.Key, n.id.PeerID.String(),
		api.User{Subject: "amelie@unistra.fr", Role: api.RoleResearcher}, 0, time.Now())
	must(t, err)
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.APIAddr()+"/console/signin?code="+url.QueryEscape(code), nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	must(t, err)
	resp.Body.Close()
	var token string
	for _, ck := range resp.Cookies() {
		if ck.Name == "xborder_session" {
			token = ck.Value
		}
	}
	if resp.StatusCode != http.StatusSeeOther || token == "" {
		t.Fatalf("sign-in: %d, cookie %q", resp.StatusCode, token)
	}
	must(t, n.Close())

	n = f.start(0)
	if code := consoleGet(t, n, "/console/", token); code != http.StatusOK {
		t.Fatalf("after the restart the session answers %d", code)
	}
	if code, _ := sessionsAPI(t, n, http.MethodGet, "/v1/sessions", api.RoleResearcher); code != http.StatusForbidden {
		t.Fatalf("a researcher lists sessions: %d", code)
	}
	code2, body := sessionsAPI(t, n, http.MethodGet, "/v1/sessions", api.RoleOperator)
	var list []api.ConsoleSession
	if code2 != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 1 || list[0].Subject != "amelie@unistra.fr" || list[0].Method != "code" {
		t.Fatalf("list: %d %s", code2, body)
	}
	if code, body := sessionsAPI(t, n, http.MethodDelete, "/v1/sessions/"+list[0].ID, api.RoleOperator); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code := consoleGet(t, n, "/console/", token); code != http.StatusSeeOther {
		t.Fatalf("a revoked session's next page: %d", code)
	}
	for _, typ := range []string{console.AuditSignIn, auditSessionRevoke} {
		recs, _, err := n.audit.AuditRecords(context.Background(), audit.Filter{Type: typ})
		must(t, err)
		if len(recs) != 1 || recs[0].Subject != "amelie@unistra.fr" {
			t.Fatalf("%s records: %+v", typ, recs)
		}
	}
}
