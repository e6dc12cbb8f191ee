package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/oidc/oidctest"
)

const testRedirect = "http://127.0.0.1:9/oidc/callback"

func newRP(t *testing.T, tp *oidctest.Provider, edit func(*Config), deps Deps) *RelyingParty {
	t.Helper()
	cfg := testConfig(t, tp.Issuer(), testRedirect)
	if edit != nil {
		edit(&cfg)
	}
	rp, err := New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// signIn runs a whole sign-in as user and returns the callback's
// parameters.
func signIn(t *testing.T, rp *RelyingParty, user string) Callback {
	t.Helper()
	s, err := rp.AuthCodeURL()
	if err != nil {
		t.Fatal(err)
	}
	q := browser(t, s.URL, testRedirect, user)
	cb, err := ParseCallback(q)
	if err != nil {
		t.Fatal(err)
	}
	if cb.State != s.State {
		t.Fatalf("the callback's state %q is not the one sent %q", cb.State, s.State)
	}
	return cb
}

func wantRefused(t *testing.T, err, reason error) *RefusedError {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, reason) {
		t.Fatalf("want a refusal for %q, got %v", reason, err)
	}
	if !strings.Contains(err.Error(), reason.Error()) {
		t.Fatalf("the refusal %q does not say its reason %q", err, reason)
	}
	return re
}

