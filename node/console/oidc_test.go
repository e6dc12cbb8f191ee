package console

import (
	"context"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console/sessionstore"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/oidc/oidctest"
)

// The console's OpenID Connect sign-in, over HTTP: a real provider
// (oidctest) with its login form, the real issuers (*oidc.Issuers), and
// the shipped policies deciding the roles, with a local file that trusts
// the test provider as a region would.

const (
	legalURN   = "urn:geant:lifescience-ri.eu:group:xborder:legal#aai.lifescience-ri.eu"
	auditorURN = "urn:geant:lifescience-ri.eu:group:xborder:auditors#aai.lifescience-ri.eu"
	idpSecret  = "console-test-secret"
	idpClient  = "xborder-console"
)

// idpUsers sign in at both providers; the password is "pw-" + username.
var idpUsers = []oidctest.User{
	{ID: "ada", Username: "ada", Password: "pw-ada", Claims: map[string]any{"email": "ada@uni-freiburg.de", "name": "Ada",
		"eduperson_scoped_affiliation": []string{"member@uni-freiburg.de", "staff@uni-freiburg.de"}}},
	{ID: "lea", Username: "lea", Password: "pw-lea", Claims: map[string]any{"email": "lea@unistra.fr",
		"eduperson_entitlement": []string{legalURN}}},
	{ID: "aud", Username: "aud", Password: "pw-aud", Claims: map[string]any{"email": "aud@kit.edu",
		"eduperson_entitlement": []string{auditorURN}}},
	// A student: a member of a listed university, which makes no researcher.
	{ID: "sam", Username: "sam", Password: "pw-sam", Claims: map[string]any{"email": "sam@uni-freiburg.de",
		"eduperson_scoped_affiliation": []string{"student@uni-freiburg.de", "member@uni-freiburg.de"}}},
}

// refusals keeps the identity refusals the console reports.
type refusals struct {
	mu   sync.Mutex
	list []api.IdentityRefusal
}

func (r *refusals) IdentityRefused(_ context.Context, ref api.IdentityRefusal) {
	r.mu.Lock()
	r.list = append(r.list, ref)
	r.mu.Unlock()
}

func (r *refusals) all() []api.IdentityRefusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

// oidcConsole is a test console whose researchers sign in at idp (trusted
// by the policy) or other (configured, not trusted); "down" is configured
// at an address nobody listens on.
type oidcConsole struct {
	*testConsole
	idp, other *oidctest.Provider
	idpSrv     *httptest.Server
	issuers    *oidc.Issuers
	refused    *refusals
}

