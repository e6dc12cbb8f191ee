package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xborder/xborder/policy"
)

// Backend is what the API serves; the node implements it.
type Backend interface {
	Status(ctx context.Context) Status
	Peers(ctx context.Context) []Peer
	Readiness(ctx context.Context) Readiness
}

// TokenVerifier authenticates bearer tokens.
type TokenVerifier interface {
	Verify(token string) (User, error)
}

// Authorizer decides whether an authenticated user may call an endpoint:
// data.xborder.api.allow (*policy.Engine).
type Authorizer interface {
	APIAllow(ctx context.Context, in policy.APIInput) (bool, error)
}

// AllowInput is the API policy's input for user u calling method path.
func AllowInput(u User, method, path string) policy.APIInput {
	return policy.APIInput{User: policy.APIUser{Sub: u.Subject, Role: u.Role, Org: u.Org}, Method: method, Path: path, Identity: u.Identity}
}

// Policies is the node's policy engine as the API exposes it
// (*policy.Engine).
type Policies interface {
	Info() policy.Info
	// Reload recompiles the policy directory; on a refusal the last good
	// bundle stays active and its Info comes with the error.
	Reload(ctx context.Context) (policy.Info, error)
	Eval(ctx context.Context, query string, input map[string]any, explain policy.Explain) (policy.EvalResult, error)
}

//go:embed openapi.json
var openAPI []byte

// Server is the local HTTP API of one node.
type Server struct {
	backend       Backend
	tokens        TokenVerifier
	authz         Authorizer
	policies      Policies
	registry      Registry
	audit         Audit
	catalogue     Catalogue
	exchange      Exchange
	agreements    Agreements
	analyses      Analyses
	modules       Modules
	backups       Backups
	dataspace     Dataspace
	sessions      ConsoleSessions
	identities    Identities
	roles         RoleDecider
	identityAudit IdentityAudit
	log           *slog.Logger
	mux           *http.ServeMux
	http          *http.Server
	requests      *prometheus.CounterVec
	routes        []string // "METHOD /path", for the OpenAPI consistency test
}

// Deps are what the API serves and how it checks its callers.
type Deps struct {
	Backend    Backend
	Policies   Policies
	Registry   Registry
	Audit      Audit
	Catalogue  Catalogue
	Exchange   Exchange
	Agreements Agreements
	Analyses   Analyses
	Modules    Modules
	Backups    Backups // nil: POST /v1/backup answers 501
	Tokens     TokenVerifier
	Authz      Authorizer
	// Identities, when set, lets API clients present a JWT access token
	// from a configured identity provider; Roles (data.xborder.api.role)
	// decides its role, IdentityAudit records the refusals.
	Identities    Identities
	Roles         RoleDecider
	IdentityAudit IdentityAudit
	// Console, when set, serves the web console under /console/ (and
	// the home page / redirects to it).
	Console http.Handler
	// Sessions lists and revokes the console's sessions; nil: the
	// /v1/sessions endpoints answer 501.
	Sessions ConsoleSessions
	Log      *slog.Logger
	// Registerer receives the API's metrics; Gatherer serves /metrics
	// (usually the same registry).
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer

	// Dataspace is the node's Dataspace Protocol participant; nil: the
	// /v1/dsp endpoints answer 501.
	Dataspace Dataspace
	// DataspaceProtocol, when set, serves the protocol under
	// DataspaceBasePath + "/" (default /dsp/), and DataspaceWellKnown
	// GET /.well-known/dspace-version: both without the API's bearer
	// auth, since the protocol authenticates its participants itself.
	DataspaceProtocol  http.Handler
	DataspaceWellKnown http.Handler
	DataspaceBasePath  string
}

