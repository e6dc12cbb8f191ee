package console

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console/sessionstore"
	"github.com/xborder/xborder/policy"
)

// fakeNode serves the console from canned state, with the shipped
// policies deciding what each role may do. Methods no test needs panic
// through the nil embedded interface.
type fakeNode struct {
	Backend
	api.Policies
	Registry
	Audit
	Catalogue
	Exchange
	agreementsAPI
	engine *policy.Engine

	mu        sync.Mutex
	entries   []exchange.Listing
	submitted []string
	args      []any // what each submitted op carried
	// refuse, when set, is the registry's answer to every write.
	refuse error
	// The registry's modules and the models' committed evaluations
	// (modules_test.go).
	modules     []consensus.Module
	evaluations []consensus.Evaluation
}

func (f *fakeNode) APIAllow(ctx context.Context, in policy.APIInput) (bool, error) {
	return f.engine.APIAllow(ctx, in)
}
func (f *fakeNode) Eval(ctx context.Context, q string, in map[string]any, e policy.Explain) (policy.EvalResult, error) {
	return f.engine.Eval(ctx, q, in, e)
}
func (f *fakeNode) Info() policy.Info { return f.engine.Info() }

// PubliclyVisible asks the shipped catalogue policy, as the catalogue
// does, with the public as the requester.
func (f *fakeNode) PubliclyVisible(ctx context.Context, l exchange.Listing) bool {
	ok, err := f.engine.CatalogueVisible(ctx, policy.CatalogueInput{
		Requester: policy.Node{Public: true},
		Entry: policy.CatalogueEntry{Owner: l.Owner, ID: l.ID, Classification: l.Classification,
			PersonalData: l.PersonalData, PublicListing: l.PublicListing},
	})
	return err == nil && ok
}
func (f *fakeNode) DeclaredPolicies(context.Context) ([]consensus.DeclaredPolicy, error) {
	return []consensus.DeclaredPolicy{{Member: "fr-grandest", Hash: f.engine.Info().Hash, Declared: true}}, nil
}
func (f *fakeNode) Status(context.Context) api.Status {
	return api.Status{Name: "fr-grandest", Country: "FR", Federation: "grand-est-ai", FederationID: "fed123",
		Raft: &api.RaftStatus{State: "leader", Leader: "fr-grandest", Voters: []string{"fr-grandest", "de-bw"}}}
}
func (f *fakeNode) Peers(context.Context) []api.Peer {
	return []api.Peer{{Name: "de-bw", Country: "DE", Connected: true, RTTms: 1.5}, {Name: "fr-grandest", Country: "FR", Self: true, Connected: true}}
}
func (f *fakeNode) CatalogueSyncs(context.Context) []exchange.PeerState {
	return []exchange.PeerState{{Owner: "de-bw", Version: 3, SyncedAt: time.Now()}}
}
func (f *fakeNode) Search(_ context.Context, flt exchange.Filter) []exchange.Listing {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []exchange.Listing
	for _, l := range f.entries {
		if (flt.Owner == "" || l.Owner == flt.Owner) && (flt.Kind == "" || l.Kind == flt.Kind) {
			out = append(out, l)
		}
	}
	return out
}
func (f *fakeNode) Entry(_ context.Context, owner, id string) (exchange.Listing, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.entries {
		if l.Owner == owner && l.ID == id {
			return l, nil
		}
	}
	return exchange.Listing{}, exchange.ErrNotFound
}
func (f *fakeNode) Projects(context.Context) ([]consensus.Project, uint64, error) {
	return []consensus.Project{{ID: "fr-de", Title: "Franco-German", Status: "active", Lead: "fr-grandest", Partners: []string{"fr-grandest", "de-bw"},
		Datasets: []string{"de-bw/cohort", "fr-grandest/cohort"}}}, 7, nil
}
func (f *fakeNode) Project(_ context.Context, id string) (consensus.Project, uint64, error) {
	if id == "de-only" {
		// Not listed, as the analysis form's projects are checked; only
		// the modules page asks for it.
		return consensus.Project{ID: id, Title: "Baden-Württemberg alone", Status: "active", Lead: "de-bw", Partners: []string{"de-bw"},
			Datasets: []string{"de-bw/icu"}}, 7, nil
	}
	if id != "fr-de" {
		return consensus.Project{}, 0, consensus.ErrNotFound
	}
	ps, i, _ := f.Projects(context.Background())
	return ps[0], i, nil
}
func (f *fakeNode) Members(context.Context) ([]consensus.Member, []consensus.Proposal, uint64, error) {
	return []consensus.Member{{Name: "fr-grandest", Country: "FR"}, {Name: "de-bw", Country: "DE"}}, nil, 7, nil
}
func (f *fakeNode) Submit(_ context.Context, op string, args any) (uint64, error) {
	f.mu.Lock()
	f.submitted = append(f.submitted, op)
	f.args = append(f.args, args)
	refuse := f.refuse
	f.mu.Unlock()
	if refuse != nil {
		return 0, refuse
	}
	return 8, nil
}
func (f *fakeNode) WaitApplied(context.Context, uint64) error { return nil }
func (f *fakeNode) Agreements(context.Context) ([]api.AgreementView, uint64, error) {
	return nil, 7, nil
}
func (f *fakeNode) AuditRecords(context.Context, audit.Filter) ([]audit.Record, audit.Head, error) {
	return []audit.Record{{Seq: 1, Type: "node.start", Subject: "fr-grandest", Details: []byte(`{"a":"<b>"}`)}}, audit.Head{Seq: 1, Hash: "abc"}, nil
}
func (f *fakeNode) VerifyAudit(context.Context) (audit.Report, error) {
	return audit.Report{OK: false, Records: 3, FirstBad: &audit.Bad{Seq: 2, Reason: "hash mismatch"}}, nil
}
func (f *fakeNode) Transfers(context.Context, exchange.Caller) []exchange.JobStatus { return nil }
func (f *fakeNode) RequestAccess(_ context.Context, _ exchange.Caller, owner, id, purpose, project string) (exchange.Answer, error) {
	return exchange.Answer{}, &policy.DeniedError{Point: policy.ExchangeDecision, Decision: policy.Decision{
		Reasons: []string{"needs a <joint> project"}, Rules: []string{"sensitive_requires_project"}}}
}

