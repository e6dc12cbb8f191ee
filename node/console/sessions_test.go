package console

import (
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console/sessionstore"
)

// sessionToken is the console cookie's value in browser b.
func (tc *testConsole) sessionToken(b *http.Client) string {
	tc.t.Helper()
	u, _ := url.Parse(tc.srv.URL + Prefix)
	for _, ck := range b.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			return ck.Value
		}
	}
	return ""
}

// withCookie is a fresh browser that presents token as its session.
func (tc *testConsole) withCookie(token string) *http.Client {
	b := tc.browser()
	u, _ := url.Parse(tc.srv.URL + Prefix)
	b.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: token, Path: "/"}})
	return b
}

func signedIn(a answer) bool { return a.code == http.StatusOK }

func TestSessionSurvivesRestart(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	token := tc.sessionToken(b)
	if len(token) != 43 {
		t.Fatalf("cookie %q is not a 256-bit token", token)
	}
	// The store keeps the token's hash, never the token.
	list, err := tc.store.List()
	if err != nil || len(list) != 1 || list[0].ID != sessionstore.IDOf(token) || list[0].Subject != "researcher@example.org" ||
		list[0].Method != sessionstore.MethodCode {
		t.Fatalf("stored: %+v %v", list, err)
	}
	tc.restart()
	if home := tc.get(b, Prefix); !signedIn(home) || !strings.Contains(home.body, "researcher@example.org") {
		t.Fatalf("after a restart: %d", home.code)
	}
	// The CSRF token still matches: a form sent after the restart is carried out.
	if resp := tc.post(b, Prefix+"signout", url.Values{"csrf": {tc.csrf(b)}}); resp.code != http.StatusOK {
		t.Fatalf("sign-out after restart: %d", resp.code)
	}
}

func TestSignOutEndsTheSessionAtTheNode(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleOperator)
	token := tc.sessionToken(b)
	resp := tc.post(b, Prefix+"signout", url.Values{"csrf": {tc.csrf(b)}})
	if resp.code != http.StatusOK || !strings.Contains(resp.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %d, Set-Cookie %q", resp.code, resp.header.Get("Set-Cookie"))
	}
	if l, _ := tc.store.List(); len(l) != 0 {
		t.Fatalf("after sign-out the store holds %d sessions", len(l))
	}
	// A copy of the cookie taken before sign-out opens nothing.
	if resp := tc.get(tc.withCookie(token), Prefix); resp.code != http.StatusSeeOther {
		t.Fatalf("replayed cookie after sign-out: %d", resp.code)
	}
	want := []string{AuditSignIn + " operator@example.org", AuditSignOut + " operator@example.org"}
	if got := tc.rec.list(); !slices.Equal(got, want) {
		t.Fatalf("audit records %v, want %v", got, want)
	}
}

func TestRevokedSessionIsSignedOut(t *testing.T) {
	tc := newTestConsole(t)
	r := tc.signIn(api.RoleResearcher)
	o := tc.signIn(api.RoleOperator)
	if !signedIn(tc.get(r, Prefix)) {
		t.Fatal("researcher not signed in")
	}
	if err := tc.store.Delete(sessionstore.IDOf(tc.sessionToken(r))); err != nil {
		t.Fatal(err)
	}
	if resp := tc.get(r, Prefix+"catalogue"); resp.code != http.StatusSeeOther || resp.header.Get("Location") != Prefix+"signin" {
		t.Fatalf("revoked session's next page: %d %q", resp.code, resp.header.Get("Location"))
	}
	if resp := tc.post(r, Prefix+"catalogue/de-bw/icu/request", url.Values{"purpose": {"x"}}); resp.code != http.StatusForbidden {
		t.Fatalf("revoked session's form: %d", resp.code)
	}
	if !signedIn(tc.get(o, Prefix)) {
		t.Fatal("revoking one session ended another")
	}
}

