package dsp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/xborder/xborder/dsp"
)

// Helpers are prefixed "id" so they do not collide with the other dsp
// tests' helpers.

const (
	idSelf  = "urn:xborder:grand-est"
	idAlice = "did:web:alice.example"
	idBob   = "did:web:bob.example"
)

// idClock is a clock a test moves by hand.
type idClock struct {
	mu sync.Mutex
	t  time.Time
}

func newIDClock() *idClock { return &idClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *idClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *idClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// idKey is a participant's key pair and the algorithm it signs with.
type idKey struct {
	priv crypto.Signer
	alg  jwa.SignatureAlgorithm
	kid  string
}

func idEd25519(t testing.TB, kid string) idKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return idKey{priv: priv, alg: jwa.EdDSA(), kid: kid}
}

func idEC(t testing.TB, curve elliptic.Curve, alg jwa.SignatureAlgorithm, kid string) idKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return idKey{priv: priv, alg: alg, kid: kid}
}

func idRSA(t testing.TB, bits int, alg jwa.SignatureAlgorithm, kid string) idKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return idKey{priv: priv, alg: alg, kid: kid}
}

// pem is the public key as PKIX PEM.
func (k idKey) pem(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// jwk is the public key as a JWK with its kid.
func (k idKey) jwk(t testing.TB) jwk.Key {
	t.Helper()
	j, err := jwk.Import(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if k.kid != "" {
		if err := j.Set(jwk.KeyIDKey, k.kid); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func (k idKey) jwkJSON(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(k.jwk(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func idJWKS(t testing.TB, keys ...idKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k.jwk(t)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idClaims are the claims of a good token from iss to this node.
func idClaims(iss string, now time.Time) map[string]any {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	return map[string]any{
		"iss": iss,
		"sub": iss,
		"aud": idSelf,
		"iat": now.Unix(),
		"exp": now.Add(2 * time.Minute).Unix(),
		"jti": hex.EncodeToString(jti[:]),
	}
}

// sign makes a compact JWS of claims with the key, its kid in the header.
func (k idKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if k.kid != "" {
		if err := hdr.Set(jws.KeyIDKey, k.kid); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// idRaw assembles a token from a header and claims as given, with sig as
// its signature: for tokens no library would make.
func idRaw(header, claims any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "." + enc(sig)
}

func idVerifier(t testing.TB, clock *idClock, mutate func(*dsp.VerifierConfig), ps ...dsp.ParticipantConfig) *dsp.TokenVerifier {
	t.Helper()
	cfg := dsp.DefaultVerifierConfig()
	cfg.Audience = idSelf
	cfg.Participants = ps
	cfg.Clock = clock.Now
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := dsp.NewTokenVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// idRefused asserts that Verify refuses with code, and returns the reason.
func idRefused(t testing.TB, v dsp.Verifier, authorization, code string) string {
	t.Helper()
	p, err := v.Verify(context.Background(), authorization)
	if err == nil {
		t.Fatalf("accepted as %+v; want refused with %s", p, code)
	}
	var ae *dsp.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v is not an *AuthError", err, err)
	}
	if ae.Code != code {
		t.Fatalf("refused with %s (%s); want %s", ae.Code, ae.Reason, code)
	}
	if ae.Reason == "" || ae.Error() != ae.Reason {
		t.Fatalf("refusal %s has no reason in words", ae.Code)
	}
	return ae.Reason
}

func idAccepted(t testing.TB, v dsp.Verifier, authorization, id string) dsp.Participant {
	t.Helper()
	p, err := v.Verify(context.Background(), authorization)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if p.ID != id {
		t.Fatalf("verified as %q, want %q", p.ID, id)
	}
	return p
}

func TestSignerRoundTrip(t *testing.T) {
	clock := newIDClock()
	_, nodeKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := dsp.NewSigner(idAlice, nodeKey, clock.Now)

	pubJWK, err := s.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(pubJWK, &fields); err != nil {
		t.Fatal(err)
	}
	if fields["kty"] != "OKP" || fields["crv"] != "Ed25519" || fields["alg"] != "EdDSA" || fields["kid"] != s.KeyID() || fields["use"] != "sig" {
		t.Fatalf("public JWK %s: want kty OKP, crv Ed25519, alg EdDSA, use sig and kid %s", pubJWK, s.KeyID())
	}
	if _, private := fields["d"]; private {
		t.Fatalf("public JWK holds the private key: %s", pubJWK)
	}
	// The kid is the RFC 7638 thumbprint: stable across restarts.
	if again := dsp.NewSigner(idAlice, nodeKey, clock.Now); again.KeyID() != s.KeyID() {
		t.Fatalf("kid %s then %s for one key", s.KeyID(), again.KeyID())
	}

	edPEM := idKey{priv: nodeKey}.pem(t)
	for name, pc := range map[string]dsp.ParticipantConfig{
		"public JWK from the signer": {ID: idAlice, Country: "DE", Org: "Alice GmbH", PublicKey: string(pubJWK)},
		"PEM":                        {ID: idAlice, Country: "DE", Org: "Alice GmbH", PublicKey: edPEM},
	} {
		t.Run(name, func(t *testing.T) {
			v := idVerifier(t, clock, nil, pc)
			authz, err := s.Authorization(idSelf)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(authz, "Bearer ") {
				t.Fatalf("Authorization %q does not start with Bearer", authz)
			}
			p := idAccepted(t, v, authz, idAlice)
			if p != (dsp.Participant{ID: idAlice, Country: "DE", Org: "Alice GmbH"}) {
				t.Fatalf("participant %+v", p)
			}
			// The bare token, as some connectors send it.
			tok, err := s.Token(idSelf, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			idAccepted(t, v, tok, idAlice)
			// Lower-case scheme, surrounding spaces.
			tok, _ = s.Token(idSelf, time.Minute)
			idAccepted(t, v, "  bearer "+tok+" ", idAlice)

			// Each Authorization is a fresh token: two in a row both verify.
			a1, _ := s.Authorization(idSelf)
			a2, _ := s.Authorization(idSelf)
			idAccepted(t, v, a1, idAlice)
			idAccepted(t, v, a2, idAlice)
			idRefused(t, v, a1, dsp.AuthReplayed)

			// A token for another participant is not for this node.
			other, _ := s.Authorization(idBob)
			idRefused(t, v, other, dsp.AuthWrongAudience)
		})
	}

	if _, err := s.Token(idSelf, 0); err == nil {
		t.Fatal("a token with no lifetime was minted")
	}
	if _, err := dsp.NewSigner("", nodeKey, nil).Token(idSelf, time.Minute); err == nil {
		t.Fatal("a signer with no participant id minted a token")
	}
}

func TestExternalKeysPEMAndJWK(t *testing.T) {
	keys := []idKey{
		idEC(t, elliptic.P256(), jwa.ES256(), "ec-1"),
		idEC(t, elliptic.P384(), jwa.ES384(), "ec384-1"),
		idRSA(t, 2048, jwa.RS256(), "rsa-1"),
		idRSA(t, 2048, jwa.PS256(), "rsa-pss-1"),
		idEd25519(t, "ed-1"),
		// The fully specified name of RFC 9864.
		{priv: idEd25519(t, "").priv, alg: jwa.EdDSAEd25519(), kid: "ed-2"},
	}
	for _, k := range keys {
		for form, pub := range map[string]string{"PEM": k.pem(t), "JWK": k.jwkJSON(t)} {
			t.Run(k.alg.String()+"/"+form, func(t *testing.T) {
				clock := newIDClock()
				v := idVerifier(t, clock, nil, dsp.ParticipantConfig{ID: idAlice, Country: "DE", PublicKey: pub})
				tok := k.sign(t, idClaims(idAlice, clock.Now()))
				idAccepted(t, v, "Bearer "+tok, idAlice)
				idRefused(t, v, "Bearer "+tok, dsp.AuthReplayed)
			})
		}
	}
}

// idWriteFile replaces path the way an operator's deploy does: a new
// file renamed over the old one.
func idWriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSFileRotation(t *testing.T) {
	clock := newIDClock()
	old := idEC(t, elliptic.P256(), jwa.ES256(), "2026-01")
	next := idRSA(t, 2048, jwa.RS256(), "2026-02")
	path := filepath.Join(t.TempDir(), "alice.jwks")
	idWriteFile(t, path, idJWKS(t, old))

	v := idVerifier(t, clock, nil, dsp.ParticipantConfig{ID: idAlice, Country: "DE", JWKSFile: path})
	idAccepted(t, v, old.sign(t, idClaims(idAlice, clock.Now())), idAlice)

	// A key published for encryption is never used to verify.
	encKey := idEC(t, elliptic.P256(), jwa.ES256(), "enc-1")
	encJWK := encKey.jwk(t)
	if err := encJWK.Set(jwk.KeyUsageKey, "enc"); err != nil {
		t.Fatal(err)
	}
	withEnc := jwk.NewSet()
	_ = withEnc.AddKey(old.jwk(t))
	_ = withEnc.AddKey(encJWK)
	idWriteFile(t, path, idJSON(t, withEnc))
	idRefused(t, v, encKey.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthUnknownKey)
	idAccepted(t, v, old.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	idRefused(t, v, next.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthUnknownKey)

	// During the rotation both keys are published.
	idWriteFile(t, path, idJWKS(t, old, next))
	idAccepted(t, v, old.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	idAccepted(t, v, next.sign(t, idClaims(idAlice, clock.Now())), idAlice)

	// Then the old key is withdrawn.
	idWriteFile(t, path, idJWKS(t, next))
	idAccepted(t, v, next.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	idRefused(t, v, old.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthUnknownKey)

	// A token without a kid is ambiguous once the set holds two keys.
	idWriteFile(t, path, idJWKS(t, old, next))
	anon := next
	anon.kid = ""
	idRefused(t, v, anon.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthUnknownKey)

	// A file broken mid-deploy leaves the keys it last held.
	idWriteFile(t, path, []byte(`{"keys": [`))
	idAccepted(t, v, next.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	// The same file rewritten in place (same inode) is seen too.
	if err := os.WriteFile(path, idJWKS(t, old), 0o600); err != nil {
		t.Fatal(err)
	}
	idAccepted(t, v, old.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	idRefused(t, v, next.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthUnknownKey)

	// A node does not start with a participant whose file is missing.
	cfg := dsp.DefaultVerifierConfig()
	cfg.Audience = idSelf
	cfg.Participants = []dsp.ParticipantConfig{{ID: idAlice, Country: "DE", JWKSFile: filepath.Join(t.TempDir(), "missing.jwks")}}
	if _, err := dsp.NewTokenVerifier(cfg); err == nil || !strings.Contains(err.Error(), "participants[0].jwks_file") {
		t.Fatalf("missing jwks_file: %v", err)
	}
}

// idJWKSServer serves a JWK set that the test replaces, counting fetches.
type idJWKSServer struct {
	*httptest.Server
	set     atomic.Pointer[[]byte]
	fetches atomic.Int64
}

func newIDJWKSServer(t testing.TB, tls bool, set []byte) *idJWKSServer {
	s := &idJWKSServer{}
	s.set.Store(&set)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(*s.set.Load())
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func TestJWKSURLRotation(t *testing.T) {
	clock := newIDClock()
	old := idEC(t, elliptic.P256(), jwa.ES256(), "2026-01")
	next := idEd25519(t, "2026-02")
	srv := newIDJWKSServer(t, true, idJWKS(t, old))
	v := idVerifier(t, clock, func(c *dsp.VerifierConfig) { c.HTTPClient = srv.Client() },
		dsp.ParticipantConfig{ID: idAlice, Country: "DE", JWKSURL: srv.URL + "/.well-known/jwks.json"})

	if n := srv.fetches.Load(); n != 0 {
		t.Fatalf("%d fetches before any token: the keys are fetched on first use", n)
	}
	idAccepted(t, v, old.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	idAccepted(t, v, old.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for two tokens with a known kid; want 1", n)
	}

	// The participant rotates; its first token with the new kid comes
	// after the refresh window, and makes the node fetch again.
	srv.set.Store(new(idJWKS(t, next)))
	clock.Advance(31 * time.Second)
	idAccepted(t, v, next.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a new kid; want 2", n)
	}
	// The withdrawn key is gone, and asking for it does not fetch again
	// within the window.
	idRefused(t, v, old.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthUnknownKey)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches; an unknown kid within the window must not fetch", n)
	}

	// A set older than its maximum age is fetched again even for a known
	// kid, so a key withdrawn without a rotation goes too.
	srv.set.Store(new(idJWKS(t, old)))
	clock.Advance(time.Hour)
	idRefused(t, v, next.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthUnknownKey)
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after the set's maximum age; want 3", n)
	}
}

func TestJWKSURLRefreshRateLimit(t *testing.T) {
	clock := newIDClock()
	k := idEd25519(t, "live")
	srv := newIDJWKSServer(t, true, idJWKS(t, k))
	v := idVerifier(t, clock, func(c *dsp.VerifierConfig) { c.HTTPClient = srv.Client() },
		dsp.ParticipantConfig{ID: idAlice, Country: "DE", JWKSURL: srv.URL})
	idAccepted(t, v, k.sign(t, idClaims(idAlice, clock.Now())), idAlice)

	flood := func() {
		forged := make([]string, 200)
		for i := range forged {
			forged[i] = idEd25519(t, fmt.Sprintf("made-up-%d", i)).sign(t, idClaims(idAlice, clock.Now()))
		}
		codes := make([]string, len(forged))
		var wg sync.WaitGroup
		for i, tok := range forged {
			wg.Go(func() {
				_, err := v.Verify(context.Background(), tok)
				var ae *dsp.AuthError
				if errors.As(err, &ae) {
					codes[i] = ae.Code
				}
			})
		}
		wg.Wait()
		for i, c := range codes {
			if c != dsp.AuthUnknownKey {
				t.Fatalf("forged token %d: code %q, want %s", i, c, dsp.AuthUnknownKey)
			}
		}
	}
	flood()
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("200 unknown kids within the window made %d fetches; want none after the first", n-1)
	}
	clock.Advance(30 * time.Second)
	flood()
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("200 unknown kids in the next window made %d fetches; want 1", n-1)
	}
	// The genuine key still verifies throughout.
	idAccepted(t, v, k.sign(t, idClaims(idAlice, clock.Now())), idAlice)
}

func TestJWKSURLUnavailable(t *testing.T) {
	clock := newIDClock()
	k := idEd25519(t, "live")
	srv := newIDJWKSServer(t, false, idJWKS(t, k)) // plain http on loopback is allowed
	url := srv.URL
	srv.Close()
	v := idVerifier(t, clock, nil, dsp.ParticipantConfig{ID: idAlice, Country: "DE", JWKSURL: url})
	reason := idRefused(t, v, k.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthKeyUnavailable)
	if !strings.Contains(reason, idAlice) {
		t.Fatalf("reason %q does not name the participant", reason)
	}
}

// The default client follows no redirect from a participant's https or
// loopback URL to plain http elsewhere, where its keys could be swapped.
func TestJWKSURLRedirectToPlainHTTPRefused(t *testing.T) {
	clock := newIDClock()
	k := idEd25519(t, "live")
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.Redirect(w, r, "http://jwks.example/keys", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	v := idVerifier(t, clock, func(c *dsp.VerifierConfig) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) },
		dsp.ParticipantConfig{ID: idAlice, Country: "DE", JWKSURL: srv.URL})
	idRefused(t, v, k.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthKeyUnavailable)
	if fetches.Load() != 1 || !strings.Contains(logs.String(), "redirect refused") {
		t.Fatalf("fetches %d, log %q: want one fetch whose redirect was refused", fetches.Load(), logs.String())
	}
}

func TestVerifyRefuses(t *testing.T) {
	clock := newIDClock()
	alice := idRSA(t, 2048, jwa.RS256(), "alice-1")
	bob := idEC(t, elliptic.P256(), jwa.ES256(), "bob-1")
	carol := idEd25519(t, "carol-1")
	dave := idEC(t, elliptic.P256(), jwa.ES256(), "dave-1")
	alicePEM := alice.pem(t)
	v := idVerifier(t, clock, nil,
		dsp.ParticipantConfig{ID: idAlice, Country: "DE", PublicKey: alicePEM},
		dsp.ParticipantConfig{ID: idBob, Country: "CH", PublicKey: bob.jwkJSON(t)},
		dsp.ParticipantConfig{ID: "did:web:carol.example", Country: "LU", PublicKey: carol.jwkJSON(t)},
		dsp.ParticipantConfig{ID: "did:web:dave.example", Country: "FR", PublicKey: dave.pem(t)},
	)
	now := clock.Now()
	with := func(edit func(map[string]any)) map[string]any {
		c := idClaims(idAlice, now)
		edit(c)
		return c
	}
	hmacSig := func(secret []byte, claims map[string]any) string {
		signed, err := jws.Sign(idJSON(t, claims), jws.WithKey(jwa.HS256(), secret))
		if err != nil {
			t.Fatal(err)
		}
		return string(signed)
	}

	huge := alice.sign(t, with(func(c map[string]any) { c["pad"] = strings.Repeat("x", dsp.MaxTokenBytes) }))

	cases := []struct {
		name, authz, code string
	}{
		{"empty", "", dsp.AuthMissingToken},
		{"only the scheme", "Bearer ", dsp.AuthMissingToken},
		{"another scheme", "Basic YWxpY2U6c2VjcmV0", dsp.AuthMalformedToken},
		{"garbage", "Bearer !!!", dsp.AuthMalformedToken},
		{"two parts", "Bearer abc.def", dsp.AuthMalformedToken},
		{"JWE-like five parts", "Bearer a.b.c.d.e", dsp.AuthMalformedToken},
		{"header not JSON", "Bearer " + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".e30.", dsp.AuthMalformedToken},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, dsp.AuthMalformedToken},
		{"huge token", "Bearer " + huge, dsp.AuthMalformedToken},
		{"huge header", "Bearer " + strings.Repeat("A", 1<<20), dsp.AuthMalformedToken},
		{"alg none", idRaw(map[string]any{"alg": "none"}, idClaims(idAlice, now), nil), dsp.AuthUnsupportedAlgorithm},
		{"alg None", idRaw(map[string]any{"alg": "None", "typ": "JWT"}, idClaims(idAlice, now), nil), dsp.AuthUnsupportedAlgorithm},
		{"no alg", idRaw(map[string]any{"typ": "JWT"}, idClaims(idAlice, now), []byte("sig")), dsp.AuthUnsupportedAlgorithm},
		// The classic confusion: HMAC keyed with the RSA public key's PEM,
		// which anyone can read.
		{"HS256 with the public key as secret", hmacSig([]byte(alicePEM), idClaims(idAlice, now)), dsp.AuthUnsupportedAlgorithm},
		{"HS256 with the public key's DER as secret", hmacSig(idDER(t, alice), idClaims(idAlice, now)), dsp.AuthUnsupportedAlgorithm},
		{"unknown algorithm", idRaw(map[string]any{"alg": "ES256K"}, idClaims(idAlice, now), []byte("sig")), dsp.AuthUnsupportedAlgorithm},
		// An RSA key is not used to check an ES256 signature.
		{"alg not the key's", bob.sign(t, idClaims(idAlice, now)), dsp.AuthUnsupportedAlgorithm},
		{"crit header", idRaw(map[string]any{"alg": "RS256", "crit": []string{"exp"}, "exp": 1}, idClaims(idAlice, now), []byte("sig")), dsp.AuthMalformedToken},
		// Dave signs with his own key (of Bob's type) but claims to be
		// Bob: Bob's key does not verify it.
		{"signed by D claiming B", dave.sign(t, idClaims(idBob, now)), dsp.AuthBadSignature},
		// Carol's Ed25519 signature is not even checked with Bob's EC key.
		{"signed by C claiming B", carol.sign(t, idClaims(idBob, now)), dsp.AuthUnsupportedAlgorithm},
		{"signature of another token", idSwapSignature(alice.sign(t, idClaims(idAlice, now)), alice.sign(t, idClaims(idAlice, now))), dsp.AuthBadSignature},
		{"unknown issuer", alice.sign(t, idClaims("did:web:mallory.example", now)), dsp.AuthUnknownParticipant},
		{"no issuer", alice.sign(t, with(func(c map[string]any) { delete(c, "iss") })), dsp.AuthMissingClaim},
		{"no subject", alice.sign(t, with(func(c map[string]any) { delete(c, "sub") })), dsp.AuthMissingClaim},
		{"subject not the issuer", alice.sign(t, with(func(c map[string]any) { c["sub"] = idBob })), dsp.AuthWrongSubject},
		{"wrong audience", alice.sign(t, with(func(c map[string]any) { c["aud"] = "urn:xborder:another" })), dsp.AuthWrongAudience},
		{"no audience", alice.sign(t, with(func(c map[string]any) { delete(c, "aud") })), dsp.AuthMissingClaim},
		{"expired", alice.sign(t, with(func(c map[string]any) {
			c["iat"] = now.Add(-3 * time.Minute).Unix()
			c["exp"] = now.Add(-time.Minute).Unix()
		})), dsp.AuthExpired},
		{"issued in the future", alice.sign(t, with(func(c map[string]any) {
			c["iat"] = now.Add(2 * time.Minute).Unix()
			c["exp"] = now.Add(4 * time.Minute).Unix()
		})), dsp.AuthNotYetValid},
		{"not before later", alice.sign(t, with(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() })), dsp.AuthNotYetValid},
		{"exp an hour after iat", alice.sign(t, with(func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() })), dsp.AuthLifetimeTooLong},
		{"exp before iat", alice.sign(t, with(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), dsp.AuthMalformedToken},
		{"no exp", alice.sign(t, with(func(c map[string]any) { delete(c, "exp") })), dsp.AuthMissingClaim},
		{"no iat", alice.sign(t, with(func(c map[string]any) { delete(c, "iat") })), dsp.AuthMissingClaim},
		{"no jti", alice.sign(t, with(func(c map[string]any) { delete(c, "jti") })), dsp.AuthMissingClaim},
		{"empty jti", alice.sign(t, with(func(c map[string]any) { c["jti"] = "" })), dsp.AuthMissingClaim},
		{"huge jti", alice.sign(t, with(func(c map[string]any) { c["jti"] = strings.Repeat("j", 1000) })), dsp.AuthMalformedToken},
		{"exp not a number", alice.sign(t, with(func(c map[string]any) { c["exp"] = "tomorrow" })), dsp.AuthMalformedToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idRefused(t, v, tc.authz, tc.code)
		})
	}

	// Within the leeway, a slightly fast or slow clock is tolerated.
	idAccepted(t, v, alice.sign(t, with(func(c map[string]any) {
		c["iat"] = now.Add(20 * time.Second).Unix()
		c["exp"] = now.Add(2 * time.Minute).Unix()
	})), idAlice)
	idAccepted(t, v, alice.sign(t, with(func(c map[string]any) {
		c["iat"] = now.Add(-5 * time.Minute).Unix()
		c["exp"] = now.Add(-20 * time.Second).Unix()
	})), idAlice)
}

func idJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func idDER(t testing.TB, k idKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// idSwapSignature puts b's signature on a's header and payload.
func idSwapSignature(a, b string) string {
	return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
}

func TestReplay(t *testing.T) {
	clock := newIDClock()
	k := idEd25519(t, "")
	v := idVerifier(t, clock, nil, dsp.ParticipantConfig{ID: idAlice, Country: "DE", PublicKey: k.pem(t)})
	claims := idClaims(idAlice, clock.Now())
	idAccepted(t, v, k.sign(t, claims), idAlice)
	// The same jti, even in a token signed again, is a replay.
	idRefused(t, v, k.sign(t, claims), dsp.AuthReplayed)
	// Another participant may use the same jti: IDs are per issuer.
	bob := idEd25519(t, "")
	v2 := idVerifier(t, clock, nil,
		dsp.ParticipantConfig{ID: idAlice, Country: "DE", PublicKey: k.pem(t)},
		dsp.ParticipantConfig{ID: idBob, Country: "CH", PublicKey: bob.pem(t)})
	idAccepted(t, v2, k.sign(t, claims), idAlice)
	bobClaims := idClaims(idBob, clock.Now())
	bobClaims["jti"] = claims["jti"]
	idAccepted(t, v2, bob.sign(t, bobClaims), idBob)
	// Once expired the token is refused as expired, not remembered forever.
	clock.Advance(5 * time.Minute)
	idRefused(t, v, k.sign(t, claims), dsp.AuthExpired)
}

func TestReplayCacheFailsClosed(t *testing.T) {
	clock := newIDClock()
	k := idEd25519(t, "")
	v := idVerifier(t, clock, func(c *dsp.VerifierConfig) { c.ReplayCacheSize = 3 },
		dsp.ParticipantConfig{ID: idAlice, Country: "DE", PublicKey: k.pem(t)})
	for range 3 {
		idAccepted(t, v, k.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	}
	// Full of unexpired token IDs: a new token is refused rather than an
	// old ID forgotten.
	idRefused(t, v, k.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthTooManyTokens)
	// Once the remembered tokens expire (exp 2 min, leeway 30 s), their
	// IDs are dropped and new tokens are taken again.
	clock.Advance(2*time.Minute + 30*time.Second)
	for range 3 {
		idAccepted(t, v, k.sign(t, idClaims(idAlice, clock.Now())), idAlice)
	}
	idRefused(t, v, k.sign(t, idClaims(idAlice, clock.Now())), dsp.AuthTooManyTokens)
}

func TestParticipantConfigValidate(t *testing.T) {
	ed := idEd25519(t, "k")
	good := dsp.ParticipantConfig{ID: idAlice, Country: "DE", Org: "Alice GmbH", PublicKey: ed.pem(t)}
	if err := good.Validate(); err != nil {
		t.Fatalf("good participant: %v", err)
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	privDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	privJWK, _ := jwk.Import(edPriv)
	weak := idRSA(t, 1024, jwa.RS256(), "")
	hmacJWK, _ := jwk.Import([]byte("0123456789abcdef0123456789abcdef"))

	cases := []struct {
		name string
		edit func(*dsp.ParticipantConfig)
		want string
	}{
		{"no id", func(c *dsp.ParticipantConfig) { c.ID = "" }, "id: is required"},
		{"id with a space", func(c *dsp.ParticipantConfig) { c.ID = "did:web:a b" }, "id: "},
		{"lower-case country", func(c *dsp.ParticipantConfig) { c.Country = "de" }, "country: "},
		{"country name", func(c *dsp.ParticipantConfig) { c.Country = "Germany" }, "country: "},
		{"no key", func(c *dsp.ParticipantConfig) { c.PublicKey = "" }, "public_key: one of public_key, jwks_file or jwks_url is required"},
		{"two keys", func(c *dsp.ParticipantConfig) { c.JWKSURL = "https://alice.example/jwks.json" }, "give only one"},
		{"not a key", func(c *dsp.ParticipantConfig) { c.PublicKey = "hello" }, "public_key: "},
		{"broken PEM", func(c *dsp.ParticipantConfig) {
			c.PublicKey = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
		}, "public_key: is not a PEM public key"},
		{"private PEM", func(c *dsp.ParticipantConfig) { c.PublicKey = privPEM }, "private key"},
		{"private JWK", func(c *dsp.ParticipantConfig) { c.PublicKey = string(idJSON(t, privJWK)) }, "private key"},
		{"HMAC JWK", func(c *dsp.ParticipantConfig) { c.PublicKey = string(idJSON(t, hmacJWK)) }, "symmetric"},
		{"weak RSA", func(c *dsp.ParticipantConfig) { c.PublicKey = weak.pem(t) }, "1024 bits"},
		{"a JWKS as public_key", func(c *dsp.ParticipantConfig) { c.PublicKey = string(idJWKS(t, ed)) }, "JWK set"},
		{"jwks_url over http to another host", func(c *dsp.ParticipantConfig) {
			c.PublicKey, c.JWKSURL = "", "http://alice.example/jwks.json"
		}, "jwks_url: \"http://alice.example/jwks.json\" is plain http"},
		{"jwks_url over http to a private address", func(c *dsp.ParticipantConfig) {
			c.PublicKey, c.JWKSURL = "", "http://10.0.0.1/jwks.json"
		}, "jwks_url: "},
		{"jwks_url ftp", func(c *dsp.ParticipantConfig) { c.PublicKey, c.JWKSURL = "", "ftp://alice.example/jwks" }, "jwks_url: "},
		{"jwks_url with no host", func(c *dsp.ParticipantConfig) { c.PublicKey, c.JWKSURL = "", "https:///jwks" }, "jwks_url: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want an error containing %q", err, tc.want)
			}
		})
	}

	for _, u := range []string{"http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]:9/jwks", "https://alice.example/.well-known/jwks.json"} {
		c := good
		c.PublicKey, c.JWKSURL = "", u
		if err := c.Validate(); err != nil {
			t.Fatalf("jwks_url %s: %v", u, err)
		}
	}

	list := []dsp.ParticipantConfig{good, good, {ID: idBob, Country: "CH", JWKSURL: "http://bob.example/jwks"}}
	err := dsp.ValidateParticipants("dataspace.participants", list)
	for _, want := range []string{
		`dataspace.participants[1].id: "` + idAlice + `" is already the id of dataspace.participants[0]`,
		"dataspace.participants[2].jwks_url: ",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("ValidateParticipants = %v; want %q", err, want)
		}
	}

	// The verifier's own configuration.
	cfg := dsp.DefaultVerifierConfig()
	cfg.Participants = []dsp.ParticipantConfig{good}
	if _, err := dsp.NewTokenVerifier(cfg); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("no audience: %v", err)
	}
	cfg.Audience = idAlice
	if _, err := dsp.NewTokenVerifier(cfg); err == nil || !strings.Contains(err.Error(), "own participant id") {
		t.Fatalf("a participant with this node's id: %v", err)
	}
}

// The verifier hands out what the configuration says of a participant.
func TestVerifierParticipant(t *testing.T) {
	k := idEd25519(t, "")
	v := idVerifier(t, newIDClock(), nil, dsp.ParticipantConfig{ID: idAlice, Country: "DE", Org: "Alice GmbH", PublicKey: k.pem(t)})
	if p, ok := v.Participant(idAlice); !ok || p.Org != "Alice GmbH" || p.Country != "DE" {
		t.Fatalf("Participant(%q) = %+v, %v", idAlice, p, ok)
	}
	if _, ok := v.Participant(idBob); ok {
		t.Fatal("an unconfigured participant was found")
	}
}

// A partner configures this node from its participant id and public JWK
// (what `xborder dsp identity` prints); this node's tokens then verify
// there.
func ExampleSigner() {
	_, nodeKey, _ := ed25519.GenerateKey(rand.Reader)
	signer := dsp.NewSigner("urn:xborder:grand-est", nodeKey, nil)
	pub, _ := signer.PublicJWK()

	partner, _ := dsp.NewTokenVerifier(dsp.VerifierConfig{
		Audience: "did:web:partner.example",
		Participants: []dsp.ParticipantConfig{
			{ID: signer.ParticipantID(), Country: "FR", Org: "Région Grand Est", PublicKey: string(pub)},
		},
	})
	authz, _ := signer.Authorization("did:web:partner.example")
	p, err := partner.Verify(context.Background(), authz)
	fmt.Println(p.ID, p.Country, err)

	// The same token again is a replay.
	_, err = partner.Verify(context.Background(), authz)
	var ae *dsp.AuthError
	fmt.Println(errors.As(err, &ae), ae.Code)
	// Output:
	// urn:xborder:grand-est FR <nil>
	// true replayed
}
