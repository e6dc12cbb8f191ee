// Package console is the node's web console: server-rendered pages over
// the same node services, token rules and API policy as the local HTTP API
// (node/api), served by `xborder run` on the API address under /console/.
//
// A user signs in with a one-time code that `xborder console` mints with
// the node's key. The session is kept by the node (Sessions, the
// sessionstore package: it survives a restart, expires, and operators
// list and revoke it); the HttpOnly, SameSite=Strict cookie carries only
// its random token.
// Every page and every form names the API route it stands for, and the
// node's data.xborder.api.allow decides, for the session's role, whether
// the page shows the link or form and whether the server carries it out.
package console

import (
	"context"
	"crypto/ed25519"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console/sessionstore"
)

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed static
var staticFS embed.FS

// The console shows and acts on the services the local API serves, each
// through the part it calls; the node passes the same implementations to
// both. Agreements, Policies and the API policy (Authorizer) are used
// whole, as node/api declares them.

// Backend is the node itself: its status and the members it sees.
type Backend interface {
	Status(ctx context.Context) api.Status
	Peers(ctx context.Context) []api.Peer
}

// Registry is the replicated registry: projects, members and the
// policy bundles they declared, and writes admitted by this node's
// policy (*consensus.Clerk).
type Registry interface {
	Projects(ctx context.Context) ([]consensus.Project, uint64, error)
	Project(ctx context.Context, id string) (consensus.Project, uint64, error)
	Members(ctx context.Context) ([]consensus.Member, []consensus.Proposal, uint64, error)
	Submit(ctx context.Context, op string, args any) (uint64, error)
	DeclaredPolicies(ctx context.Context) ([]consensus.DeclaredPolicy, error)
}

// Audit is this node's audit trail: its records and their verification
// (*audit.Service).
type Audit interface {
	AuditRecords(ctx context.Context, f audit.Filter) ([]audit.Record, audit.Head, error)
	VerifyAudit(ctx context.Context) (audit.Report, error)
}

// Catalogue is the federation catalogue (*exchange.Catalogue).
type Catalogue interface {
	Publish(ctx context.Context, p exchange.Publication, content io.Reader) (exchange.Entry, error)
	Withdraw(ctx context.Context, id string) (exchange.Entry, error)
	Search(ctx context.Context, f exchange.Filter) []exchange.Listing
	Entry(ctx context.Context, owner, id string) (exchange.Listing, error)
	CatalogueSyncs(ctx context.Context) []exchange.PeerState
	// PubliclyVisible is whether the public catalogue lists an entry, as
	// the node's catalogue policy decides: the console links its RDF.
	PubliclyVisible(ctx context.Context, l exchange.Listing) bool
}

// Exchange is access requests and transfers as a caller sees them
// (*exchange.Service).
type Exchange interface {
	RequestAccess(ctx context.Context, c exchange.Caller, owner, id, purpose, project string) (exchange.Answer, error)
	StartFetch(ctx context.Context, c exchange.Caller, owner, id, purpose, project string) (exchange.JobStatus, error)
	Transfers(ctx context.Context, c exchange.Caller) []exchange.JobStatus
	Transfer(ctx context.Context, c exchange.Caller, id string) (exchange.JobStatus, bool)
	OpenTransfer(ctx context.Context, c exchange.Caller, id string) (exchange.JobStatus, *os.File, error)
}

// Analyses is federated analysis as a researcher starts and follows it
// (*analysis.Service).
type Analyses interface {
	Start(ctx context.Context, c analysis.Caller, spec analysis.Spec) (analysis.Status, error)
	Analysis(ctx context.Context, c analysis.Caller, id string) (analysis.Status, error)
	Analyses(ctx context.Context, c analysis.Caller) ([]analysis.Status, error)
}

// Sessions keeps the console's sessions (*sessionstore.Store): the
// cookie's token opens one. A lookup that fails for any reason, the store
// itself failing included, is no session.
type Sessions interface {
	Create(in sessionstore.Session, ttl time.Duration) (token string, s sessionstore.Session, err error)
	Lookup(token string) (sessionstore.Session, error)
	End(token string) (sessionstore.Session, error)
}

// Recorder appends to the node's audit trail (the node's recorder, as
// the exchange uses it).
type Recorder interface {
	Record(typ, subject string, details any) error
}

// Audit record types of the console.
const (
	AuditSignIn  = "console.signin"
	AuditSignOut = "console.signout"
)