// agreementsAPI names the embedded api.Agreements apart from the method
// Agreements.
type agreementsAPI = api.Agreements

// testConsole is a console over a fakeNode, served by httptest.
type testConsole struct {
	t        *testing.T
	c        *Console
	node     *fakeNode
	analyses *fakeAnalyses
	srv      *httptest.Server
	key      ed25519.PrivateKey
	now      time.Time
	mu       sync.Mutex
	deps     Deps
	store    *sessionstore.Store
	storeCfg sessionstore.Config
	rec      *fakeRecorder
}

// fakeRecorder keeps the audit records the console makes; with fail set
// it refuses them, as a trail that cannot be written.
type fakeRecorder struct {
	mu      sync.Mutex
	records []string // "type subject"
	fail    error
}

func (f *fakeRecorder) Record(typ, subject string, _ any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.records = append(f.records, typ+" "+subject)
	return nil
}

func (f *fakeRecorder) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.records)
}

func (f *fakeRecorder) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

func (tc *testConsole) console() *Console {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.c
}

func (tc *testConsole) openStore() *sessionstore.Store {
	tc.t.Helper()
	st, err := sessionstore.Open(tc.storeCfg, sessionstore.Deps{Now: tc.clock})
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.t.Cleanup(func() { _ = st.Close() })
	return st
}

// restart closes the session store and builds the console anew over the
// reopened file, as a node restart does.
func (tc *testConsole) restart() {
	tc.t.Helper()
	if err := tc.store.Close(); err != nil {
		tc.t.Fatal(err)
	}
	tc.store = tc.openStore()
	d := tc.deps
	d.Sessions = tc.store
	c, err := New(d)
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.mu.Lock()
	tc.c = c
	tc.mu.Unlock()
}

func (tc *testConsole) clock() time.Time {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.now
}

func (tc *testConsole) advance(d time.Duration) {
	tc.mu.Lock()
	tc.now = tc.now.Add(d)
	tc.mu.Unlock()
}