// NewServer builds the API.
func NewServer(d Deps) *Server {
	log := d.Log
	s := &Server{
		backend: d.Backend, policies: d.Policies, registry: d.Registry, audit: d.Audit, catalogue: d.Catalogue, exchange: d.Exchange, agreements: d.Agreements, analyses: d.Analyses, modules: d.Modules, backups: d.Backups, dataspace: d.Dataspace, sessions: d.Sessions, identities: d.Identities, roles: d.Roles, identityAudit: d.IdentityAudit, tokens: d.Tokens, authz: d.Authz, log: log, mux: http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xborder_api_requests_total",
			Help: "Local API requests, by route and HTTP status code.",
		}, []string{"route", "code"}),
	}
	d.Registerer.MustRegister(s.requests)
	s.http = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}

	s.handle("GET /healthz", false, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.handle("GET /readyz", false, func(w http.ResponseWriter, r *http.Request) {
		rd := s.backend.Readiness(r.Context())
		code := http.StatusOK
		if !rd.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rd)
	})
	s.handle("GET /metrics", false, promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}).ServeHTTP)
	s.handle("GET /v1/openapi.json", false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	s.handle("GET /v1/status", true, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.backend.Status(r.Context()))
	})
	s.handle("GET /v1/peers", true, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.backend.Peers(r.Context()))
	})
	// whoami tells a client who the node takes it for: the role of an
	// issuer's access token is the node's policy's to decide, so a client
	// that signed in (`xborder login`) learns it only here.
	s.handle("GET /v1/whoami", true, func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		writeJSON(w, http.StatusOK, u)
	})
	s.routePolicy()
	s.routeRegistry()
	s.routeAudit()
	s.routeAnalyses()
	s.routeModules()
	s.routeCatalogue()
	s.routeExchange()
	s.routeAgreements()
	s.routeBackup()
	s.routeSessions()
	s.routeSignIn()
	s.routeDataspace()
	s.mountDataspace(d)
	if d.Console != nil {
		s.mux.Handle("/console/", d.Console)
		s.mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.requests.WithLabelValues("unmatched", "404").Inc()
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s (see /v1/openapi.json)", r.Method, r.URL.Path))
	})
	return s
}

// handle registers a route. With auth, the caller needs a valid token and
// the API policy must allow its role to call the endpoint.
func (s *Server) handle(pattern string, auth bool, h http.HandlerFunc) {
	route := pattern[strings.IndexByte(pattern, ' ')+1:]
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() { s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc() }()
		if auth {
			u, err := s.authenticate(r)
			var noRole *noRoleError
			switch {
			case errors.As(err, &noRole):
				writeError(rec, http.StatusForbidden, err.Error())
				return
			case err != nil:
				rec.Header().Set("WWW-Authenticate", `Bearer realm="xborder"`)
				writeError(rec, http.StatusUnauthorized, err.Error())
				return
			}
			allowed, err := s.authz.APIAllow(r.Context(), AllowInput(u, r.Method, r.URL.Path))
			if err != nil {
				s.log.Error("API policy failed; request denied", "err", err, "method", r.Method, "path", r.URL.Path)
				writeError(rec, http.StatusForbidden, "the API policy could not decide, so the request is denied: "+err.Error())
				return
			}
			if !allowed {
				writeError(rec, http.StatusForbidden, fmt.Sprintf("the %s role may not call %s %s (policy data.xborder.api.allow)", u.Role, r.Method, r.URL.Path))
				return
			}
			r = r.WithContext(withUser(r.Context(), u))
		}
		h(rec, r)
	})
}

func (s *Server) authenticate(r *http.Request) (User, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return User{}, fmt.Errorf("%w: no bearer token; send `Authorization: Bearer TOKEN` (issue one with `xborder token issue`)", ErrUnauthenticated)
	}
	tok, ok := bearerToken(h)
	if !ok {
		return User{}, fmt.Errorf("%w: the Authorization header is not `Bearer TOKEN`", ErrUnauthenticated)
	}
	if s.identities != nil && s.identities.Knows(tok) {
		return s.authenticateIdentity(r, tok)
	}
	return s.tokens.Verify(tok)
}

// bearerToken reads the token of an Authorization header value
// "Bearer TOKEN". The scheme is case-insensitive (RFC 9110 section 11.1),
// so "bearer" and "BEARER" count; spaces or tabs may separate it from
// the token (RFC 9110 section 11.4).
func bearerToken(h string) (string, bool) {
	h = strings.TrimSpace(h)
	i := strings.IndexAny(h, " \t")
	if i < 0 || !strings.EqualFold(h[:i], "Bearer") {
		return "", false
	}
	tok := strings.TrimSpace(h[i+1:])
	return tok, tok != ""
}

// Handler returns the API's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves the API on l until Shutdown; it returns nil after a
// graceful shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting requests and waits for those in flight until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.http.Shutdown(ctx)
}

type userKey struct{}

func withUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the authenticated user of a request.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, Error{Error: msg, Code: code})
}