func TestCodeFlowWithPKCE(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	rp := newRP(t, tp, nil, Deps{})
	ctx := context.Background()

	s, err := rp.AuthCodeURL()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.URL)
	q := u.Query()
	for k, want := range map[string]string{"client_id": testClientID, "response_type": "code",
		"code_challenge_method": "S256", "redirect_uri": testRedirect, "state": s.State} {
		if q.Get(k) != want {
			t.Errorf("authorisation URL: %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("nonce")) < 43 || len(q.Get("code_challenge")) != 43 || len(s.State) < 43 {
		t.Errorf("nonce, state and code challenge must each carry 256 bits: %v", q)
	}
	if !strings.Contains(q.Get("scope"), "openid") {
		t.Errorf("scope %q lacks openid", q.Get("scope"))
	}

	cb, err := ParseCallback(browser(t, s.URL, testRedirect, "test-user@127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := rp.Exchange(ctx, cb.Code, cb.State)
	if err != nil {
		t.Fatal(err)
	}
	if id.Issuer != tp.Issuer() || id.Subject != "id1" || id.Email != "ada@uni-freiburg.de" || id.Name != "Ada Researcher" {
		t.Fatalf("identity %+v", id)
	}
	if len(id.Entitlements) != 1 || !strings.HasPrefix(id.Entitlements[0], "urn:geant:lifescience-ri.eu:group:xborder:researchers") ||
		len(id.Affiliation) != 2 || id.Affiliation[0] != "member@uni-freiburg.de" || len(id.Groups) != 1 {
		t.Fatalf("claims not read: %+v", id)
	}
	if iss, err := UnverifiedIssuer(id.IDToken); err != nil || iss != tp.Issuer() {
		t.Fatalf("the raw ID token (for the end-session hint): %q %v", iss, err)
	}
	if id.Claims["nonce"] == nil || !id.Expiry.After(time.Now()) {
		t.Fatalf("raw claims or expiry missing: %+v", id)
	}
	// The ID token names the node as its audience, but it is no access
	// token: presented to the API (it passes through the browser as the
	// end-session hint), it is refused.
	_, err = rp.VerifyAccessToken(ctx, id.IDToken)
	wantRefused(t, err, ErrIDTokenAsAccessToken)
	// The same from an issuer that leaves at_hash out: the nonce of this
	// party's sign-in names it.
	now := time.Now()
	noHash := tp.SignWithCurrentKey(map[string]any{"iss": tp.Issuer(), "sub": "id1", "aud": testClientID,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "email": "ada@uni-freiburg.de", "nonce": id.Claims["nonce"]})
	_, err = rp.VerifyAccessToken(ctx, noHash)
	if re := wantRefused(t, err, ErrIDTokenAsAccessToken); re.Claim != "nonce" {
		t.Fatalf("refused for %q, want the nonce", re.Claim)
	}

	// The same callback again (a replayed state) is refused before the code
	// is redeemed a second time.
	wantRefused(t, func() error { _, err := rp.Exchange(ctx, cb.Code, cb.State); return err }(), ErrStateReplayed)
	// A state this party never issued.
	wantRefused(t, func() error { _, err := rp.Exchange(ctx, cb.Code, randomToken()); return err }(), ErrStateUnknown)
}

func TestCodeFlowWithoutVerifierIsRefusedByTheProvider(t *testing.T) {
	// The provider binds the code to the PKCE challenge: redeeming it
	// without the verifier (a stolen code) fails at the token endpoint.
	tp := newTestProvider(t, testRedirect)
	rp := newRP(t, tp, nil, Deps{})
	cb := signIn(t, rp, "test-user@127.0.0.1")
	lg, err := rp.logins.take(cb.State, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lg.verifier = "not-the-verifier-not-the-verifier-not-the-verif"
	rp.logins.add(cb.State, lg, time.Now())
	_, err = rp.Exchange(context.Background(), cb.Code, cb.State)
	wantRefused(t, err, ErrTokenEndpoint)
}

func TestKeyRotation(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	var mu sync.Mutex
	clockAt := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return clockAt }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clockAt = clockAt.Add(d) }
	rp := newRP(t, tp, nil, Deps{Now: clock})
	ctx := context.Background()
	cb := signIn(t, rp, "test-user@127.0.0.1")
	if _, err := rp.Exchange(ctx, cb.Code, cb.State); err != nil {
		t.Fatal(err)
	}
	old := tp.CurrentKey()
	// The issuer rotates: the old key leaves the JWKS at once.
	fresh := tp.RotateKey(false)
	// The keys were fetched just now: a token naming a key the node does
	// not hold makes it ask again only RefetchInterval later, so that
	// forged key ids cannot make it hammer the issuer.
	now := time.Now()
	early := fresh.Sign(map[string]any{"iss": tp.Issuer(), "sub": "id1", "aud": testClientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "email": "a@b"})
	_, err := rp.VerifyAccessToken(ctx, early)
	wantRefused(t, err, ErrUnknownKey)
	advance(RefetchInterval)
	if _, err := rp.VerifyAccessToken(ctx, early); err != nil {
		t.Fatalf("the new key, after the interval: %v", err)
	}
	cb = signIn(t, rp, "test-user@127.0.0.1")
	id, err := rp.Exchange(ctx, cb.Code, cb.State)
	if err != nil {
		t.Fatalf("a token signed with the issuer's new key: %v", err)
	}
	if id.Subject != "id1" {
		t.Fatalf("identity %+v", id)
	}
	// A token signed with the retired key no longer verifies.
	advance(RefetchInterval)
	_, err = rp.VerifyAccessToken(ctx, old.Sign(map[string]any{"iss": tp.Issuer(), "sub": "id1",
		"aud": testClientID, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "email": "a@b"}))
	wantRefused(t, err, ErrUnknownKey)
	// A second rotation keeping the previous key: both verify.
	prev := tp.CurrentKey()
	next := tp.RotateKey(true)
	advance(RefetchInterval)
	for _, k := range []*oidctest.Key{prev, next} {
		if _, err := rp.VerifyAccessToken(ctx, k.Sign(map[string]any{"iss": tp.Issuer(), "sub": "id1",
			"aud": testClientID, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "email": "a@b"})); err != nil {
			t.Fatalf("key %s, published: %v", k.ID(), err)
		}
	}
}

func TestMissingClaimInFlow(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	rp := newRP(t, tp, nil, Deps{})
	cb := signIn(t, rp, "test-user2") // a user the provider gives no email
	_, err := rp.Exchange(context.Background(), cb.Code, cb.State)
	if re := wantRefused(t, err, ErrMissingClaim); re.Claim != "email" {
		t.Fatalf("the refusal names claim %q, want email", re.Claim)
	}
}

func TestBadIDTokens(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	rp := newRP(t, tp, nil, Deps{})
	ctx := context.Background()
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"iss": tp.Issuer(), "sub": "id1", "aud": []string{testClientID, "other"},
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nonce": "n-1", "email": "ada@uni-freiburg.de"}
	}
	with := func(k string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	stranger, err := oidctest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		token  string
		nonce  string
		reason error
		claim  string
	}{
		{"wrong issuer", tp.SignWithCurrentKey(with("iss", "https://evil.example")), "n-1", ErrWrongIssuer, "iss"},
		{"wrong audience", tp.SignWithCurrentKey(with("aud", "another-client")), "n-1", ErrWrongAudience, "aud"},
		{"expired", tp.SignWithCurrentKey(with("exp", now.Add(-time.Minute).Unix())), "n-1", ErrExpired, "exp"},
		{"issued in the future", tp.SignWithCurrentKey(with("iat", now.Add(time.Hour).Unix())), "n-1", ErrNotYetValid, "iat"},
		{"nbf beyond our skew", tp.SignWithCurrentKey(with("nbf", now.Add(3*time.Minute).Unix())), "n-1", ErrNotYetValid, "nbf"},
		{"nbf far ahead", tp.SignWithCurrentKey(with("nbf", now.Add(time.Hour).Unix())), "n-1", ErrNotYetValid, "nbf"},
		{"key the issuer does not publish", stranger.Sign(good()), "n-1", ErrUnknownKey, ""},
		{"forged kid", tp.SignWithUnpublishedKey(good()), "n-1", ErrUnknownKey, ""},
		{"no subject", tp.SignWithCurrentKey(with("sub", nil)), "n-1", ErrMissingClaim, "sub"},
		{"no email", tp.SignWithCurrentKey(with("email", nil)), "n-1", ErrMissingClaim, "email"},
		{"other nonce", tp.SignWithCurrentKey(good()), "n-2", ErrNonceMismatch, "nonce"},
		{"no nonce", tp.SignWithCurrentKey(with("nonce", nil)), "n-1", ErrNonceMismatch, "nonce"},
		{"not a JWT", "eyJhbGciOiJSUzI1NiJ9.e30", "n-1", ErrMalformed, ""},
		{"empty", "", "n-1", ErrMalformed, ""},
		{"alg none", "eyJhbGciOiJub25lIn0." + strings.Split(stranger.Sign(good()), ".")[1] + ".", "n-1", ErrMalformed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := rp.verifyIDToken(ctx, c.token, c.nonce)
			if re := wantRefused(t, err, c.reason); re.Claim != c.claim {
				t.Fatalf("claim %q, want %q (%v)", re.Claim, c.claim, err)
			}
		})
	}

	// A replayed nonce: the first use passes, the second is refused.
	tok := tp.SignWithCurrentKey(with("nonce", "n-replay"))
	if _, err := rp.verifyIDToken(ctx, tok, "n-replay"); err != nil {
		t.Fatal(err)
	}
	_, err = rp.verifyIDToken(ctx, tok, "n-replay")
	wantRefused(t, err, ErrNonceReplayed)
}