// Deps are the services the console shows and acts on, and what it
// needs to sign users in.
type Deps struct {
	Backend    Backend
	Policies   api.Policies
	Registry   Registry
	Audit      Audit
	Catalogue  Catalogue
	Exchange   Exchange
	Agreements api.Agreements
	Analyses   Analyses
	// Modules reads the registry's modules and the models' evaluations.
	Modules api.Modules
	// Authz is the API policy (data.xborder.api.allow) that decides
	// what each role may see and do.
	Authz api.Authorizer
	// Key and NodeID verify sign-in codes (the node's public key and peer
	// ID, as for API tokens).
	Key    ed25519.PublicKey
	NodeID string
	// Sessions keeps the sessions (required).
	Sessions Sessions
	// Recorder records sign-ins and sign-outs; nil records nothing (a
	// node always sets it: a sign-in it cannot record is refused).
	Recorder Recorder
	// Identities are the OpenID Connect issuers researchers sign in with
	// (*oidc.Issuers); nil: one-time codes only. Roles
	// (data.xborder.api.role) gives each identity its role, and
	// IdentityAudit records the refused ones.
	Identities    IdentityProviders
	Roles         api.RoleDecider
	IdentityAudit api.IdentityAudit
	// PublicURL is the node's public base URL: where an issuer sends the
	// browser back after signing out there.
	PublicURL string
	// Name is the node's member name, shown in every page's header.
	Name string
	// SecureCookies marks the cookies Secure on every answer, not only on
	// those served over TLS: the node's public URL is https, behind a
	// proxy that terminates TLS and forwards plain HTTP.
	SecureCookies bool
	Log           *slog.Logger
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Prefix is where the console is mounted.
const Prefix = "/console/"

const sessionCookie = "xborder_session"

// Limits on what a form may send.
const (
	maxForm    = 1 << 20
	maxPublish = 8 << 30
)

// Console serves the web console.
type Console struct {
	// svc are the services of Deps.
	svc      Deps
	name     string
	log      *slog.Logger
	now      func() time.Time
	codes    *codes
	sessions Sessions
	recorder Recorder
	msgs     messages
	mux      *http.ServeMux
	static   http.Handler
}

// New builds the console. It fails only when its embedded message
// catalogues are broken. Its page templates are parsed on the first page
// served, once per process: they take about 10 ms and 1.5 MiB, on the
// critical path of a node's start for a console most nodes rarely serve.
func New(d Deps) (*Console, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Sessions == nil {
		return nil, errors.New("console: no session store")
	}
	msgs, err := loadMessages()
	if err != nil {
		return nil, err
	}
	c := &Console{svc: d, name: d.Name, log: d.Log, now: d.Now, msgs: msgs,
		codes: newCodes(d.Key, d.NodeID, d.Now), sessions: d.Sessions, recorder: d.Recorder, mux: http.NewServeMux()}
	sub, _ := fs.Sub(staticFS, "static")
	c.static = http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))
	c.routes()
	return c, nil
}

// ServeHTTP serves every path under Prefix, with the console's security
// headers on every answer.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if !strings.HasPrefix(r.URL.Path, Prefix+"static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// access names the API route a console page or form stands for: the
// session's role needs data.xborder.api.allow for it.
type access func(r *http.Request) (method, path string)

// apiRoute is an access to a fixed route, or one whose {name} segments
// are the console route's path values.
func apiRoute(method, pattern string) access {
	return func(r *http.Request) (string, string) {
		p := pattern
		for {
			i := strings.IndexByte(p, '{')
			if i < 0 {
				return method, p
			}
			j := strings.IndexByte(p[i:], '}')
			p = p[:i] + r.PathValue(p[i+1:i+j]) + p[i+j+1:]
		}
	}
}

// rc is one request's state: its session, language and the API policy's
// answers so far.
type rc struct {
	c     *Console
	w     http.ResponseWriter
	r     *http.Request
	sess  *session
	lang  string
	allow map[string]bool
}

// may asks the node's API policy whether the session's role may call
// method path; the answer is kept for the rest of the request.
func (x *rc) may(method, path string) bool {
	if x.sess == nil {
		return false
	}
	k := method + " " + path
	if v, ok := x.allow[k]; ok {
		return v
	}
	ok, err := x.c.svc.Authz.APIAllow(x.r.Context(), api.AllowInput(x.sess.user, method, path))
	if err != nil {
		x.c.log.Error("API policy failed; console action denied", "err", err, "method", method, "path", path)
		ok = false
	}
	x.allow[k] = ok
	return ok
}

