package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/oidc/oidctest"
	"github.com/xborder/xborder/policy"
)

// refusals keeps the refused identities the server reports.
type refusals struct {
	mu   sync.Mutex
	list []IdentityRefusal
}

func (r *refusals) IdentityRefused(_ context.Context, x IdentityRefusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, x)
}

// identityServer is an API that trusts a real OpenID provider and decides
// roles with the shipped policies plus a rule trusting that provider.
func identityServer(t testing.TB) (*oidctest.Provider, *httptest.Server, *refusals) {
	idp, srv, rec, _ := identityServerWithEngine(t)
	return idp, srv, rec
}

func issuersFor(t testing.TB, idp *oidctest.Provider) *oidc.Issuers {
	t.Helper()
	iss, err := oidc.NewIssuers([]oidc.Config{oidc.Config{Name: "test-idp", Issuer: idp.Issuer(), ClientID: "xborder-node",
		RedirectURL: "http://127.0.0.1/console/oidc/callback"}.WithDefaults()}, oidc.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func identityServerWithEngine(t testing.TB) (*oidctest.Provider, *httptest.Server, *refusals, *policy.Engine) {
	t.Helper()
	idp, err := oidctest.Start(oidctest.Config{Clients: []oidctest.Client{{ID: "xborder-node", Secret: "s"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	dir := testkit.ShippedPolicies(t)
	testkit.TrustIssuer(t, dir, idp.Issuer(), "Test IdP")
	engine, err := policy.NewEngine(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	iss := issuersFor(t, idp)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	reg := prometheus.NewRegistry()
	rec := &refusals{}
	s := NewServer(Deps{Backend: fixedBackend{}, Identities: iss, Roles: engine, Authz: engine, IdentityAudit: rec,
		Tokens: &Verifier{Key: pub, NodeID: nodeID},
		Log:    slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return idp, srv, rec, engine
}

func bearerGet(t testing.TB, srv *httptest.Server, path, tok string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The identity's claims reach data.xborder.api.allow as input.identity,
// and a token of the node's own is not sent to the issuer.
func TestIssuerTokensAndTheIdentityInput(t *testing.T) {
	idp, srv, rec := identityServer(t)
	now := time.Now()
	tok := idp.SignWithCurrentKey(map[string]any{"iss": idp.Issuer(), "sub": "u1", "aud": "xborder-node",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "email": "ada@kit.edu",
		"eduperson_scoped_affiliation": []any{"staff@kit.edu"}})
	code, body := bearerGet(t, srv, "/v1/whoami", tok)
	if code != http.StatusOK || !strings.Contains(body, `"role": "researcher"`) || !strings.Contains(body, `"sub": "test-idp:u1"`) ||
		!strings.Contains(body, "ada@kit.edu") {
		t.Fatalf("whoami: %d %s", code, body)
	}
	if len(rec.list) != 0 {
		t.Fatalf("refusals recorded for a good token: %+v", rec.list)
	}
	// A token claiming another issuer the node does not know goes to the
	// node's own verifier, which refuses it without asking anyone.
	other := idp.SignWithCurrentKey(map[string]any{"iss": "https://elsewhere.example", "sub": "u1", "aud": "xborder-node",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "email": "ada@kit.edu"})
	if code, _ := bearerGet(t, srv, "/v1/whoami", other); code != http.StatusUnauthorized {
		t.Fatalf("a token of an unknown issuer: %d", code)
	}
}

// Whatever a client sends as a bearer token, with the issuer's name in
// it or not, the API answers 200, 401 or 403: never a 5xx, never a
// panic, and a 200 only for a token the issuer signed.
func FuzzIdentityBearer(f *testing.F) {
	idp, srv, _ := identityServer(f)
	now := time.Now()
	good := idp.SignWithCurrentKey(map[string]any{"iss": idp.Issuer(), "sub": "u1", "aud": "xborder-node",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "email": "ada@kit.edu",
		"eduperson_scoped_affiliation": []any{"staff@kit.edu"}})
	f.Add(good)
	f.Add(good[:len(good)-3] + "AAA")
	f.Add(idp.SignWithUnpublishedKey(map[string]any{"iss": idp.Issuer(), "sub": "u1", "aud": "xborder-node"}))
	f.Add("eyJhbGciOiJub25lIn0." + strings.TrimRight(good[strings.IndexByte(good, '.')+1:], "."))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		if strings.TrimSpace(tok) == "" || strings.ContainsFunc(tok, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return // not a header value a client can send
		}
		code, body := bearerGet(t, srv, "/v1/whoami", tok)
		switch {
		case code >= 500:
			t.Fatalf("%d for %q: %s", code, tok, body)
		case code == http.StatusOK && !sameJWS(strings.TrimSpace(tok), good):
			t.Fatalf("accepted a token the issuer did not sign as is: %q", tok)
		}
	})
}

// sameJWS reports whether two compact JWS decode to the same bytes
// (base64url leaves the last character's spare bits free).
func sameJWS(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 3 || len(pb) != 3 {
		return false
	}
	for i := range pa {
		x, err1 := base64.RawURLEncoding.DecodeString(pa[i])
		y, err2 := base64.RawURLEncoding.DecodeString(pb[i])
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// BenchmarkBearer is what an API call costs to authenticate and
// authorise: a node-signed token (the baseline: Ed25519, then
// data.xborder.api.allow) against an identity provider's access token
// (RS256 against the issuer's cached keys, data.xborder.api.role, then
// api.allow with the identity), both through the whole handler of
// GET /v1/whoami. It reports each per call and their ratio.
func BenchmarkBearer(b *testing.B) {
	idp, _, _, roles := identityServerWithEngine(b)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	// A server of its own, whose node key the benchmark holds.
	iss := issuersFor(b, idp)
	reg := prometheus.NewRegistry()
	s := NewServer(Deps{Backend: fixedBackend{}, Identities: iss, Roles: roles, Authz: roles,
		Tokens: &Verifier{Key: key.Public().(ed25519.PublicKey), NodeID: nodeID},
		Log:    slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg})
	h := s.Handler()
	nodeTok, err := IssueToken(key, nodeID, User{Subject: "ada", Role: RoleResearcher}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	idpTok := idp.SignWithCurrentKey(map[string]any{"iss": idp.Issuer(), "sub": "u1", "aud": "xborder-node",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "email": "ada@kit.edu",
		"eduperson_scoped_affiliation": []any{"staff@kit.edu"}})
	call := func(tok string) time.Duration {
		req := httptest.NewRequest(http.MethodGet, "/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, req)
		d := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("%d: %s", w.Code, w.Body)
		}
		return d
	}
	call(idpTok) // the issuer's keys fetched once
	var nodeSum, idpSum time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Interleaved, so that both see the same machine.
		nodeSum += call(nodeTok)
		idpSum += call(idpTok)
	}
	b.ReportMetric(float64(nodeSum.Microseconds())/float64(b.N), "node_µs/call")
	b.ReportMetric(float64(idpSum.Microseconds())/float64(b.N), "issuer_µs/call")
	b.ReportMetric(float64(idpSum)/float64(nodeSum), "issuer/node")
}