func TestVerifyAccessToken(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	ctx := context.Background()
	now := time.Now()
	claims := func(aud any) map[string]any {
		return map[string]any{"iss": tp.Issuer(), "sub": "id1", "aud": aud, "exp": now.Add(time.Hour).Unix(),
			"iat": now.Unix(), "email": "ada@uni-freiburg.de", "eduperson_entitlement": "urn:x:one"}
	}
	rp := newRP(t, tp, nil, Deps{})
	id, err := rp.VerifyAccessToken(ctx, tp.SignWithCurrentKey(claims(testClientID)))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "id1" || len(id.Entitlements) != 1 || id.Entitlements[0] != "urn:x:one" {
		t.Fatalf("identity %+v (a single string entitlement reads as a list of one)", id)
	}
	// The same token twice is fine: access tokens carry no nonce.
	if _, err := rp.VerifyAccessToken(ctx, tp.SignWithCurrentKey(claims(testClientID))); err != nil {
		t.Fatal(err)
	}
	// With an API audience configured, a token for the client id is refused.
	api := newRP(t, tp, func(c *Config) { c.AccessTokenAudience = "https://node.example/api" }, Deps{})
	_, err = api.VerifyAccessToken(ctx, tp.SignWithCurrentKey(claims(testClientID)))
	wantRefused(t, err, ErrWrongAudience)
	if _, err := api.VerifyAccessToken(ctx, tp.SignWithCurrentKey(claims([]string{"https://node.example/api"}))); err != nil {
		t.Fatal(err)
	}
	// An ID token's audience does not admit it as an access token there.
	_, err = api.VerifyAccessToken(ctx, tp.SignWithCurrentKey(claims("xborder-other")))
	wantRefused(t, err, ErrWrongAudience)
}

func TestStateExpiresAndTableIsBounded(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rp := newRP(t, tp, func(c *Config) { c.MaxPendingLogins = 3; c.LoginTTL = time.Minute }, Deps{Now: clock})
	var states []string
	for range 3 {
		s, err := rp.AuthCodeURL()
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, s.State)
	}
	_, err := rp.AuthCodeURL()
	wantRefused(t, err, ErrTooManyLogins)

	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	// An expired state is refused, never redeemed.
	_, err = rp.Exchange(context.Background(), "some-code", states[0])
	wantRefused(t, err, ErrStateUnknown)
	// Expired logins make room for new ones.
	if _, err := rp.AuthCodeURL(); err != nil {
		t.Fatalf("after the logins expired: %v", err)
	}
}