const testNodeID = "12D3KooWTestNode"

func newTestConsole(t *testing.T, opts ...policy.Option) *testConsole {
	t.Helper()
	return newTestConsoleWith(t, "../../policies", opts...)
}

// newTestConsoleWith serves the console with the policies in dir.
func newTestConsoleWith(t *testing.T, dir string, opts ...policy.Option) *testConsole {
	t.Helper()
	ctx := context.Background()
	e, err := policy.NewEngine(ctx, dir, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	tc := &testConsole{t: t, node: &fakeNode{engine: e}, analyses: newFakeAnalyses(t), key: key, now: time.Now()}
	tc.node.entries = []exchange.Listing{
		{Entry: exchange.Entry{ID: "icu", Owner: "de-bw", Country: "DE", Kind: "dataset", Theme: "health", Classification: "sensitive",
			Title: `ICU <script>alert("x")</script>`, Description: `<img src=x onerror=alert(1)>`}},
		{Entry: exchange.Entry{ID: "own", Owner: "fr-grandest", Country: "FR", Kind: "dataset", Theme: "industry", Classification: "open", Title: "Own"}, Local: true},
	}
	tc.node.entries = append(tc.node.entries, cohortListings()...)
	tc.node.entries = append(tc.node.entries, modelListing())
	tc.node.modules, tc.node.evaluations = moduleFixtures(t)
	tc.storeCfg = sessionstore.DefaultConfig(t.TempDir())
	tc.store = tc.openStore()
	tc.rec = &fakeRecorder{}
	tc.deps = Deps{Backend: tc.node, Policies: tc.node, Registry: tc.node, Audit: tc.node, Catalogue: tc.node,
		Exchange: tc.node, Agreements: tc.node, Analyses: tc.analyses, Modules: tc.node, Authz: tc.node, Key: pub, NodeID: testNodeID,
		Name: "fr-grandest", Now: tc.clock, Sessions: tc.store, Recorder: tc.rec}
	tc.c, err = New(tc.deps)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.console().ServeHTTP(w, r) }))
	tc.srv = httptest.NewServer(mux)
	t.Cleanup(tc.srv.Close)
	return tc
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func (tc *testConsole) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (tc *testConsole) code(role string) string {
	tc.t.Helper()
	code, err := IssueSignInCode(tc.key, testNodeID, api.User{Subject: role + "@example.org", Role: role}, 0, tc.clock())
	if err != nil {
		tc.t.Fatal(err)
	}
	return code
}