func (x *rc) t(key string, args ...any) string { return x.c.msgs.text(x.lang, key, args...) }

func (x *rc) user() api.User {
	if x.sess == nil {
		return api.User{}
	}
	return x.sess.user
}

func (x *rc) ctx() context.Context { return x.r.Context() }

type handler func(x *rc)

type routeOpts struct {
	public   bool  // no session needed
	maxBody  int64 // POST bodies
	jsonAuth bool  // answer 401 instead of redirecting to the sign-in page
}

// handle registers a console route: the session is required (GET without
// one redirects to the sign-in page), the API policy must allow the role
// the API route of need, and a POST must carry the session's CSRF token,
// checked in that order.
func (c *Console) handle(pattern string, need access, h handler, opts ...routeOpts) {
	var o routeOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.maxBody == 0 {
		o.maxBody = maxForm
	}
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		x := &rc{c: c, w: w, r: r, lang: pickLang(w, r, c.secure(r)), allow: map[string]bool{}}
		x.sess = c.session(r)
		post := r.Method == http.MethodPost
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, o.maxBody)
		}
		if o.public && !post {
			h(x)
			return
		}
		if x.sess == nil {
			switch {
			case post:
				c.fail(x, http.StatusForbidden, x.t("error.no_session"))
			case o.jsonAuth:
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not signed in"})
			default:
				http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
			}
			return
		}
		// The role is checked before the CSRF token, which is in the
		// body: a form the role may not send is refused before a byte of
		// it is read (a publish form carries the whole file).
		if need != nil {
			method, path := need(r)
			if !x.may(method, path) {
				c.fail(x, http.StatusForbidden, x.t("error.forbidden", x.sess.user.Role, method, path))
				return
			}
		}
		if post && !c.csrfOK(x) {
			c.fail(x, http.StatusForbidden, x.t("error.csrf"))
			return
		}
		h(x)
	})
}

// csrfOK checks a POST: from this origin when the browser says, and with
// the session's token in the form.
func (c *Console) csrfOK(x *rc) bool {
	r := x.r
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/form-data") {
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return false
		}
	} else if err := r.ParseForm(); err != nil {
		return false
	}
	return sameToken(r.PostForm.Get("csrf"), x.sess.csrf)
}

// page is what every template gets.
type page struct {
	x      *rc
	Title  string // message key
	Active string // nav item
	Flash  string
	Data   any
}

func (p *page) T(key string, args ...any) string { return p.x.t(key, args...) }
func (p *page) May(method, path string) bool     { return p.x.may(method, path) }
func (p *page) SignedIn() bool                   { return p.x.sess != nil }
func (p *page) User() api.User                   { return p.x.user() }
func (p *page) CSRF() string {
	if p.x.sess == nil {
		return ""
	}
	return p.x.sess.csrf
}
func (p *page) Lang() string          { return p.x.lang }
func (p *page) Langs() []string       { return Languages }
func (p *page) NodeName() string      { return p.x.c.name }
func (p *page) Path() string          { return p.x.r.URL.Path }
func (p *page) Query(k string) string { return p.x.r.URL.Query().Get(k) }

// LangHref is this page in another language: the same address for a page
// read with GET, the home page after a form.
func (p *page) LangHref(l string) string {
	if p.x.r.Method != http.MethodGet {
		return Prefix + "?lang=" + url.QueryEscape(l)
	}
	q := p.x.r.URL.Query()
	q.Del("ok")
	q.Set("lang", l)
	return p.x.r.URL.Path + "?" + q.Encode()
}

// navItem is a link of the header, shown when the role may read its page.
type navItem struct {
	Key, Href string
	Active    bool
}

var nav = []struct{ key, href, method, path string }{
	{"nav.federation", Prefix, "GET", "/v1/peers"},
	{"nav.catalogue", Prefix + "catalogue", "GET", "/v1/catalogue"},
	{"nav.transfers", Prefix + "transfers", "GET", "/v1/transfers"},
	{"nav.analyses", Prefix + "analyses", "GET", "/v1/analyses"},
	{"nav.projects", Prefix + "projects", "GET", "/v1/projects"},
	{"nav.modules", Prefix + "modules", "GET", "/v1/modules"},
	{"nav.agreements", Prefix + "agreements", "GET", "/v1/agreements"},
	{"nav.audit", Prefix + "audit", "GET", "/v1/audit"},
	{"nav.policies", Prefix + "policies", "GET", "/v1/policy"},
}

