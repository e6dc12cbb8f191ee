package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Deps are what a RelyingParty takes from its surroundings.
type Deps struct {
	// Logger receives one line per refused sign-in or token; nil discards.
	Logger *slog.Logger
	// HTTPClient reaches the issuer (discovery, JWKS, token endpoint); nil
	// means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Identity is who a verified token says its holder is.
type Identity struct {
	Issuer       string         `json:"issuer"`
	Subject      string         `json:"subject"`
	Email        string         `json:"email,omitempty"`
	Name         string         `json:"name,omitempty"`
	Groups       []string       `json:"groups,omitempty"`
	Entitlements []string       `json:"entitlements,omitempty"`
	Affiliation  []string       `json:"affiliation,omitempty"`
	Expiry       time.Time      `json:"expiry"`
	Claims       map[string]any `json:"-"` // every claim of the token, as decoded
	// IDToken is the raw ID token of a sign-in (empty for an access token):
	// the id_token_hint of EndSessionURL when the user signs out.
	IDToken string `json:"-"`
}

// Who is how a person is named to people: the email, or the subject
// when the issuer sent none.
func (id Identity) Who() string {
	if id.Email != "" {
		return id.Email
	}
	return id.Subject
}

// SignIn is the start of one sign-in: the URL to send the browser to and
// the state to bind to that browser (a cookie), which the callback must
// bring back.
type SignIn struct {
	URL   string
	State string
}

// RelyingParty signs users in with one issuer and verifies its tokens.
type RelyingParty struct {
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	client     *http.Client
	oauth      oauth2.Config
	idVerifier *gooidc.IDTokenVerifier
	atVerifier *gooidc.IDTokenVerifier
	// deviceVerifier accepts access tokens issued to the node's CLI
	// client (`xborder login`), when no API audience is configured.
	deviceVerifier *gooidc.IDTokenVerifier
	endSession     string
	logins         *ledger
}

// New discovers the issuer (its /.well-known/openid-configuration, which
// must name the configured issuer exactly) and prepares the verifiers.
func New(ctx context.Context, cfg Config, deps Deps) (*RelyingParty, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secret, err := cfg.readSecret()
	if err != nil {
		return nil, err
	}
	rp := &RelyingParty{cfg: cfg, log: deps.Logger, now: deps.Now, client: deps.HTTPClient,
		logins: newLedger(cfg.MaxPendingLogins)}
	if rp.log == nil {
		rp.log = slog.New(slog.DiscardHandler)
	}
	if rp.now == nil {
		rp.now = time.Now
	}
	if rp.client == nil {
		if rp.client, err = cfg.httpClient(); err != nil {
			return nil, err
		}
	}
	// go-oidc keeps the client of this context for the key set's later
	// fetches, and only the client.
	ctx = gooidc.ClientContext(ctx, rp.client)
	p, err := gooidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc %s: discovery of %s: %w", cfg.Name, cfg.Issuer, err)
	}
	var meta struct {
		EndSession string   `json:"end_session_endpoint"`
		JWKS       string   `json:"jwks_uri"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("oidc %s: discovery document: %w", cfg.Name, err)
	}
	// Codes, secrets, tokens and hints cross these: each endpoint the
	// issuer names must be HTTPS, as the issuer itself (loopback apart).
	ep := p.Endpoint()
	for what, u := range map[string]string{"authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL,
		"jwks_uri": meta.JWKS, "end_session_endpoint": meta.EndSession, "device_authorization_endpoint": ep.DeviceAuthURL} {
		if err := secureURL(u); err != nil {
			return nil, fmt.Errorf("oidc %s: the discovery document's %s: %w", cfg.Name, what, err)
		}
	}
	rp.endSession = meta.EndSession
	rp.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: cfg.RedirectURL, Scopes: cfg.scopes()}
	// One key set for every verifier, its refetches bounded.
	algs := signingAlgs(meta.Algs)
	keys := newKeySet(meta.JWKS, rp.client, rp.now, algs)
	verifier := func(audience string) *gooidc.IDTokenVerifier {
		return gooidc.NewVerifier(cfg.Issuer, keys, &gooidc.Config{ClientID: audience, Now: rp.now, SupportedSigningAlgs: algs})
	}
	rp.idVerifier = verifier(cfg.ClientID)
	rp.atVerifier = verifier(cfg.accessAudience())
	if cfg.AccessTokenAudience == "" && cfg.DeviceClientID != "" {
		rp.deviceVerifier = verifier(cfg.DeviceClientID)
	}
	return rp, nil
}

// Name is the configured issuer's name.
func (rp *RelyingParty) Name() string { return rp.cfg.Name }

// Issuer is the issuer's URL.
func (rp *RelyingParty) Issuer() string { return rp.cfg.Issuer }

// AuthCodeURL starts a sign-in: a fresh state, nonce and PKCE verifier
// (S256) are kept for LoginTTL, and the URL sends the browser to the
// issuer's authorisation endpoint with them.
func (rp *RelyingParty) AuthCodeURL() (SignIn, error) {
	state, nonce := randomToken(), randomToken()
	verifier := oauth2.GenerateVerifier()
	now := rp.now()
	if !rp.logins.add(state, login{nonce: nonce, verifier: verifier, expires: now.Add(rp.cfg.LoginTTL)}, now) {
		return SignIn{}, rp.refuse(ErrTooManyLogins, "", "", nil)
	}
	u := rp.oauth.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return SignIn{URL: u, State: state}, nil
}

// Callback is the issuer's answer at the redirect URL.
type Callback struct {
	Code  string
	State string
}

// Bounds of the callback's parameters: generous for real issuers' codes,
// small enough that a hostile request costs nothing.
const (
	maxParam = 4096
)

// ParseCallback reads the redirect's query: the code and state, or the
// issuer's error (error, error_description), which becomes a refusal with
// ErrProviderDenied. Each parameter must appear once and be printable.
func ParseCallback(q url.Values) (Callback, error) {
	get := func(k string) (string, error) {
		vs := q[k]
		switch {
		case len(vs) == 0:
			return "", nil
		case len(vs) > 1:
			return "", fmt.Errorf("%w: %s given %d times", ErrBadCallback, k, len(vs))
		case len(vs[0]) > maxParam:
			return "", fmt.Errorf("%w: %s longer than %d bytes", ErrBadCallback, k, maxParam)
		}
		for _, r := range vs[0] {
			if r < 0x20 || r > 0x7e {
				return "", fmt.Errorf("%w: %s holds a character outside printable ASCII", ErrBadCallback, k)
			}
		}
		return vs[0], nil
	}
	e, err := get("error")
	if err != nil {
		return Callback{}, err
	}
	if e != "" {
		desc, _ := get("error_description")
		if desc != "" {
			return Callback{}, fmt.Errorf("%w: %s (%s)", ErrProviderDenied, e, desc)
		}
		return Callback{}, fmt.Errorf("%w: %s", ErrProviderDenied, e)
	}
	var c Callback
	if c.Code, err = get("code"); err != nil {
		return Callback{}, err
	}
	if c.State, err = get("state"); err != nil {
		return Callback{}, err
	}
	if c.Code == "" || c.State == "" {
		return Callback{}, fmt.Errorf("%w: code and state are both required", ErrBadCallback)
	}
	return c, nil
}

// Exchange completes a sign-in: the state must be one this party issued
// and not used yet; the code is redeemed with its PKCE verifier; the ID
// token is verified (signature by a key the issuer publishes, issuer,
// audience, expiry, iat and nbf, the nonce this sign-in sent, used once)
// and read into an Identity.
func (rp *RelyingParty) Exchange(ctx context.Context, code, state string) (Identity, error) {
	if code == "" || state == "" || len(code) > maxParam || len(state) > maxParam {
		return Identity{}, rp.refuse(ErrBadCallback, "", "code and state are required, each at most 4096 bytes", nil)
	}
	lg, err := rp.logins.take(state, rp.now())
	if err != nil {
		return Identity{}, rp.refuse(err, "", "", nil)
	}
	ctx = gooidc.ClientContext(ctx, rp.client)
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(lg.verifier))
	if err != nil {
		return Identity{}, rp.refuse(ErrTokenEndpoint, "", "", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, rp.refuse(ErrNoIDToken, "", "", nil)
	}
	id, err := rp.verifyIDToken(ctx, raw, lg.nonce)
	if err != nil {
		return Identity{}, err
	}
	id.IDToken = raw
	return id, nil
}

// verifyIDToken verifies an ID token that must carry wantNonce.
func (rp *RelyingParty) verifyIDToken(ctx context.Context, raw, wantNonce string) (Identity, error) {
	t, err := rp.verify(ctx, rp.idVerifier, rp.cfg.ClientID, raw)
	if err != nil {
		return Identity{}, err
	}
	if t.Nonce == "" || t.Nonce != wantNonce {
		return Identity{}, rp.refuse(ErrNonceMismatch, "nonce", "", nil)
	}
	id, err := rp.identity(t)
	if err != nil {
		return Identity{}, err
	}
	// Marked used last: only a token that would sign someone in uses it up.
	if !rp.logins.useNonce(t.Nonce, t.Expiry, rp.now()) {
		return Identity{}, rp.refuse(ErrNonceReplayed, "nonce", "", nil)
	}
	return id, nil
}

// VerifyAccessToken verifies a JWT access token an API client presents:
// signed by a key the issuer publishes, from this issuer, for
// AccessTokenAudience (or, without one, the client id or the device
// client id of `xborder login`), not expired, iat and nbf not in
// the future, with the required claims. An ID token for the client id
// would pass as well when AccessTokenAudience is empty: issuers that put
// an API audience in their access tokens (Keycloak's audience mapper)
// should have it configured, so that only access tokens pass.
func (rp *RelyingParty) VerifyAccessToken(ctx context.Context, raw string) (Identity, error) {
	ctx = gooidc.ClientContext(ctx, rp.client)
	t, err := rp.verify(ctx, rp.atVerifier, rp.cfg.accessAudience(), raw)
	if errors.Is(err, ErrWrongAudience) && rp.deviceVerifier != nil {
		t, err = rp.verify(ctx, rp.deviceVerifier, rp.cfg.DeviceClientID, raw)
	}
	if err != nil {
		return Identity{}, err
	}
	// at_hash and c_hash bind an ID token to the access token or code it
	// came with (OpenID Connect Core 3.1.3.6, 3.3.2.11); no access token
	// carries them. An ID token of the node's own sign-ins that leaked (it
	// travels through the browser as the end-session hint) cannot be
	// replayed as a bearer token.
	// at_hash is optional in the code flow, though: the nonce of one of
	// this party's own sign-ins names its ID token too.
	var idOnly struct {
		AtHash string `json:"at_hash"`
		CHash  string `json:"c_hash"`
		Nonce  string `json:"nonce"`
	}
	if err := t.Claims(&idOnly); err == nil {
		switch {
		case idOnly.AtHash != "" || idOnly.CHash != "":
			return Identity{}, rp.refuse(ErrIDTokenAsAccessToken, "at_hash", "", nil)
		case idOnly.Nonce != "" && rp.logins.nonceUsed(idOnly.Nonce, rp.now()):
			return Identity{}, rp.refuse(ErrIDTokenAsAccessToken, "nonce", "", nil)
		}
	}
	return rp.identity(t)
}

// EndSessionURL is where to send the browser to end the session at the
// issuer too (RP-initiated logout), if its discovery names an
// end_session_endpoint; ok is false otherwise.
func (rp *RelyingParty) EndSessionURL(idTokenHint, postLogoutRedirect string) (u string, ok bool) {
	if rp.endSession == "" {
		return "", false
	}
	e, err := url.Parse(rp.endSession)
	if err != nil {
		return "", false
	}
	q := e.Query()
	q.Set("client_id", rp.cfg.ClientID)
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	e.RawQuery = q.Encode()
	return e.String(), true
}

// secureURL accepts an empty URL (an endpoint the issuer does not offer),
// an https one, or plain http to this machine.
func secureURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", raw)
	case u.Scheme == "https", u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q must use https", raw)
}

// UnverifiedIssuer reads a JWT's "iss" without verifying anything: which
// configured issuer's RelyingParty to ask to verify it.
func UnverifiedIssuer(raw string) (string, error) {
	var c struct {
		Iss string `json:"iss"`
	}
	if len(raw) > 64<<10 {
		return "", ErrMalformed
	}
	if err := unverifiedClaims(raw, &c); err != nil || c.Iss == "" {
		return "", ErrMalformed
	}
	return c.Iss, nil
}

// verify runs go-oidc's verification and names the reason of a refusal;
// then checks what go-oidc leaves out (iat in the future, nbf with our
// smaller tolerance, the subject).
func (rp *RelyingParty) verify(ctx context.Context, v *gooidc.IDTokenVerifier, audience, raw string) (*gooidc.IDToken, error) {
	if raw == "" || len(raw) > 64<<10 {
		return nil, rp.refuse(ErrMalformed, "", "empty or longer than 64 KiB", nil)
	}
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, rp.classify(raw, audience, err)
	}
	var times struct {
		NotBefore *json.Number `json:"nbf"`
	}
	_ = t.Claims(&times)
	now := rp.now()
	if t.IssuedAt.After(now.Add(rp.cfg.ClockSkew)) {
		return nil, rp.refuse(ErrNotYetValid, "iat", "issued at "+t.IssuedAt.UTC().Format(time.RFC3339), nil)
	}
	if nbf, ok := unixTime(times.NotBefore); ok && nbf.After(now.Add(rp.cfg.ClockSkew)) {
		return nil, rp.refuse(ErrNotYetValid, "nbf", "not before "+nbf.UTC().Format(time.RFC3339), nil)
	}
	return t, nil
}

// classify names why go-oidc refused a token. go-oidc checks issuer,
// audience and expiry before the signature: a token refused for a claim
// may be forged, so the reason names the first check it failed, and the
// detail quotes at most a few hundred bytes of what it claimed.
func (rp *RelyingParty) classify(raw, audience string, err error) error {
	var exp *gooidc.TokenExpiredError
	switch msg := err.Error(); {
	case errors.As(err, &exp):
		return rp.refuse(ErrExpired, "exp", "expired at "+exp.Expiry.UTC().Format(time.RFC3339), nil)
	case strings.HasPrefix(msg, "failed to verify signature"):
		return rp.refuse(ErrUnknownKey, "", "", err)
	case strings.Contains(msg, "malformed jwt"), strings.Contains(msg, "not signed"),
		strings.Contains(msg, "multiple signatures"), strings.Contains(msg, "unmarshal claims"):
		return rp.refuse(ErrMalformed, "", "", err)
	}
	var c struct {
		Iss string `json:"iss"`
		Aud any    `json:"aud"`
	}
	if perr := unverifiedClaims(raw, &c); perr == nil {
		if c.Iss != rp.cfg.Issuer {
			return rp.refuse(ErrWrongIssuer, "iss", fmt.Sprintf("%q, not %q", c.Iss, rp.cfg.Issuer), nil)
		}
		if !audienceHas(c.Aud, audience) {
			return rp.refuse(ErrWrongAudience, "aud", fmt.Sprintf("%v does not name %q", c.Aud, audience), nil)
		}
	}
	if strings.Contains(err.Error(), "nbf") {
		return rp.refuse(ErrNotYetValid, "nbf", "", err)
	}
	return rp.refuse(ErrMalformed, "", "", err)
}

// identity reads a verified token's claims.
func (rp *RelyingParty) identity(t *gooidc.IDToken) (Identity, error) {
	var all map[string]any
	if err := t.Claims(&all); err != nil {
		return Identity{}, rp.refuse(ErrMalformed, "", "", err)
	}
	return rp.fromClaims(t.Issuer, t.Subject, t.Expiry, all)
}

func (rp *RelyingParty) fromClaims(iss, sub string, exp time.Time, all map[string]any) (Identity, error) {
	if sub == "" {
		return Identity{}, rp.refuse(ErrMissingClaim, "sub", "", nil)
	}
	for _, name := range rp.cfg.Claims.Required {
		if name == "sub" {
			continue
		}
		if v, ok := all[name]; !ok || v == nil || v == "" {
			return Identity{}, rp.refuse(ErrMissingClaim, name, "", nil)
		}
	}
	n := rp.cfg.Claims
	return Identity{Issuer: iss, Subject: sub, Expiry: exp, Claims: all,
		Email: str(all, n.Email), Name: str(all, n.Name),
		Groups: strs(all, n.Groups), Entitlements: strs(all, n.Entitlements), Affiliation: strs(all, n.Affiliation),
	}, nil
}

// maxDetail bounds what a refusal quotes of a token (it may be forged,
// and the refusal is logged and audited).
const maxDetail = 200

func (rp *RelyingParty) refuse(reason error, claim, detail string, err error) error {
	if len(detail) > maxDetail {
		detail = strings.ToValidUTF8(detail[:maxDetail], "") + "…"
	}
	e := &RefusedError{Issuer: rp.cfg.Name, Reason: reason, Claim: claim, Detail: detail, Err: err}
	rp.log.Info("oidc: refused", "issuer", rp.cfg.Name, "reason", reason.Error(), "claim", claim, "detail", detail)
	return e
}

// str reads a string claim; anything else reads as empty.
func str(all map[string]any, name string) string {
	if name == "" {
		return ""
	}
	s, _ := all[name].(string)
	return s
}

// strs reads a claim that is a list of strings or one string (issuers
// differ); other elements are dropped.
func strs(all map[string]any, name string) []string {
	if name == "" {
		return nil
	}
	switch v := all[name].(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

func unverifiedClaims(raw string, v any) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return errors.New("not three parts")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func unixTime(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}
