package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// testProvider is a real OpenID provider (zitadel's op package) on
// loopback: discovery, authorisation with a login the test completes as a
// chosen user, token endpoint, JWKS. Its signing key can be rotated, and
// the test can sign tokens of its own with the published key.
type testProvider struct {
	srv    *httptest.Server
	op     *op.Provider
	store  *rotatingStorage
	issuer string
}

const (
	testClientID = "xborder-node"
	testSecret   = "s3cret-of-the-node"
)

// testKey is an RSA signing key with its id.
type testKey struct {
	id  string
	key *rsa.PrivateKey
}

func newTestKey(t testing.TB) *testKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{id: randomToken()[:12], key: k}
}

func (k *testKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *testKey) Key() any                                    { return k.key }
func (k *testKey) ID() string                                  { return k.id }

// publicKey is how the JWKS publishes a testKey.
type publicKey struct{ k *testKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

// rotatingStorage is the example storage of zitadel's op with a signing
// key the test may change and claims the test chooses per user.
type rotatingStorage struct {
	*storage.Storage
	mu        sync.Mutex
	signing   *testKey
	published []*testKey
	claims    map[string]map[string]any // by user id
}

func (s *rotatingStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing, nil
}

func (s *rotatingStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *rotatingStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, 0, len(s.published))
	for _, k := range s.published {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// SetUserinfoFromScopes adds the test's claims of the user to the ID
// token (the example's client does not assert userinfo claims in it).
func (s *rotatingStorage) SetUserinfoFromScopes(ctx context.Context, ui *zoidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.claims[userID] {
		if k == "email" {
			ui.Email = v.(string)
			continue
		}
		ui.AppendClaims(k, v)
	}
	return nil
}

// rotate makes a new key the signing one; keepOld keeps the old one in
// the JWKS (a graceful rotation) or drops it.
func (s *rotatingStorage) rotate(t testing.TB, keepOld bool) *testKey {
	k := newTestKey(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signing = k
	if keepOld {
		s.published = append([]*testKey{k}, s.published...)
	} else {
		s.published = []*testKey{k}
	}
	return k
}

func (s *rotatingStorage) current() *testKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing
}

func newTestProvider(t testing.TB, redirect string) *testProvider {
	t.Helper()
	tp := &testProvider{}
	mux := http.NewServeMux()
	tp.srv = httptest.NewServer(mux)
	t.Cleanup(tp.srv.Close)
	tp.issuer = tp.srv.URL
	clients := map[string]*storage.Client{testClientID: storage.WebClient(testClientID, testSecret, redirect)}
	first := newTestKey(t)
	tp.store = &rotatingStorage{
		Storage:   storage.NewStorageWithClients(storage.NewUserStore(tp.issuer), clients),
		signing:   first,
		published: []*testKey{first},
		claims: map[string]map[string]any{
			"id1": {
				"email":                        "ada@uni-freiburg.de",
				"name":                         "Ada Researcher",
				"eduperson_entitlement":        []string{"urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu"},
				"eduperson_scoped_affiliation": []string{"member@uni-freiburg.de", "staff@uni-freiburg.de"},
				"groups":                       []string{"xborder-researchers"},
			},
			"id2": {"name": "No Email"},
		},
	}
	cfg := &op.Config{
		CryptoKey:                sha256.Sum256([]byte("xborder test provider")),
		DefaultLogoutRedirectURI: "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedClaims:          op.DefaultSupportedClaims,
		SupportedUILocales:       []language.Tag{language.English},
	}
	p, err := op.NewProvider(cfg, tp.store, op.StaticIssuer(tp.issuer), op.WithAllowInsecure(),
		op.WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	tp.op = p
	// The example client sends the browser to /login/username; the test's
	// browser is told who to be with the login_as cookie.
	mux.HandleFunc("/login/username", func(w http.ResponseWriter, r *http.Request) {
		id := r.FormValue("authRequestID")
		user := "test-user@127.0.0.1"
		if c, err := r.Cookie("login_as"); err == nil {
			user = c.Value
		}
		if err := tp.store.CheckUsernamePassword(user, "verysecure", id); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(w, r, p.AuthorizationEndpoint().Absolute(tp.issuer)+"/callback?id="+url.QueryEscape(id), http.StatusFound)
	})
	mux.Handle("/", p)
	return tp
}

// signed signs claims with a key, as the provider would (or as a forger
// would, with a key the provider does not publish).
func signed(t testing.TB, k *testKey, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.id))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// browser follows the sign-in from the node's URL to the callback, which
// it does not follow: it returns the callback's query.
func browser(t *testing.T, start, redirect, user string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(start)
	jar.SetCookies(u, []*http.Cookie{{Name: "login_as", Value: user, Path: "/"}})
	var got url.Values
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.String()[:len(redirect)] == redirect {
				got = req.URL.Query()
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		}}
	resp, err := c.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got == nil {
		t.Fatalf("the sign-in did not come back to %s (status %d at %s)", redirect, resp.StatusCode, resp.Request.URL)
	}
	return got
}

// testConfig is a relying party's configuration for tp.
func testConfig(t testing.TB, issuer, redirect string) Config {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Name, c.Issuer, c.ClientID, c.ClientSecretFile, c.RedirectURL = "test-idp", issuer, testClientID, secret, redirect
	return c
}

// testWriter sends the provider's log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