func (p *page) Nav() []navItem {
	if p.x.sess == nil {
		return nil
	}
	var out []navItem
	for _, n := range nav {
		if p.x.may(n.method, n.path) {
			out = append(out, navItem{Key: n.key, Href: n.href, Active: p.Active == n.key})
		}
	}
	return out
}

// render writes a page with its status code.
func (c *Console) render(x *rc, code int, name string, p *page) {
	p.x = x
	if p.Flash == "" {
		if ok := x.r.URL.Query().Get("ok"); ok != "" {
			if _, known := c.msgs[defaultLang]["flash."+ok]; known {
				p.Flash = x.t("flash." + ok)
			}
		}
	}
	pages, err := sharedPages()
	if err != nil {
		// Embedded templates that do not parse are a build broken
		// beyond this page; the tests parse them all.
		c.log.Error("console templates do not parse", "err", err)
		http.Error(x.w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	t, ok := pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		c.log.Error("console template failed", "page", name, "err", err)
		http.Error(x.w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	x.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	x.w.Header().Set("Content-Language", x.lang)
	x.w.WriteHeader(code)
	_, _ = x.w.Write([]byte(b.String()))
}

// failure is the data of the error page.
type failure struct {
	Code    int
	Message string
	Reasons []string
	Rules   []string
	Back    string
}

func (c *Console) fail(x *rc, code int, msg string, reasons ...string) {
	c.render(x, code, "error.html", &page{Title: "error.title", Data: failure{Code: code, Message: msg, Reasons: reasons}})
}

// failErr renders a node error with its policy reasons, if any, and the
// HTTP status the API would answer.
func (c *Console) failErr(x *rc, err error, back string) {
	code, reasons, rules := classify(err)
	c.render(x, code, "error.html", &page{Title: "error.title",
		Data: failure{Code: code, Message: err.Error(), Reasons: reasons, Rules: rules, Back: back}})
}

func (c *Console) redirect(x *rc, to string) {
	http.Redirect(x.w, x.r, to, http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// routes registers every page.
func (c *Console) routes() {
	public := routeOpts{public: true}
	c.mux.HandleFunc("GET "+Prefix+"static/", c.static.ServeHTTP)
	c.handle("GET "+Prefix+"signin", nil, c.signin, public)
	c.handle("POST "+Prefix+"signout", nil, c.signout)
	c.handle("GET "+Prefix+"signin/{issuer}", nil, c.oidcStart, public)
	c.handle("GET "+CallbackPath, nil, c.oidcCallback, public)
	c.handle("GET "+Prefix+"{$}", apiRoute("GET", "/v1/peers"), c.federation)

	c.handle("GET "+Prefix+"catalogue", apiRoute("GET", "/v1/catalogue"), c.catalogue)
	c.handle("GET "+Prefix+"catalogue/{owner}/{id}", apiRoute("GET", "/v1/catalogue/{owner}/{id}"), c.entry)
	c.handle("POST "+Prefix+"catalogue/{owner}/{id}/request", apiRoute("POST", "/v1/requests"), c.request)
	c.handle("POST "+Prefix+"catalogue/{owner}/{id}/fetch", apiRoute("POST", "/v1/fetch"), c.fetch)
	c.handle("POST "+Prefix+"catalogue/{owner}/{id}/withdraw", apiRoute("DELETE", "/v1/datasets/{id}"), c.withdraw)
	c.handle("GET "+Prefix+"publish", apiRoute("POST", "/v1/datasets"), c.publishForm)
	c.handle("POST "+Prefix+"publish", apiRoute("POST", "/v1/datasets"), c.publish, routeOpts{maxBody: maxPublish})
	c.handle("GET "+Prefix+"transfers", apiRoute("GET", "/v1/transfers"), c.transfers)
	c.handle("GET "+Prefix+"transfers/{id}", apiRoute("GET", "/v1/transfers/{id}"), c.transfer)
	c.handle("GET "+Prefix+"transfers/{id}/status", apiRoute("GET", "/v1/transfers/{id}"), c.transferStatus, routeOpts{jsonAuth: true})
	c.handle("GET "+Prefix+"transfers/{id}/content", apiRoute("GET", "/v1/transfers/{id}/content"), c.transferContent)

	c.handle("GET "+Prefix+"analyses", apiRoute("GET", "/v1/analyses"), c.analyses)
	c.handle("GET "+Prefix+"analyses/new", apiRoute("POST", "/v1/analyses"), c.analysisForm)
	c.handle("POST "+Prefix+"analyses", apiRoute("POST", "/v1/analyses"), c.startAnalysis)
	c.handle("GET "+Prefix+"analyses/{id}", apiRoute("GET", "/v1/analyses/{id}"), c.analysisPage)
	c.handle("GET "+Prefix+"analyses/{id}/result.json", apiRoute("GET", "/v1/analyses/{id}"), c.analysisResult)

	c.handle("GET "+Prefix+"projects", apiRoute("GET", "/v1/projects"), c.projects)
	c.handle("POST "+Prefix+"projects", apiRoute("POST", "/v1/projects"), c.proposeProject)
	c.handle("GET "+Prefix+"projects/{id}", apiRoute("GET", "/v1/projects/{id}"), c.project)
	c.handle("POST "+Prefix+"projects/{id}/join", apiRoute("POST", "/v1/projects/{id}/join"), c.joinProject)
	c.handle("POST "+Prefix+"projects/{id}/attach", apiRoute("POST", "/v1/projects/{id}/attach"), c.attachDataset)
	c.handle("POST "+Prefix+"projects/{id}/approve", apiRoute("POST", "/v1/projects/{id}/approve"), c.approveChange)
	c.handle("POST "+Prefix+"projects/{id}/decline", apiRoute("POST", "/v1/projects/{id}/decline"), c.declineChange)

	c.handle("GET "+Prefix+"modules", apiRoute("GET", "/v1/modules"), c.modules)
	c.handle("POST "+Prefix+"modules/{project}/{sha256}/approve", apiRoute("POST", "/v1/modules/{project}/{sha256}/approve"), c.approveModule)
	c.handle("POST "+Prefix+"modules/{project}/{sha256}/withdraw", apiRoute("POST", "/v1/modules/{project}/{sha256}/withdraw"), c.withdrawModule)

	c.handle("GET "+Prefix+"agreements", apiRoute("GET", "/v1/agreements"), c.agreementList)
	c.handle("POST "+Prefix+"agreements", apiRoute("POST", "/v1/agreements"), c.proposeAgreement)
	c.handle("GET "+Prefix+"agreements/{id}", apiRoute("GET", "/v1/agreements/{id}"), c.agreement)
	c.handle("POST "+Prefix+"agreements/{id}/sign", apiRoute("POST", "/v1/agreements/{id}/sign"), c.signAgreement)
	c.handle("POST "+Prefix+"agreements/{id}/revoke", apiRoute("POST", "/v1/agreements/{id}/revoke"), c.revokeAgreement)

	c.handle("GET "+Prefix+"audit", apiRoute("GET", "/v1/audit"), c.auditList)
	c.handle("GET "+Prefix+"audit/verify", apiRoute("GET", "/v1/audit/verify"), c.auditVerify)

	c.handle("GET "+Prefix+"policies", apiRoute("GET", "/v1/policy"), c.policies)
	c.handle("POST "+Prefix+"policies/reload", apiRoute("POST", "/v1/policy/reload"), c.reloadPolicy)
	c.handle("GET "+Prefix+"policies/playground", apiRoute("POST", "/v1/policy/eval"), c.playground)
	c.handle("POST "+Prefix+"policies/playground", apiRoute("POST", "/v1/policy/eval"), c.evaluate)

	c.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		x := &rc{c: c, w: w, r: r, lang: pickLang(w, r, c.secure(r)), allow: map[string]bool{}}
		x.sess = c.session(r)
		c.fail(x, http.StatusNotFound, x.t("error.not_found"))
	})
}

// secure reports whether cookies set in answer to r are marked Secure:
// r came over TLS, or the node is reached through a TLS-terminating
// proxy (Deps.SecureCookies). A forwarded-protocol header is not read: a
// client could send it.
func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.svc.SecureCookies }

// session is the live session the request's cookie opens, or nil. A
// store that fails signs nobody in.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	st, err := c.sessions.Lookup(ck.Value)
	switch {
	case err == nil:
	case errors.Is(err, sessionstore.ErrNotFound), errors.Is(err, sessionstore.ErrExpired):
		return nil
	default:
		c.log.Error("console session store failed; request treated as signed out", "err", err)
		return nil
	}
	return &session{id: ck.Value, csrf: csrfOf(ck.Value), expires: st.Expires, stored: st,
		user: api.User{Subject: st.Subject, Role: st.Role, Org: st.Org, Expires: st.Expires, Identity: st.Identity}}
}

func (c *Console) record(typ, subject string, details map[string]any) error {
	if c.recorder == nil {
		return nil
	}
	return c.recorder.Record(typ, subject, details)
}

// signin exchanges a one-time code for a session, then redirects to the
// home page so that the code leaves the address bar; without a code it
// says how to get one. A session the store cannot keep, or whose sign-in
// the audit trail cannot record, is refused.
func (c *Console) signin(x *rc) {
	code := x.r.URL.Query().Get("code")
	if code == "" {
		c.signinPage(x, http.StatusOK, "", "")
		return
	}
	u, ttl, err := c.codes.exchange(code)
	if err != nil {
		c.log.Warn("console sign-in refused", "err", err)
		c.signinPage(x, http.StatusUnauthorized, "", x.t("signin.refused", strings.TrimPrefix(err.Error(), ErrBadCode.Error()+": ")))
		return
	}
	c.startSession(x, u, sessionstore.Session{Subject: u.Subject, Role: u.Role, Org: u.Org, Method: sessionstore.MethodCode}, ttl, nil)
}

// startSession keeps and records a new session, sets its cookie and
// sends the browser to the home page. A session the store cannot keep,
// or whose sign-in the audit trail cannot record, is refused.
func (c *Console) startSession(x *rc, u api.User, in sessionstore.Session, ttl time.Duration, details map[string]any) {
	token, st, err := c.sessions.Create(in, ttl)
	if err == nil {
		rec := map[string]any{"session": st.ID, "role": u.Role, "org": u.Org, "method": st.Method, "expires": st.Expires}
		for k, v := range details {
			rec[k] = v
		}
		if err = c.record(AuditSignIn, u.Subject, rec); err != nil {
			_, _ = c.sessions.End(token)
		}
	}
	if err != nil {
		c.log.Error("console sign-in not kept", "sub", u.Subject, "err", err)
		c.signinPage(x, http.StatusServiceUnavailable, "", x.t("signin.oidc_refused", "the node cannot keep or record the session now: "+err.Error()))
		return
	}
	c.log.Info("console sign-in", "sub", u.Subject, "role", u.Role, "method", st.Method, "session", st.ID[:12])
	http.SetCookie(x.w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: st.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(x.r)})
	if in.Method != sessionstore.MethodOIDC {
		c.redirect(x, Prefix)
		return
	}
	// Back from the issuer, the browser is in a navigation another site
	// started: a redirect would carry that along, and the SameSite=Strict
	// session cookie would stay behind on the first page. A page of the
	// node's own that moves on starts a same-site navigation.
	c.moveOn(x, Prefix, x.t("signin.title"), x.t("signin.continue"))
}