// signIn returns a browser signed in with role.
func (tc *testConsole) signIn(role string) *http.Client {
	tc.t.Helper()
	b := tc.browser()
	resp := tc.get(b, Prefix+"signin?code="+url.QueryEscape(tc.code(role)))
	if resp.code != http.StatusSeeOther || resp.header.Get("Location") != Prefix {
		tc.t.Fatalf("sign-in answered %d to %q: %s", resp.code, resp.header.Get("Location"), resp.body)
	}
	return b
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func (tc *testConsole) do(b *http.Client, req *http.Request) answer {
	tc.t.Helper()
	resp, err := b.Do(req)
	if err != nil {
		tc.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

func (tc *testConsole) get(b *http.Client, path string) answer {
	req, _ := http.NewRequest(http.MethodGet, tc.srv.URL+path, nil)
	return tc.do(b, req)
}

func (tc *testConsole) post(b *http.Client, path string, form url.Values) answer {
	req, _ := http.NewRequest(http.MethodPost, tc.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return tc.do(b, req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the session's CSRF token from a page's form.
func (tc *testConsole) csrf(b *http.Client) string {
	tc.t.Helper()
	m := csrfField.FindStringSubmatch(tc.get(b, Prefix).body)
	if m == nil {
		tc.t.Fatal("no CSRF field on the home page")
	}
	return m[1]
}

var pages = []string{Prefix, Prefix + "catalogue", Prefix + "catalogue/de-bw/icu", Prefix + "catalogue/fr-grandest/own",
	Prefix + "publish", Prefix + "transfers", Prefix + "projects", Prefix + "projects/fr-de", Prefix + "agreements",
	Prefix + "audit", Prefix + "audit/verify", Prefix + "policies", Prefix + "policies/playground",
	Prefix + "policies/playground?point=data.xborder.api.allow", Prefix + "analyses", Prefix + "analyses/new",
	Prefix + "analyses/" + fixtureGLM, Prefix + "analyses/" + fixtureHist, Prefix + "analyses/" + fixtureTable,
	Prefix + "analyses/" + fixtureSummary, Prefix + "analyses/" + fixtureCor, Prefix + "analyses/" + fixtureMeans,
	Prefix + "analyses/" + fixtureRunning, Prefix + "analyses/" + fixtureDenied, Prefix + "nowhere", Prefix + "signin",
	Prefix + "catalogue/fr-grandest/risk", Prefix + "modules", Prefix + "modules?project=gone"}

func checkSecurityHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows inline code: %q", path, csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: headers %v", path, h)
	}
}

func TestEveryPageRendersWithSecurityHeadersAndNoInlineCode(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleOperator)
	inline := regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|<[a-z]+[^>]*\s(?:style|on[a-z]+)=`)
	for _, p := range append(pages, Prefix+"static/console.css", Prefix+"static/console.js") {
		resp := tc.get(b, p)
		checkSecurityHeaders(t, p, resp.header)
		want := http.StatusOK
		if p == Prefix+"nowhere" {
			want = http.StatusNotFound
		}
		if resp.code != want {
			t.Errorf("GET %s = %d, want %d: %s", p, resp.code, want, resp.body)
		}
		if strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css") {
			continue
		}
		if loc := inline.FindString(resp.body); loc != "" {
			t.Errorf("GET %s has inline code or style %q", p, loc)
		}
	}
	// Without a session as well.
	anon := tc.browser()
	for _, p := range []string{Prefix + "signin", Prefix + "catalogue", Prefix + "static/console.css"} {
		checkSecurityHeaders(t, p, tc.get(anon, p).header)
	}
}

func TestPagesNeedASession(t *testing.T) {
	tc := newTestConsole(t)
	anon := tc.browser()
	resp := tc.get(anon, Prefix+"catalogue")
	if resp.code != http.StatusSeeOther || resp.header.Get("Location") != Prefix+"signin" {
		t.Fatalf("catalogue without a session: %d %v", resp.code, resp.header)
	}
	if resp := tc.get(anon, Prefix+"transfers/x/status"); resp.code != http.StatusUnauthorized {
		t.Fatalf("transfer status without a session: %d", resp.code)
	}
	if resp := tc.get(anon, Prefix+"signin"); resp.code != http.StatusOK || !strings.Contains(resp.body, "xborder console") {
		t.Fatalf("sign-in page: %d %s", resp.code, resp.body)
	}
}

func TestCSRFTokenIsCheckedOnEveryPost(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleOperator)
	token := tc.csrf(b)
	posts := []string{Prefix + "signout", Prefix + "catalogue/de-bw/icu/request", Prefix + "catalogue/de-bw/icu/fetch",
		Prefix + "catalogue/fr-grandest/own/withdraw", Prefix + "publish", Prefix + "projects", Prefix + "projects/fr-de/join",
		Prefix + "projects/fr-de/attach", Prefix + "agreements", Prefix + "agreements/a/sign", Prefix + "agreements/a/revoke",
		Prefix + "policies/reload", Prefix + "policies/playground", Prefix + "analyses",
		Prefix + "modules/fr-de/" + predictorSHA + "/approve", Prefix + "modules/fr-de/" + predictorSHA + "/withdraw"}
	for _, p := range posts {
		for name, form := range map[string]url.Values{
			"without a token":  {"purpose": {"research"}},
			"with a bad token": {"csrf": {token + "x"}, "purpose": {"research"}},
			"with an empty":    {"csrf": {""}},
		} {
			if resp := tc.post(b, p, form); resp.code != http.StatusForbidden || !strings.Contains(resp.body, "security token") {
				t.Errorf("POST %s %s = %d: %s", p, name, resp.code, resp.body)
			}
		}
	}
	// Another session's token is refused too.
	other := tc.csrf(tc.signIn(api.RoleOperator))
	if resp := tc.post(b, Prefix+"projects", url.Values{"csrf": {other}, "id": {"p"}}); resp.code != http.StatusForbidden {
		t.Errorf("POST with another session's token = %d", resp.code)
	}
	// So is a post from another origin, even with the token.
	req, _ := http.NewRequest(http.MethodPost, tc.srv.URL+Prefix+"projects", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp := tc.do(b, req); resp.code != http.StatusForbidden {
		t.Errorf("cross-origin POST = %d", resp.code)
	}
	// And a post without a session.
	if resp := tc.post(tc.browser(), Prefix+"projects", url.Values{"csrf": {token}}); resp.code != http.StatusForbidden {
		t.Errorf("POST without a session = %d", resp.code)
	}
	if len(tc.node.submitted) != 0 {
		t.Fatalf("a refused form reached the registry: %v", tc.node.submitted)
	}
	// With the token, the form is carried out.
	resp := tc.post(b, Prefix+"projects", url.Values{"csrf": {token}, "id": {"fr-de"}, "title": {"T"}, "partners": {"fr-grandest, de-bw"}})
	if resp.code != http.StatusSeeOther || len(tc.node.submitted) != 1 || tc.node.submitted[0] != consensus.OpProjectPropose {
		t.Fatalf("POST with the token = %d %v: %s", resp.code, tc.node.submitted, resp.body)
	}
}

func TestPublishedTextIsEscaped(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	for _, p := range []string{Prefix + "catalogue", Prefix + "catalogue/de-bw/icu"} {
		body := tc.get(b, p).body
		if strings.Contains(body, `<script>alert`) || strings.Contains(body, `<img src=x`) {
			t.Fatalf("%s renders published text as markup:\n%s", p, body)
		}
		if !strings.Contains(body, `ICU &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
			t.Fatalf("%s does not show the escaped title:\n%s", p, body)
		}
	}
	// Reasons from a policy are escaped too.
	token := tc.csrf(b)
	resp := tc.post(b, Prefix+"catalogue/de-bw/icu/request", url.Values{"csrf": {token}, "purpose": {"research"}})
	if resp.code != http.StatusForbidden || !strings.Contains(resp.body, "needs a &lt;joint&gt; project") || !strings.Contains(resp.body, "sensitive_requires_project") {
		t.Fatalf("denied request: %d %s", resp.code, resp.body)
	}
	// Audit details too.
	b = tc.signIn(api.RoleAuditor)
	if body := tc.get(b, Prefix+"audit").body; strings.Contains(body, `"<b>"`) || !strings.Contains(body, "&lt;b&gt;") {
		t.Fatalf("audit details are not escaped:\n%s", body)
	}
}