// listen opens a loopback listener, whose address is a provider's issuer
// before the provider exists.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveProvider serves a provider on ln with the console's client.
func serveProvider(t *testing.T, ln net.Listener, consoleURL string) (*oidctest.Provider, *httptest.Server) {
	t.Helper()
	p, err := oidctest.New(oidctest.Config{Issuer: "http://" + ln.Addr().String(), Users: idpUsers,
		Clients: []oidctest.Client{{ID: idpClient, Secret: idpSecret, RedirectURIs: []string{consoleURL + CallbackPath},
			PostLogoutRedirectURIs: []string{consoleURL + Prefix + "signin?ok=signed_out"}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(p.Handler())
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return p, srv
}

func newOIDCConsole(t *testing.T) *oidcConsole {
	t.Helper()
	idpLn, otherLn := listen(t), listen(t)
	down := listen(t)
	downURL := "http://" + down.Addr().String()
	_ = down.Close()
	issuer := "http://" + idpLn.Addr().String()

	dir := testkit.ShippedPolicies(t)
	// The region trusts its provider, and lets one person read the audit
	// trail by her identity, not her role: input.identity reaches
	// data.xborder.api.allow.
	local := `package xborder.api

trusted_issuers["` + issuer + `"] := "Test IdP"

# The test provider stands in for LS Login: it may assert its groups.
entitlement_authorities["` + issuer + `"] := "aai.lifescience-ri.eu"

allow if {
	input.identity.issuer == "` + issuer + `"
	input.identity.email == "ada@uni-freiburg.de"
	input.method == "GET"
	input.path == "/v1/audit"
}
`
	if err := os.WriteFile(filepath.Join(dir, "local_identity.rego"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	tc := newTestConsoleWith(t, dir)
	f := &oidcConsole{testConsole: tc, refused: &refusals{}}
	f.idp, f.idpSrv = serveProvider(t, idpLn, tc.srv.URL)
	f.other, _ = serveProvider(t, otherLn, tc.srv.URL)

	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(idpSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(name, display, iss string) oidc.Config {
		c := oidc.Config{Name: name, DisplayName: display, Issuer: iss, ClientID: idpClient, ClientSecretFile: secret,
			RedirectURL: tc.srv.URL + CallbackPath}
		return c.WithDefaults()
	}
	var err error
	f.issuers, err = oidc.NewIssuers([]oidc.Config{cfg("freiburg", "Universität Freiburg", issuer),
		cfg("other", "Elsewhere", f.other.Issuer()), cfg("down", "Down IdP", downURL)}, oidc.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	tc.deps.Identities, tc.deps.Roles, tc.deps.IdentityAudit = f.issuers, tc.node.engine, f.refused
	tc.deps.PublicURL = tc.srv.URL
	c, err := New(tc.deps)
	if err != nil {
		t.Fatal(err)
	}
	tc.mu.Lock()
	tc.c = c
	tc.mu.Unlock()
	return f
}

// visit is one page the browser ended on.
type visit struct {
	answer
	url string
}

// walk requests method u (a form when form is set) and follows redirects
// as a browser does, through the console and the provider, until an
// answer that is no redirect or a URL stop says to leave unvisited (then
// the answer is empty and url is that URL).
func (f *oidcConsole) walk(b *http.Client, method, u string, form url.Values, stop func(*url.URL) bool) visit {
	f.t.Helper()
	for range 10 {
		var req *http.Request
		if form != nil {
			req, _ = http.NewRequest(method, u, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, u, nil)
		}
		a := f.do(b, req)
		if a.code < 300 || a.code > 399 {
			return visit{a, u}
		}
		next, err := req.URL.Parse(a.header.Get("Location"))
		if err != nil {
			f.t.Fatalf("%s redirects to %q: %v", u, a.header.Get("Location"), err)
		}
		if stop != nil && stop(next) {
			return visit{answer{code: a.code, header: a.header}, next.String()}
		}
		method, u, form = http.MethodGet, next.String(), nil
	}
	f.t.Fatalf("more than 10 redirects from %s", u)
	return visit{}
}

var (
	loginAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	loginReq    = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)
)

// toCallback starts a sign-in with provider name in browser b, signs in
// as user on the provider's login form and returns the callback URL the
// provider sends the browser to, not yet visited.
func (f *oidcConsole) toCallback(b *http.Client, name, user string) string {
	f.t.Helper()
	return f.loginFrom(b, f.srv.URL+Prefix+"signin/"+name, user)
}

// loginFrom goes from start to the provider's login form, signs in as
// user and returns the callback URL the provider sends the browser to.
func (f *oidcConsole) loginFrom(b *http.Client, start, user string) string {
	f.t.Helper()
	login := f.walk(b, http.MethodGet, start, nil, nil)
	act, req := loginAction.FindStringSubmatch(login.body), loginReq.FindStringSubmatch(login.body)
	if login.code != http.StatusOK || act == nil || req == nil {
		f.t.Fatalf("sign-in from %s did not reach the login form (%d at %s):\n%s", start, login.code, login.url, login.body)
	}
	isCallback := func(u *url.URL) bool { return u.Path == CallbackPath && strings.HasPrefix(u.String(), f.srv.URL) }
	cb := f.walk(b, http.MethodPost, html.UnescapeString(act[1]), url.Values{"authRequestID": {html.UnescapeString(req[1])},
		"username": {user}, "password": {"pw-" + user}}, isCallback)
	if cb.body != "" || !strings.Contains(cb.url, CallbackPath) {
		f.t.Fatalf("the provider did not send %s back to the callback (%d at %s):\n%s", user, cb.code, cb.url, cb.body)
	}
	return cb.url
}

// signInOIDC signs user in with provider name in a fresh browser and
// checks the page that moves on to the console.
func (f *oidcConsole) signInOIDC(name, user string) *http.Client {
	f.t.Helper()
	b := f.browser()
	cb := f.toCallback(b, name, user)
	a := f.walk(b, http.MethodGet, cb, nil, nil)
	if a.code != http.StatusOK || !strings.Contains(a.body, `<meta http-equiv="refresh" content="0; url=/console/">`) ||
		!strings.Contains(a.body, `id="continue" href="/console/"`) {
		f.t.Fatalf("callback of %s: %d\n%s", user, a.code, a.body)
	}
	var session, state bool
	for _, ck := range a.header.Values("Set-Cookie") {
		switch {
		case strings.HasPrefix(ck, sessionCookie+"="):
			session = strings.Contains(ck, "HttpOnly") && strings.Contains(ck, "SameSite=Strict") && strings.Contains(ck, "Path=/;")
		case strings.HasPrefix(ck, oidcCookie+"="):
			state = strings.Contains(ck, "Max-Age=0")
		}
	}
	if !session || !state {
		f.t.Fatalf("callback cookies (session set %v, state cleared %v): %q", session, state, a.header.Values("Set-Cookie"))
	}
	checkSecurityHeaders(f.t, cb, a.header)
	return b
}

var (
	userField = regexp.MustCompile(`id="user">([^<]*)<`)
	moveOnTo  = regexp.MustCompile(`<meta http-equiv="refresh" content="0; url=([^"]+)">`)
	roleField = regexp.MustCompile(`id="role">([^<]*)<`)
	errField  = regexp.MustCompile(`id="signin-error">([^<]*)<`)
)

func field(re *regexp.Regexp, body string) string {
	if m := re.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func TestOIDCSignInPageListsTheProviders(t *testing.T) {
	f := newOIDCConsole(t)
	a := f.get(f.browser(), Prefix+"signin")
	if a.code != http.StatusOK {
		t.Fatalf("sign-in page: %d", a.code)
	}
	for _, want := range []string{`id="signin-freiburg" href="/console/signin/freiburg">Sign in with Universität Freiburg<`,
		`id="signin-other" href="/console/signin/other"`, `id="signin-down" href="/console/signin/down"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the sign-in page lacks %s:\n%s", want, a.body)
		}
	}
	// The one-time link stays for operators.
	if !strings.Contains(a.body, "xborder console --role") {
		t.Error("the sign-in page no longer says how to get a one-time link")
	}
}

func TestOIDCSignInThroughTheProvidersLoginForm(t *testing.T) {
	f := newOIDCConsole(t)
	for _, c := range []struct{ user, role, shown string }{
		{"ada", api.RoleResearcher, "researcher"},
		{"lea", api.RoleLegal, "legal"},
		{"aud", api.RoleAuditor, "auditor"},
	} {
		b := f.signInOIDC("freiburg", c.user)
		home := f.get(b, Prefix)
		if home.code != http.StatusOK || field(userField, home.body) != "freiburg:"+c.user || field(roleField, home.body) != c.shown {
			t.Fatalf("%s's home page: %d, user %q, role %q", c.user, home.code, field(userField, home.body), field(roleField, home.body))
		}
		// The session is kept with how she signed in and who she is.
		var st sessionstore.Session
		l, _ := f.store.List()
		for _, s := range l {
			if s.ID == sessionstore.IDOf(f.sessionToken(b)) {
				st = s
			}
		}
		if st.Method != sessionstore.MethodOIDC || st.Issuer != "freiburg" || st.Role != c.role || st.Org != "Universität Freiburg" ||
			st.IDTokenHint == "" || st.Identity == nil || st.Identity.Issuer != f.idp.Issuer() || st.Identity.Subject != c.user {
			t.Fatalf("%s's stored session: %+v", c.user, st)
		}
	}
	// Recorded: the sign-ins, no refusal.
	if got := f.rec.list(); !slices.Equal(got, []string{AuditSignIn + " freiburg:ada", AuditSignIn + " freiburg:lea", AuditSignIn + " freiburg:aud"}) {
		t.Fatalf("audit records %v", got)
	}
	if r := f.refused.all(); len(r) != 0 {
		t.Fatalf("refusals recorded: %+v", r)
	}
}

// The identity reaches data.xborder.api.allow with every request of the
// session: the local rule lets Ada (by her e-mail at the trusted issuer)
// read the audit trail, which no researcher's role allows.
func TestOIDCSessionCarriesTheIdentityToThePolicy(t *testing.T) {
	f := newOIDCConsole(t)
	ada := f.signInOIDC("freiburg", "ada")
	if a := f.get(ada, Prefix+"audit"); a.code != http.StatusOK {
		t.Fatalf("Ada's audit trail: %d", a.code)
	}
	if home := f.get(ada, Prefix); !strings.Contains(home.body, `href="/console/audit"`) {
		t.Fatal("Ada's navigation lacks the audit trail")
	}
	// A researcher by one-time code has no identity: refused.
	code := f.signIn(api.RoleResearcher)
	if a := f.get(code, Prefix+"audit"); a.code != http.StatusForbidden {
		t.Fatalf("a researcher without an identity opens the audit trail: %d", a.code)
	}
	// After a restart the session still carries it.
	f.restart()
	if a := f.get(ada, Prefix+"audit"); a.code != http.StatusOK {
		t.Fatalf("Ada's audit trail after a restart: %d", a.code)
	}
}

func TestOIDCIdentityWithoutRoleIsRefused(t *testing.T) {
	f := newOIDCConsole(t)
	for _, c := range []struct{ name, user, why string }{
		// The untrusted issuer's user is staff of a listed university: her
		// claims count for nothing.
		{"other", "ada", "ada@uni-freiburg.de (Elsewhere) may not use this node"},
		{"freiburg", "sam", "sam@uni-freiburg.de (Universität Freiburg) may not use this node"},
	} {
		b := f.browser()
		a := f.walk(b, http.MethodGet, f.toCallback(b, c.name, c.user), nil, nil)
		msg := field(errField, a.body)
		if a.code != http.StatusForbidden || !strings.Contains(msg, c.why) || !strings.Contains(msg, api.ErrNoRole.Error()) {
			t.Fatalf("%s of %s: %d %q", c.user, c.name, a.code, msg)
		}
		if f.sessionToken(b) != "" {
			t.Fatalf("%s of %s got a session", c.user, c.name)
		}
		r := f.refused.all()
		last := r[len(r)-1]
		if last.Via != "console" || last.Issuer != c.name || last.Identity == nil || last.Identity.Subject != c.user ||
			!strings.Contains(last.Reason, api.ErrNoRole.Error()) {
			t.Fatalf("refusal of %s of %s: %+v", c.user, c.name, last)
		}
	}
	if l, _ := f.store.List(); len(l) != 0 {
		t.Fatalf("refused identities left sessions: %+v", l)
	}
	if got := f.rec.list(); len(got) != 0 {
		t.Fatalf("refused sign-ins recorded as sign-ins: %v", got)
	}
}

// stateCookie is the browser's sign-in cookie: the issuer's name and the
// state.
func (f *oidcConsole) stateCookie(b *http.Client) string {
	u, _ := url.Parse(f.srv.URL + CallbackPath)
	for _, ck := range b.Jar.Cookies(u) {
		if ck.Name == oidcCookie {
			return ck.Value
		}
	}
	return ""
}

// A callback that is not this browser's sign-in, or not well formed, is
// refused with 401 and recorded, never answered with a server error.
func TestOIDCCallbackRefusals(t *testing.T) {
	f := newOIDCConsole(t)
	a := f.browser()
	cb := f.toCallback(a, "freiburg", "ada")
	saved := f.stateCookie(a)
	_, state, _ := strings.Cut(saved, ".")
	if state == "" || !strings.Contains(cb, "state="+url.QueryEscape(state)) {
		t.Fatalf("the state cookie %q is not the callback's %s", saved, cb)
	}
	cbURL, _ := url.Parse(cb)
	code := cbURL.Query().Get("code")

	// started is a browser with a sign-in of its own under way.
	started := func() (b *http.Client, state, at string) {
		b = f.browser()
		s := f.get(b, Prefix+"signin/freiburg")
		if at = s.header.Get("Location"); s.code != http.StatusSeeOther || !strings.HasPrefix(at, f.idp.Issuer()) {
			t.Fatalf("sign-in start: %d %q", s.code, at)
		}
		_, state, _ = strings.Cut(f.stateCookie(b), ".")
		return b, state, at
	}
	withState := func(b *http.Client, v string) *http.Client {
		u, _ := url.Parse(f.srv.URL + CallbackPath)
		b.Jar.SetCookies(u, []*http.Cookie{{Name: oidcCookie, Value: v, Path: oidcCookiePath}})
		return b
	}
	other, _, otherAt := started()
	denied, deniedState, _ := started()
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return f.srv.URL + CallbackPath + "?" + v.Encode()
	}
	cases := []struct {
		name   string
		b      *http.Client
		u      string
		code   int
		reason error
		shown  string
	}{
		{"no state cookie", f.browser(), cb, http.StatusUnauthorized, oidc.ErrStateUnknown, "not started in this browser"},
		{"another browser's state", other, cb, http.StatusUnauthorized, oidc.ErrStateUnknown, "not started in this browser"},
		{"the provider refused", denied, q("error", "access_denied", "state", deniedState), http.StatusUnauthorized,
			oidc.ErrProviderDenied, "access_denied"},
		{"no code", withState(f.browser(), "freiburg."+deniedState), q("state", deniedState), http.StatusUnauthorized,
			oidc.ErrBadCallback, "code and state are both required"},
		{"code twice", withState(f.browser(), "freiburg."+deniedState), q("code", "x", "code", "y", "state", deniedState),
			http.StatusUnauthorized, oidc.ErrBadCallback, "code given 2 times"},
		{"state twice", withState(f.browser(), "freiburg."+deniedState), q("code", "x", "state", deniedState, "state", deniedState),
			http.StatusUnauthorized, oidc.ErrBadCallback, "state given 2 times"},
		{"a code the provider never issued", withState(f.browser(), "freiburg."+deniedState), q("code", "forged", "state", deniedState),
			http.StatusUnauthorized, oidc.ErrTokenEndpoint, "token endpoint failed"},
		{"an issuer the node does not know", withState(f.browser(), "nowhere."+deniedState), q("code", code, "state", deniedState),
			http.StatusUnauthorized, oidc.ErrUnknownIssuer, "not one this node trusts"},
		{"no parameters", f.browser(), f.srv.URL + CallbackPath, http.StatusUnauthorized, oidc.ErrBadCallback, "required"},
		{"another issuer's answer (RFC 9207 iss)", withState(f.browser(), "freiburg."+deniedState),
			q("code", code, "state", deniedState, "iss", f.other.Issuer()), http.StatusUnauthorized, oidc.ErrWrongIssuer, "another issuer"},
	}
	n := 0
	for _, c := range cases {
		got := f.walk(c.b, http.MethodGet, c.u, nil, nil)
		msg := field(errField, got.body)
		if got.code != c.code || !strings.Contains(msg, c.shown) {
			t.Errorf("%s: %d %q, want %d saying %q", c.name, got.code, msg, c.code, c.shown)
		}
		if f.sessionToken(c.b) != "" {
			t.Errorf("%s: a session", c.name)
		}
		r := f.refused.all()
		if len(r) != n+1 {
			t.Errorf("%s: %d refusals recorded, want %d", c.name, len(r), n+1)
			n = len(r)
			continue
		}
		n++
		if last := r[n-1]; last.Via != "console" || !strings.Contains(last.Reason, c.reason.Error()) {
			t.Errorf("%s: recorded %+v, want the reason %q", c.name, last, c.reason)
		}
	}
	// A callback that was not its own left the other browser's sign-in
	// under way, and it finishes it; the refused one's is over.
	if f.stateCookie(other) == "" || f.stateCookie(denied) != "" {
		t.Fatalf("state cookies after the refusals: other %q, denied %q", f.stateCookie(other), f.stateCookie(denied))
	}
	if got := f.walk(other, http.MethodGet, f.loginFrom(other, otherAt, "lea"), nil, nil); got.code != http.StatusOK || f.sessionToken(other) == "" {
		t.Fatalf("the other browser's own sign-in after the forged callback: %d %s", got.code, field(errField, got.body))
	}
	// The refusals spent nothing: the browser that started the sign-in
	// still finishes it.
	if got := f.walk(a, http.MethodGet, cb, nil, nil); got.code != http.StatusOK || f.sessionToken(a) == "" {
		t.Fatalf("the rightful callback after the refusals: %d %s", got.code, field(errField, got.body))
	}
	// The same callback again: the state cookie is gone.
	again := f.browser()
	if got := f.walk(again, http.MethodGet, cb, nil, nil); got.code != http.StatusUnauthorized {
		t.Fatalf("replayed callback without the cookie: %d", got.code)
	}
	// Replayed with the cookie too (taken with the callback): the state
	// was used.
	got := f.walk(withState(again, saved), http.MethodGet, cb, nil, nil)
	if msg := field(errField, got.body); got.code != http.StatusUnauthorized || !strings.Contains(msg, oidc.ErrStateReplayed.Error()) ||
		f.sessionToken(again) != "" {
		t.Fatalf("replayed callback with the cookie: %d %q", got.code, msg)
	}
	if r := f.refused.all(); !strings.Contains(r[len(r)-1].Reason, oidc.ErrStateReplayed.Error()) {
		t.Fatalf("the replay is recorded as %+v", r[len(r)-1])
	}
	if l, _ := f.store.List(); len(l) != 2 {
		t.Fatalf("%d sessions, want the two rightful sign-ins", len(l))
	}
}

func TestOIDCUnknownAndUnreachableProviders(t *testing.T) {
	f := newOIDCConsole(t)
	b := f.browser()
	a := f.get(b, Prefix+"signin/nowhere")
	if a.code != http.StatusNotFound || !strings.Contains(field(errField, a.body), `no identity provider named "nowhere"`) {
		t.Fatalf("unknown provider: %d %q", a.code, field(errField, a.body))
	}
	a = f.get(b, Prefix+"signin/down")
	if a.code != http.StatusServiceUnavailable || field(errField, a.body) != "Down IdP cannot be reached now; try again in a minute." {
		t.Fatalf("provider down: %d %q", a.code, field(errField, a.body))
	}
	if f.stateCookie(b) != "" {
		t.Fatal("a sign-in that could not start left a state cookie")
	}
	// The others still work.
	f.signInOIDC("freiburg", "ada")

	// The provider goes down between the login and the callback: the code
	// cannot be redeemed, and the browser is told so, not refused.
	b = f.browser()
	cb := f.toCallback(b, "freiburg", "ada")
	f.idpSrv.CloseClientConnections()
	f.idpSrv.Close()
	a = f.walk(b, http.MethodGet, cb, nil, nil).answer
	if msg := field(errField, a.body); a.code != http.StatusServiceUnavailable ||
		msg != "The sign-in was refused: Universität Freiburg cannot be reached now; try again in a minute." {
		t.Fatalf("callback with the provider down: %d %q", a.code, msg)
	}
	if r := f.refused.all(); len(r) != 1 || !strings.Contains(r[0].Reason, oidc.ErrTokenEndpoint.Error()) {
		t.Fatalf("refusals recorded: %+v", r)
	}
}

func TestOIDCSignOutEndsTheSessionAtTheProvider(t *testing.T) {
	f := newOIDCConsole(t)
	b := f.signInOIDC("freiburg", "ada")
	token := f.sessionToken(b)
	l, _ := f.store.List()
	hint := l[0].IDTokenHint
	a := f.post(b, Prefix+"signout", url.Values{"csrf": {f.csrf(b)}})
	// The answer is a page that moves on to the provider's end-session,
	// not a redirect: a browser holds a form's redirects to the form's
	// page's form-action, 'self'.
	m := moveOnTo.FindStringSubmatch(a.body)
	if a.code != http.StatusOK || m == nil || !strings.Contains(a.body, `id="continue" href="`+m[1]+`">Signed out here: continue to sign out at Universität Freiburg<`) {
		t.Fatalf("sign-out: %d\n%s", a.code, a.body)
	}
	to, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || !strings.HasPrefix(to.String(), f.idp.Issuer()+"/") {
		t.Fatalf("sign-out goes on to %q, not the provider", m[1])
	}
	if q := to.Query(); q.Get("id_token_hint") != hint || q.Get("post_logout_redirect_uri") != f.srv.URL+Prefix+"signin?ok=signed_out" {
		t.Fatalf("end-session parameters: %v", q)
	}
	checkSecurityHeaders(t, "sign-out", a.header)
	if !strings.Contains(a.header.Get("Set-Cookie"), sessionCookie+"=;") || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("the sign-out does not clear the cookie: %q", a.header.Get("Set-Cookie"))
	}
	if l, _ := f.store.List(); len(l) != 0 {
		t.Fatal("the session outlives the sign-out")
	}
	if got := f.get(f.withCookie(token), Prefix); got.code != http.StatusSeeOther {
		t.Fatalf("the old cookie after sign-out: %d", got.code)
	}
	// The provider ends its session and sends the browser back.
	end := f.walk(b, http.MethodGet, to.String(), nil, nil)
	if end.url != f.srv.URL+Prefix+"signin?ok=signed_out" || end.code != http.StatusOK || !strings.Contains(end.body, `id="flash">You are signed out.<`) {
		t.Fatalf("after the provider's end-session: %d at %s", end.code, end.url)
	}
	if got := f.rec.list(); !slices.Equal(got, []string{AuditSignIn + " freiburg:ada", AuditSignOut + " freiburg:ada"}) {
		t.Fatalf("audit records %v", got)
	}

	// A session from a one-time code signs out at the node alone.
	c := f.signIn(api.RoleOperator)
	a = f.post(c, Prefix+"signout", url.Values{"csrf": {f.csrf(c)}})
	if a.code != http.StatusOK || !strings.Contains(a.body, `id="flash">You are signed out.<`) ||
		!strings.Contains(a.header.Get("Content-Security-Policy"), "form-action 'self';") {
		t.Fatalf("sign-out of a code session: %d %q", a.code, a.header.Get("Content-Security-Policy"))
	}
}
