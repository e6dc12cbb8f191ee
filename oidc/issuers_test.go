package oidc

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xborder/xborder/oidc/oidctest"
)

func TestIssuersRefuseAmbiguousConfigurations(t *testing.T) {
	a := testConfig(t, "https://idp.example", testRedirect)
	b := a
	b.Issuer = "https://other.example"
	if _, err := NewIssuers([]Config{a, b}, Deps{}); err == nil || !strings.Contains(err.Error(), `two issuers are named "test-idp"`) {
		t.Fatalf("two issuers of one name: %v", err)
	}
	b = a
	b.Name = "again"
	if _, err := NewIssuers([]Config{a, b}, Deps{}); err == nil || !strings.Contains(err.Error(), "is already configured") {
		t.Fatalf("one issuer twice: %v", err)
	}
	bad := a
	bad.Name = "Has Spaces"
	if _, err := NewIssuers([]Config{bad}, Deps{}); err == nil || !strings.Contains(err.Error(), "lower-case letters") {
		t.Fatalf("a name unfit for a URL: %v", err)
	}
}

// An issuer that is down when first used is reported unavailable, asked
// again only after RetryAfter, and used once it answers; concurrent first
// uses discover it once; a token names its issuer or is refused.
func TestIssuersDiscoverOnFirstUse(t *testing.T) {
	var discoveries atomic.Int64
	var up atomic.Bool
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			discoveries.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tp, err := oidctest.New(oidctest.Config{Issuer: srv.URL, Clients: []oidctest.Client{{ID: testClientID, Secret: testSecret, RedirectURIs: []string{testRedirect}}}})
	if err != nil {
		t.Fatal(err)
	}
	handler = tp.Handler()

	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	iss, err := NewIssuers([]Config{testConfig(t, srv.URL, testRedirect)}, Deps{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := iss.Get(ctx, "test-idp"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("an issuer that is down: %v", err)
	}
	up.Store(true)
	if _, err := iss.Get(ctx, "test-idp"); !errors.Is(err, ErrUnavailable) || discoveries.Load() != 0 {
		t.Fatalf("asked again before RetryAfter: %v (%d discoveries)", err, discoveries.Load())
	}
	mu.Lock()
	now = now.Add(RetryAfter)
	mu.Unlock()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := iss.Get(ctx, "test-idp"); err != nil {
				t.Errorf("after RetryAfter: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := discoveries.Load(); n != 1 {
		t.Fatalf("%d discoveries for 8 concurrent first uses", n)
	}
	if _, err := iss.Get(ctx, "nobody"); !errors.Is(err, ErrUnknownIssuer) {
		t.Fatalf("an issuer not configured: %v", err)
	}

	claims := map[string]any{"iss": srv.URL, "sub": "id1", "aud": testClientID, "iat": time.Now().Unix(),
		"exp": time.Now().Add(time.Minute).Unix(), "email": "a@b"}
	tok := tp.SignWithCurrentKey(claims)
	if !iss.Knows(tok) {
		t.Fatal("a token of the configured issuer is not recognised")
	}
	if name, id, err := iss.VerifyAccessToken(ctx, tok); err != nil || name != "test-idp" || id.Subject != "id1" {
		t.Fatalf("verify: %q %+v %v", name, id, err)
	}
	claims["iss"] = "https://elsewhere.example"
	foreign := tp.SignWithCurrentKey(claims)
	if iss.Knows(foreign) {
		t.Fatal("a token of another issuer is recognised")
	}
	if _, _, err := iss.VerifyAccessToken(ctx, foreign); !errors.Is(err, ErrUnknownIssuer) {
		t.Fatalf("a token of another issuer: %v", err)
	}
	if _, _, err := iss.VerifyAccessToken(ctx, "not a token"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

// An issuer under a region's own CA is reached with ca_file, and refused
// without it; a ca_file that holds no certificate is a configuration
// error.
func TestIssuerUnderItsOwnCA(t *testing.T) {
	var handler http.Handler
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	tp, err := oidctest.New(oidctest.Config{Issuer: srv.URL, Clients: []oidctest.Client{{ID: testClientID, Secret: testSecret, RedirectURIs: []string{testRedirect}}}})
	if err != nil {
		t.Fatal(err)
	}
	handler = tp.Handler()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, srv.URL, testRedirect)
	if _, err := New(context.Background(), cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an issuer under an unknown CA: %v", err)
	}
	cfg.CAFile = ca
	if _, err := New(context.Background(), cfg, Deps{}); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("a ca_file without a certificate: %v", err)
	}
}

func TestDiscoveredEndpointsMustBeSecure(t *testing.T) {
	for raw, ok := range map[string]bool{
		"": true, "https://idp.example/token": true, "http://127.0.0.1:8080/jwks": true, "http://localhost/x": true,
		"http://idp.example/end_session": false, "ftp://idp.example/": false, "/relative": false, "javascript:alert(1)": false,
	} {
		if err := secureURL(raw); (err == nil) != ok {
			t.Errorf("secureURL(%q) = %v", raw, err)
		}
	}
}