func TestSignInCodeIsSingleUseAndShortLived(t *testing.T) {
	tc := newTestConsole(t)
	code := tc.code(api.RoleResearcher)
	b := tc.browser()
	resp := tc.get(b, Prefix+"signin?code="+url.QueryEscape(code))
	if resp.code != http.StatusSeeOther || resp.header.Get("Location") != Prefix {
		t.Fatalf("first use: %d %v", resp.code, resp.header)
	}
	cookie := resp.header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Fatalf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, code) {
		t.Fatal("the session cookie is the sign-in code")
	}
	if home := tc.get(b, Prefix); home.code != http.StatusOK || !strings.Contains(home.body, "researcher@example.org") {
		t.Fatalf("home after sign-in: %d", home.code)
	}
	// Second use, from any browser.
	if resp := tc.get(tc.browser(), Prefix+"signin?code="+url.QueryEscape(code)); resp.code != http.StatusUnauthorized || !strings.Contains(resp.body, "already used") {
		t.Fatalf("second use: %d %s", resp.code, resp.body)
	}
	// A code minted before the node started (so possibly used before a
	// restart, when the used codes were forgotten) is refused.
	early, err := IssueSignInCode(tc.key, testNodeID, api.User{Subject: "early@example.org", Role: api.RoleResearcher}, 0, tc.clock().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if resp := tc.get(tc.browser(), Prefix+"signin?code="+url.QueryEscape(early)); resp.code != http.StatusUnauthorized || !strings.Contains(resp.body, "before this node started") {
		t.Fatalf("a code minted before the start: %d %s", resp.code, resp.body)
	}
	// An expired code.
	late := tc.code(api.RoleOperator)
	tc.advance(CodeTTL + time.Minute)
	if resp := tc.get(tc.browser(), Prefix+"signin?code="+url.QueryEscape(late)); resp.code != http.StatusUnauthorized || !strings.Contains(resp.body, "expired") {
		t.Fatalf("expired code: %d %s", resp.code, resp.body)
	}
	// An API bearer token is not a sign-in code, and a code is not a bearer token.
	tok, _ := api.IssueToken(tc.key, testNodeID, api.User{Subject: "x", Role: api.RoleOperator}, time.Hour, tc.clock())
	if resp := tc.get(tc.browser(), Prefix+"signin?code="+url.QueryEscape(tok)); resp.code != http.StatusUnauthorized {
		t.Fatalf("bearer token as a code: %d", resp.code)
	}
	v := &api.Verifier{Key: tc.key.Public().(ed25519.PublicKey), NodeID: testNodeID, Now: tc.clock}
	if _, err := v.Verify(tc.code(api.RoleOperator)); !errors.Is(err, api.ErrUnauthenticated) {
		t.Fatalf("a sign-in code passes as a bearer token: %v", err)
	}
	// A code signed by another key.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := IssueSignInCode(other, testNodeID, api.User{Subject: "x", Role: api.RoleOperator}, 0, tc.clock())
	if resp := tc.get(tc.browser(), Prefix+"signin?code="+url.QueryEscape(forged)); resp.code != http.StatusUnauthorized {
		t.Fatalf("forged code: %d", resp.code)
	}
	// The session ends at sign-out, and with time.
	token := tc.csrf(b)
	if resp := tc.post(b, Prefix+"signout", url.Values{"csrf": {token}}); resp.code != http.StatusOK {
		t.Fatalf("sign-out: %d", resp.code)
	}
	if resp := tc.get(b, Prefix); resp.code != http.StatusSeeOther {
		t.Fatalf("home after sign-out: %d", resp.code)
	}
	b = tc.signIn(api.RoleOperator)
	tc.advance(DefaultSessionTTL + time.Second)
	if resp := tc.get(b, Prefix); resp.code != http.StatusSeeOther {
		t.Fatalf("home after the session's end: %d", resp.code)
	}
}