func TestEndSessionURL(t *testing.T) {
	tp := newTestProvider(t, testRedirect)
	rp := newRP(t, tp, nil, Deps{})
	u, ok := rp.EndSessionURL("the-id-token", "https://node.example/signed-out")
	if !ok {
		t.Fatal("the provider's discovery names an end_session_endpoint")
	}
	p, _ := url.Parse(u)
	if !strings.HasPrefix(u, tp.Issuer()) || p.Query().Get("id_token_hint") != "the-id-token" ||
		p.Query().Get("post_logout_redirect_uri") != "https://node.example/signed-out" || p.Query().Get("client_id") != testClientID {
		t.Fatalf("end-session URL %s", u)
	}

	// A real sign-out at the provider: the ID token as the hint, back to
	// the registered post-logout URI.
	cb := signIn(t, rp, "test-user@127.0.0.1")
	id, err := rp.Exchange(context.Background(), cb.Code, cb.State)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = rp.EndSessionURL(id.IDToken, testSignedOut)
	var back string
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		back = req.URL.String()
		return http.ErrUseLastResponse
	}}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || back != testSignedOut {
		t.Fatalf("end session: status %d, back to %q", resp.StatusCode, back)
	}

	rp.endSession = ""
	if _, ok := rp.EndSessionURL("x", ""); ok {
		t.Fatal("no end_session_endpoint, no URL")
	}
}

func TestNewRefusesADifferentIssuer(t *testing.T) {
	// The discovery document must name exactly the configured issuer.
	tp := newTestProvider(t, testRedirect)
	cfg := testConfig(t, strings.Replace(tp.Issuer(), "127.0.0.1", "localhost", 1), testRedirect)
	if _, err := New(context.Background(), cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Fatalf("want a discovery refusal naming the issuer, got %v", err)
	}
}

func TestParseCallback(t *testing.T) {
	cases := []struct {
		query  string
		reason error
	}{
		{"code=c&state=s", nil},
		{"error=access_denied&error_description=user+cancelled", ErrProviderDenied},
		{"error=access_denied&code=c&state=s", ErrProviderDenied},
		{"code=c", ErrBadCallback},
		{"state=s", ErrBadCallback},
		{"", ErrBadCallback},
		{"code=c&code=d&state=s", ErrBadCallback},
		{"code=c&state=s&state=t", ErrBadCallback},
		{"code=c%0a&state=s", ErrBadCallback},
		{"code=" + strings.Repeat("a", maxParam+1) + "&state=s", ErrBadCallback},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		cb, err := ParseCallback(q)
		if c.reason == nil {
			if err != nil || cb.Code != "c" || cb.State != "s" {
				t.Fatalf("%q: %+v %v", c.query, cb, err)
			}
			continue
		}
		if !errors.Is(err, c.reason) {
			t.Fatalf("%q: want %v, got %v", c.query, c.reason, err)
		}
	}
}

func TestUnverifiedIssuer(t *testing.T) {
	for _, raw := range []string{"", "a.b", "a.!!!.c", "a.e30.c", "a." + strings.Repeat("A", 70000) + ".c"} {
		if _, err := UnverifiedIssuer(raw); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%.20q: %v", raw, err)
		}
	}
	if iss, err := UnverifiedIssuer("x.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.y"); err != nil || iss != "https://idp.example" {
		t.Fatalf("%q %v", iss, err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig(t, "https://login.example.org/realms/x", "https://node.example/oidc/callback")
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Config){
		"name":               func(c *Config) { c.Name = "" },
		"issuer":             func(c *Config) { c.Issuer = "login.example.org" },
		"must use https":     func(c *Config) { c.Issuer = "http://login.example.org" },
		"client_id":          func(c *Config) { c.ClientID = "" },
		"redirect_url":       func(c *Config) { c.RedirectURL = "/callback" },
		"client_secret_file": func(c *Config) { c.ClientSecretFile = "/nonexistent/secret" },
		"login_ttl":          func(c *Config) { c.LoginTTL = 0 },
		"max_pending_logins": func(c *Config) { c.MaxPendingLogins = 0 },
		"clock_skew":         func(c *Config) { c.ClockSkew = time.Hour },
		"claims.email":       func(c *Config) { c.Claims.Email = "" },
	}
	for want, edit := range cases {
		c := good
		edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	if s := (Config{Scopes: []string{"email", "openid", "email", ""}}).scopes(); strings.Join(s, " ") != "openid email" {
		t.Fatalf("scopes %v", s)
	}
}

// Two callbacks racing with the same state: exactly one takes it.
func TestStateIsTakenOnceUnderRace(t *testing.T) {
	l := newLedger(1000)
	now := time.Now()
	var states []string
	for range 200 {
		s := randomToken()
		l.add(s, login{nonce: randomToken(), expires: now.Add(time.Minute)}, now)
		states = append(states, s)
	}
	var mu sync.Mutex
	taken := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, s := range states {
				if _, err := l.take(s, now); err == nil {
					mu.Lock()
					taken[s]++
					mu.Unlock()
				} else if !errors.Is(err, ErrStateReplayed) {
					t.Errorf("a used state: %v, want ErrStateReplayed", err)
				}
			}
		})
	}
	wg.Wait()
	for _, s := range states {
		if taken[s] != 1 {
			t.Fatalf("state taken %d times", taken[s])
		}
	}
}