func TestSessionExpiresIdleAndAbsolute(t *testing.T) {
	tc := newTestConsole(t)
	idle := tc.signIn(api.RoleResearcher)
	active := tc.signIn(api.RoleResearcher)
	for range 7 { // 7 × 55 min: active all along, past the idle timeout
		tc.advance(55 * time.Minute)
		if !signedIn(tc.get(active, Prefix)) {
			t.Fatal("an active session ended before its lifetime")
		}
	}
	if resp := tc.get(idle, Prefix); resp.code != http.StatusSeeOther {
		t.Fatalf("idle session: %d", resp.code)
	}
	// The code asked for DefaultSessionTTL (8 h): that is its absolute end.
	tc.advance(DefaultSessionTTL - 7*55*time.Minute)
	if resp := tc.get(active, Prefix); resp.code != http.StatusSeeOther {
		t.Fatalf("session past its lifetime: %d", resp.code)
	}
	if l, _ := tc.store.List(); len(l) != 0 {
		t.Fatalf("expired sessions kept: %+v", l)
	}
}

func TestForgedAndForeignCookiesRefused(t *testing.T) {
	tc := newTestConsole(t)
	other := newTestConsole(t)
	b := other.signIn(api.RoleOperator)
	foreign := other.sessionToken(b)
	if !signedIn(other.get(b, Prefix)) {
		t.Fatal("not signed in at the other node")
	}
	stored, _ := other.store.List()
	for name, v := range map[string]string{
		"another node's session":   foreign,
		"a session ID (the hash)":  stored[0].ID,
		"guessed":                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"a sign-in code as cookie": tc.code(api.RoleOperator),
		"garbage":                  "%00<script>",
		"a real token with a typo": foreign[:42] + "B",
		"a real token, lengthened": foreign + "A",
	} {
		if resp := tc.get(tc.withCookie(v), Prefix); resp.code != http.StatusSeeOther {
			t.Errorf("%s: %d", name, resp.code)
		}
	}
}

func TestConcurrentSignIns(t *testing.T) {
	tc := newTestConsole(t)
	const n = 16
	codes := make([]string, n)
	for i := range codes {
		codes[i] = tc.code(api.RoleResearcher)
	}
	browsers := make([]*http.Client, n)
	var wg sync.WaitGroup
	for i := range n {
		browsers[i] = tc.browser()
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, tc.srv.URL+Prefix+"signin?code="+url.QueryEscape(codes[i]), nil)
			resp, err := browsers[i].Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("sign-in %d: %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if l, _ := tc.store.List(); len(l) != n {
		t.Fatalf("%d sessions stored, want %d", len(l), n)
	}
	for _, b := range browsers {
		if !signedIn(tc.get(b, Prefix)) {
			t.Fatal("a concurrent sign-in did not hold")
		}
	}
}

func TestStoreFailingSignsNobodyIn(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleOperator)
	code := tc.code(api.RoleOperator)
	if err := tc.store.Close(); err != nil {
		t.Fatal(err)
	}
	if resp := tc.get(b, Prefix); resp.code != http.StatusSeeOther {
		t.Fatalf("a session with its store closed: %d", resp.code)
	}
	jar, _ := cookiejar.New(nil)
	fresh := &http.Client{Jar: jar, CheckRedirect: tc.browser().CheckRedirect}
	resp := tc.get(fresh, Prefix+"signin?code="+url.QueryEscape(code))
	if resp.code != http.StatusServiceUnavailable || tc.sessionToken(fresh) != "" {
		t.Fatalf("sign-in with the store closed: %d, cookie %q", resp.code, tc.sessionToken(fresh))
	}
}

func TestSignInNotRecordedIsRefused(t *testing.T) {
	tc := newTestConsole(t)
	tc.rec.setFail(errors.New("audit trail unavailable"))
	b := tc.browser()
	resp := tc.get(b, Prefix+"signin?code="+url.QueryEscape(tc.code(api.RoleOperator)))
	if resp.code != http.StatusServiceUnavailable || tc.sessionToken(b) != "" {
		t.Fatalf("unrecorded sign-in: %d", resp.code)
	}
	if l, _ := tc.store.List(); len(l) != 0 {
		t.Fatalf("an unrecorded sign-in left %d sessions", len(l))
	}
}