func TestRolesSeeAndDoOnlyWhatTheAPIPolicyAllows(t *testing.T) {
	tc := newTestConsole(t)
	r := tc.signIn(api.RoleResearcher)
	home := tc.get(r, Prefix).body
	for _, hidden := range []string{`href="/console/audit"`, `href="/console/policies"`} {
		if strings.Contains(home, hidden) {
			t.Errorf("a researcher's navigation shows %s", hidden)
		}
	}
	if !strings.Contains(home, `href="/console/catalogue"`) {
		t.Error("a researcher's navigation lacks the catalogue")
	}
	for _, p := range []string{Prefix + "audit", Prefix + "audit/verify", Prefix + "policies", Prefix + "policies/playground", Prefix + "publish"} {
		if resp := tc.get(r, p); resp.code != http.StatusForbidden || !strings.Contains(resp.body, "data.xborder.api.allow") {
			t.Errorf("researcher GET %s = %d", p, resp.code)
		}
	}
	token := tc.csrf(r)
	for _, p := range []string{Prefix + "projects", Prefix + "projects/fr-de/join", Prefix + "agreements", Prefix + "agreements/a/sign",
		Prefix + "policies/playground", Prefix + "policies/reload", Prefix + "catalogue/fr-grandest/own/withdraw"} {
		if resp := tc.post(r, p, url.Values{"csrf": {token}, "id": {"x"}}); resp.code != http.StatusForbidden {
			t.Errorf("researcher POST %s = %d", p, resp.code)
		}
	}
	if len(tc.node.submitted) != 0 {
		t.Fatalf("a researcher's form reached the registry: %v", tc.node.submitted)
	}
	// Forms the role may not use are not shown.
	if body := tc.get(r, Prefix+"projects").body; strings.Contains(body, `id="project-form"`) {
		t.Error("a researcher sees the project proposal form")
	}
	if body := tc.get(r, Prefix+"catalogue/de-bw/icu").body; !strings.Contains(body, `id="request"`) {
		t.Error("a researcher does not see the request form")
	}
	// The auditor sees the audit, not the catalogue; legal the policies.
	a := tc.signIn(api.RoleAuditor)
	if resp := tc.get(a, Prefix+"audit/verify"); resp.code != http.StatusOK || !strings.Contains(resp.body, "hash mismatch") {
		t.Errorf("auditor verify: %d", resp.code)
	}
	if resp := tc.get(a, Prefix+"catalogue"); resp.code != http.StatusForbidden {
		t.Errorf("auditor catalogue: %d", resp.code)
	}
	l := tc.signIn(api.RoleLegal)
	if resp := tc.get(l, Prefix+"policies/playground"); resp.code != http.StatusOK {
		t.Errorf("legal playground: %d", resp.code)
	}
	// The analysis point is prefilled with an analysis, not another point's input.
	if resp := tc.get(l, Prefix+"policies/playground?point=data.xborder.analysis.decision"); resp.code != http.StatusOK ||
		!strings.Contains(resp.body, "summary") || strings.Contains(resp.body, "/v1/audit") {
		t.Errorf("legal playground, analysis: %d %s", resp.code, resp.body)
	}
	token = tc.csrf(l)
	resp := tc.post(l, Prefix+"policies/playground", url.Values{"csrf": {token}, "point": {"data.xborder.api.allow"},
		"input": {`{"user":{"sub":"a","role":"researcher"},"method":"GET","path":"/v1/audit"}`}})
	if resp.code != http.StatusOK || !strings.Contains(resp.body, "false") {
		t.Errorf("legal evaluates api.allow: %d %s", resp.code, resp.body)
	}
}