// moveOn answers with a page that sends the browser on to "to" at once
// (a meta refresh, with a link for a browser that does not follow it).
func (c *Console) moveOn(x *rc, to, title, link string) {
	x.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	x.w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(x.w, `<!doctype html><html lang="%s"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=%s"><title>%s</title></head>`+
		`<body><p><a id="continue" href="%s">%s</a></p></body></html>`,
		html.EscapeString(x.lang), html.EscapeString(to), html.EscapeString(title), html.EscapeString(to), html.EscapeString(link))
}

// signout ends the session at the node (it is deleted from the store)
// and clears the cookie; a session from an issuer that supports it is
// then ended there too (the browser is sent to its end-session page).
func (c *Console) signout(x *rc) {
	st, err := c.sessions.End(x.sess.id)
	if err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
		c.log.Error("console sign-out: session not deleted", "err", err)
		c.fail(x, http.StatusServiceUnavailable, err.Error())
		return
	} else if err == nil {
		if err := c.record(AuditSignOut, st.Subject, map[string]any{"session": st.ID, "role": st.Role, "method": st.Method}); err != nil {
			c.log.Error("console sign-out not recorded", "err", err)
		}
	}
	http.SetCookie(x.w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(x.r)})
	x.sess = nil
	if err == nil {
		if to, ok := c.endSessionURL(x, st); ok {
			// Not a redirect: a browser holds a form's redirects to the
			// form-action of the page the form was on ('self'), whatever
			// the redirect's own policy says, and stops there. A page of
			// the node's own that moves on is no form submission.
			c.moveOn(x, to, x.t("signout.title"), x.t("signout.continue", c.issuerLabel(st.Issuer)))
			return
		}
	}
	c.signinPage(x, http.StatusOK, x.t("flash.signed_out"), "")
}

var errNotOwn = errors.New("not an entry of this node")

func formList(v string) []string {
	var out []string
	for f := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func fmtErr(format string, args ...any) error { return fmt.Errorf(format, args...) }