func TestLanguages(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	req, _ := http.NewRequest(http.MethodGet, tc.srv.URL+Prefix+"catalogue", nil)
	req.Header.Set("Accept-Language", "de-CH, fr;q=0.8, en;q=0.5")
	if resp := tc.do(b, req); !strings.Contains(resp.body, "Katalog der Föderation") || resp.header.Get("Content-Language") != "de" {
		t.Fatalf("Accept-Language de: %s", resp.body)
	}
	if resp := tc.get(b, Prefix+"catalogue?lang=fr"); !strings.Contains(resp.body, "Catalogue de la fédération") {
		t.Fatal("?lang=fr is not French")
	}
	// The choice is remembered, over the browser's header.
	req, _ = http.NewRequest(http.MethodGet, tc.srv.URL+Prefix+"projects", nil)
	req.Header.Set("Accept-Language", "de")
	if resp := tc.do(b, req); !strings.Contains(resp.body, "Projets communs") {
		t.Fatal("the language cookie is not used")
	}
	if got := fromAcceptLanguage("it, de;q=0.3, fr;q=0.7"); got != "fr" {
		t.Fatalf("fromAcceptLanguage = %s", got)
	}
	if got := fromAcceptLanguage(""); got != "en" {
		t.Fatalf("fromAcceptLanguage(\"\") = %s", got)
	}
}

// Every catalogue has the same keys, with the same format verbs, and every
// key a template or handler names exists.
func TestCataloguesAreComplete(t *testing.T) {
	m, err := loadMessages()
	if err != nil {
		t.Fatal(err)
	}
	verbs := regexp.MustCompile(`%[a-z]`)
	for k, en := range m["en"] {
		for _, l := range Languages[1:] {
			tr, ok := m[l][k]
			if !ok {
				t.Errorf("%s lacks %s", l, k)
				continue
			}
			if strings.Join(verbs.FindAllString(en, -1), "") != strings.Join(verbs.FindAllString(tr, -1), "") {
				t.Errorf("%s.%s has other format verbs than English: %q vs %q", l, k, tr, en)
			}
		}
	}
	for _, l := range Languages[1:] {
		if len(m[l]) != len(m["en"]) {
			t.Errorf("%s has %d keys, en %d", l, len(m[l]), len(m["en"]))
		}
	}
	used := regexp.MustCompile(`(?:\.T|x\.t) "([a-z_]+\.[a-z_]+)"`)
	err = fs.WalkDir(templatesFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, _ := fs.ReadFile(templatesFS, p)
		for _, k := range used.FindAllStringSubmatch(string(raw), -1) {
			if _, ok := m["en"][k[1]]; !ok {
				t.Errorf("%s uses %s, which no catalogue has", p, k[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"role.", "theme.", "class.", "kind.", "job.", "status.", "raft.", "flash."} {
		n := 0
		for k := range m["en"] {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no %s* messages", prefix)
		}
	}
}

// The policies page shows the operator's policy.evaluator and what decides.
func TestPoliciesPageShowsTheEvaluator(t *testing.T) {
	for _, tc := range []struct{ evaluator, configured, deciding string }{
		{policy.EvaluatorTopdown, "policy.evaluator: topdown", "OPA's topdown evaluator, as configured (policy.evaluator: topdown)"},
		{policy.EvaluatorPlan, "policy.evaluator: plan", ""},
	} {
		c := newTestConsole(t, policy.WithEvaluator(tc.evaluator))
		body := c.get(c.signIn(api.RoleLegal), Prefix+"policies").body
		if !strings.Contains(body, `<dd id="evaluator-configured"><code>`+tc.configured+`</code></dd>`) {
			t.Errorf("%s: the configured evaluator is not shown:\n%s", tc.evaluator, body)
		}
		if tc.deciding != "" && !strings.Contains(body, `<dd id="evaluator">`+html.EscapeString(tc.deciding)+`</dd>`) {
			t.Errorf("%s: the evaluator in use is not shown:\n%s", tc.evaluator, body)
		}
	}
}

// The catalogue links each open entry's dataset IRI (its DCAT-AP RDF and
// landing page); a protected entry has none, since its IRI is a 404.
func TestCatalogueLinksOpenEntriesRDF(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	body := tc.get(b, Prefix+"catalogue").body
	if !strings.Contains(body, `<a href="/datasets/fr-grandest/own" class="rdf-link muted"`) || strings.Contains(body, `href="/datasets/de-bw/icu"`) {
		t.Fatalf("the catalogue's RDF links are wrong:\n%s", body)
	}
	if body := tc.get(b, Prefix+"catalogue/fr-grandest/own").body; !strings.Contains(body, `<a href="/datasets/fr-grandest/own" id="dcat-link">`) ||
		!strings.Contains(body, `href="/datasets/fr-grandest/own?format=turtle"`) {
		t.Fatalf("an open entry's page does not link its RDF:\n%s", body)
	}
	if body := tc.get(b, Prefix+"catalogue/de-bw/icu").body; strings.Contains(body, `/datasets/de-bw/icu`) {
		t.Fatalf("a protected entry's page links an IRI that is a 404:\n%s", body)
	}
}

// The publish form offers the owner's choice to list a protected entry in
// the public catalogue, unchecked by default.
func TestPublishFormOffersPublicListing(t *testing.T) {
	tc := newTestConsole(t)
	body := tc.get(tc.signIn(api.RoleOperator), Prefix+"publish").body
	if !strings.Contains(body, `<input type="checkbox" name="public_listing" id="p-public-listing"> list in the public catalogue`) {
		t.Errorf("the publish form has no unchecked public_listing box:\n%s", body)
	}
}

// Updating an entry from the console keeps its data dictionary: the form
// shows it, as JSON, for the operator to keep or change.
func TestPublishFormKeepsTheDataDictionaryOfAnUpdate(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleOperator)
	body := tc.get(b, Prefix+"publish?id=cohort").body
	if !strings.Contains(body, `id="p-dictionary"`) || !strings.Contains(body, `&#34;name&#34;: &#34;patient_id&#34;`) {
		t.Fatalf("the update form does not carry the dictionary:\n%s", body)
	}
	if body := tc.get(b, Prefix+"publish").body; !strings.Contains(body, `id="p-dictionary" rows="6" spellcheck="false"`) {
		t.Fatalf("the publish form has no dictionary field:\n%s", body)
	}
}
