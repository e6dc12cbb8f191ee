// Identity: who an external dataspace participant is (a configured ID and
// its keys), how its bearer tokens are verified, and how this node signs
// its own.

package dsp

import (
	"bytes"
	"container/heap"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Participant is an external dataspace participant as this node knows it
// from its configuration.
type Participant struct {
	ID      string `json:"id"`
	Country string `json:"country"`
	Org     string `json:"org,omitempty"`
	// Address is the participant's DSP base URL: where this node sends it
	// requests as a consumer, and the origin its callback addresses must
	// have. Empty: this node only provides to it, to any callback address.
	Address string `json:"address,omitempty"`
}

// Verifier authenticates the caller of a DSP endpoint from its
// Authorization header value.
//
// It is the one seam where Decentralised Claims Protocol (DCP) credentials
// can come later: today participants are known by configuration and prove
// who they are with tokens signed by a configured key (TokenVerifier); a
// DCP verifier would resolve the caller's DID, check its verifiable
// presentations and answer the same Participant.
type Verifier interface {
	Verify(ctx context.Context, authorization string) (Participant, error)
}

// AuthError is a refused bearer token. Code is one of the Auth* codes;
// Reason says in words what was wrong, for the DSP error's reason (the
// answer is a 401).
type AuthError struct {
	Code   string
	Reason string
}

func (e *AuthError) Error() string { return e.Reason }

// Codes of an AuthError.
const (
	AuthMissingToken         = "missing_token"
	AuthMalformedToken       = "malformed_token"
	AuthMissingClaim         = "missing_claim"
	AuthUnknownParticipant   = "unknown_participant"
	AuthUnknownKey           = "unknown_key"
	AuthKeyUnavailable       = "key_unavailable"
	AuthUnsupportedAlgorithm = "unsupported_algorithm"
	AuthBadSignature         = "bad_signature"
	AuthWrongSubject         = "wrong_subject"
	AuthWrongAudience        = "wrong_audience"
	AuthExpired              = "expired"
	AuthNotYetValid          = "not_yet_valid"
	AuthLifetimeTooLong      = "lifetime_too_long"
	AuthReplayed             = "replayed"
	// AuthTooManyTokens: the replay cache is full of unexpired tokens.
	// The token is refused rather than an older one forgotten, which
	// would let it be replayed.
	AuthTooManyTokens = "too_many_tokens"
)

func authErr(code, format string, args ...any) *AuthError {
	return &AuthError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// MaxTokenBytes caps the bearer token a verifier reads: an RS256 token with
// the usual claims is under 1 KiB, so anything past this is an attack or a
// mistake, refused before it is decoded.
const MaxTokenBytes = 16 << 10

// maxKeySetBytes caps a JWKS file or response.
const maxKeySetBytes = 1 << 20

// maxJTIBytes bounds what one replay cache entry holds.
const maxJTIBytes = 256

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// ParticipantConfig is one external participant in the node's
// configuration (dataspace.participants). Exactly one of PublicKey,
// JWKSFile and JWKSURL gives its keys.
type ParticipantConfig struct {
	ID      string `yaml:"id" json:"id"`
	Country string `yaml:"country" json:"country"`
	Org     string `yaml:"org,omitempty" json:"org,omitempty"`
	// PublicKey is a PEM public key (Ed25519, P-256, P-384 or RSA of at
	// least 2048 bits) or one JWK as JSON.
	PublicKey string `yaml:"public_key,omitempty" json:"public_key,omitempty"`
	// JWKSFile is a JWK set on disk, read again when it changes.
	JWKSFile string `yaml:"jwks_file,omitempty" json:"jwks_file,omitempty"`
	// JWKSURL is the participant's JWK set, over https (or http to a
	// loopback host), fetched again when a token names a key it does not
	// hold.
	JWKSURL string `yaml:"jwks_url,omitempty" json:"jwks_url,omitempty"`
	// Address is the participant's DSP base URL (e.g.
	// https://connector.example/api/dsp): needed to consume from it, and
	// when set, its callbacks must be at that origin.
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
}

// Participant is who the configuration says the participant is.
func (c ParticipantConfig) Participant() Participant {
	return Participant{ID: c.ID, Country: c.Country, Org: c.Org, Address: strings.TrimSuffix(c.Address, "/")}
}

// Validate checks one participant; each error names its field
// ("public_key: ...").
func (c ParticipantConfig) Validate() error {
	return errors.Join(c.problems("")...)
}

// ValidateParticipants checks a list of participants and that no ID is
// given twice; field is where the list sits in the configuration
// ("dataspace.participants"), so errors read
// "dataspace.participants[2].public_key: ...".
func ValidateParticipants(field string, ps []ParticipantConfig) error {
	var errs []error
	first := make(map[string]int, len(ps))
	for i, p := range ps {
		at := fmt.Sprintf("%s[%d].", field, i)
		errs = append(errs, p.problems(at)...)
		if p.ID == "" {
			continue
		}
		if j, dup := first[p.ID]; dup {
			errs = append(errs, fmt.Errorf("%sid: %q is already the id of %s[%d]", at, p.ID, field, j))
			continue
		}
		first[p.ID] = i
	}
	return errors.Join(errs...)
}

func (c ParticipantConfig) problems(at string) []error {
	var errs []error
	addf := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", at, field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.ID == "":
		addf("id", "is required (the participant id its tokens carry as iss and sub)")
	case len(c.ID) > 256:
		addf("id", "is longer than 256 bytes")
	case strings.IndexFunc(c.ID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		addf("id", "%q contains white space or control characters", c.ID)
	}
	if !isCountryFormat(c.Country) {
		addf("country", "%q is not an ISO 3166-1 alpha-2 country code in upper case (e.g. FR, DE, CH)", c.Country)
	}
	if c.Address != "" {
		if u, err := url.Parse(c.Address); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			addf("address", "%q must be an absolute http(s) URL without credentials, query or fragment (the participant's DSP base)", c.Address)
		}
	}
	given := 0
	for _, s := range []string{c.PublicKey, c.JWKSFile, c.JWKSURL} {
		if strings.TrimSpace(s) != "" {
			given++
		}
	}
	switch {
	case given == 0:
		addf("public_key", "one of public_key, jwks_file or jwks_url is required")
	case given > 1:
		addf("public_key", "give only one of public_key, jwks_file and jwks_url")
	case c.PublicKey != "":
		if _, err := parsePublicKey(c.PublicKey); err != nil {
			addf("public_key", "%v", err)
		}
	case c.JWKSURL != "":
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			addf("jwks_url", "%v", err)
		}
	}
	return errs
}

// isCountryFormat checks the form of an ISO 3166-1 alpha-2 code; node's
// configuration checks that the code is assigned.
func isCountryFormat(cc string) bool {
	return len(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'
}

// checkJWKSURL allows https anywhere and http only to this machine: keys
// fetched in the clear could be swapped on the way.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q is plain http to a host that is not this machine; keys must be fetched over https", raw)
	default:
		return fmt.Errorf("%q: scheme %q is not https", raw, u.Scheme)
	}
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// verifyKey is one public key a participant signs with.
type verifyKey struct {
	kid string
	alg string // the JWK's "alg", when it names one
	pub any    // ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey
}

// parsePublicKey reads public_key: PEM or one JWK.
func parsePublicKey(s string) (verifyKey, error) {
	data := []byte(strings.TrimSpace(s))
	var k jwk.Key
	var err error
	if bytes.HasPrefix(data, []byte("-----BEGIN")) {
		k, err = jwk.ParseKey(data, jwk.WithPEM(true))
		if err != nil {
			return verifyKey{}, fmt.Errorf("is not a PEM public key: %v", err)
		}
	} else {
		if bytes.Contains(data, []byte(`"keys"`)) {
			return verifyKey{}, errors.New("is a JWK set; give one key, or the set as jwks_file or jwks_url")
		}
		k, err = jwk.ParseKey(data)
		if err != nil {
			return verifyKey{}, fmt.Errorf("is neither PEM nor a JWK: %v", err)
		}
	}
	return toVerifyKey(k)
}

// toVerifyKey accepts a public signing key of a type this node verifies.
func toVerifyKey(k jwk.Key) (verifyKey, error) {
	if use, ok := k.KeyUsage(); ok && use != "sig" {
		return verifyKey{}, fmt.Errorf("key is for %q, not for signatures", use)
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return verifyKey{}, fmt.Errorf("unsupported key: %v", err)
	}
	vk := verifyKey{}
	vk.kid, _ = k.KeyID()
	if a, ok := k.Algorithm(); ok {
		vk.alg = a.String()
	}
	switch pub := raw.(type) {
	case ed25519.PublicKey:
		vk.pub = pub
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
			return verifyKey{}, fmt.Errorf("EC key on curve %s; P-256 or P-384 is required", pub.Curve.Params().Name)
		}
		vk.pub = pub
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return verifyKey{}, fmt.Errorf("RSA key of %d bits; at least %d are required", pub.N.BitLen(), minRSABits)
		}
		vk.pub = pub
	case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
		return verifyKey{}, errors.New("is a private key; give only the public key")
	case []byte:
		return verifyKey{}, errors.New("is a symmetric key; shared secrets (HMAC) are never accepted")
	default:
		return verifyKey{}, fmt.Errorf("unsupported key type %T (Ed25519, P-256, P-384 or RSA)", raw)
	}
	return vk, nil
}

// parseKeySet reads a JWKS (or one JWK), keeping the keys this node can
// verify with; keys for encryption or of other types are skipped.
func parseKeySet(data []byte) ([]verifyKey, error) {
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("not a JWK set: %v", err)
	}
	var keys []verifyKey
	var skipped []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		vk, err := toVerifyKey(k)
		if err != nil {
			kid, _ := k.KeyID()
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %v", i, kid, err))
			continue
		}
		keys = append(keys, vk)
	}
	if len(keys) == 0 {
		if len(skipped) == 0 {
			return nil, errors.New("the JWK set is empty")
		}
		return nil, fmt.Errorf("no usable signing key: %s", strings.Join(skipped, "; "))
	}
	return keys, nil
}

// selectKey finds the key a token's kid names. Without a kid, a set of one
// key is unambiguous.
func selectKey(keys []verifyKey, kid string) (verifyKey, bool) {
	if kid == "" {
		if len(keys) == 1 {
			return keys[0], true
		}
		return verifyKey{}, false
	}
	for _, k := range keys {
		if k.kid == kid {
			return k, true
		}
	}
	return verifyKey{}, false
}

// keySource gives the key a participant's token names.
type keySource interface {
	lookup(ctx context.Context, kid string) (verifyKey, error)
}

// staticKey is public_key: one key, whatever kid the token names.
type staticKey struct{ key verifyKey }

func (s staticKey) lookup(context.Context, string) (verifyKey, error) { return s.key, nil }

// fileKeys is jwks_file, read again when the file changes (its mtime,
// size or inode), so a partner's key rotation needs no restart. A file
// that no longer parses leaves the keys it last held.
type fileKeys struct {
	id, path string
	log      *slog.Logger

	mu      sync.Mutex
	seen    os.FileInfo // the file the keys were read from
	badSeen os.FileInfo // the broken file last logged, to log it once
	keys    []verifyKey
}

func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

func (f *fileKeys) load() error {
	fi, err := os.Stat(f.path)
	if err != nil {
		return err
	}
	if sameFile(fi, f.seen) {
		return nil
	}
	if fi.Size() > maxKeySetBytes {
		return fmt.Errorf("%s is %d bytes; a JWK set is at most %d", f.path, fi.Size(), maxKeySetBytes)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return err
	}
	keys, err := parseKeySet(data)
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	f.keys, f.seen = keys, fi
	return nil
}

func (f *fileKeys) lookup(_ context.Context, kid string) (verifyKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		fi, _ := os.Stat(f.path)
		if fi == nil || !sameFile(fi, f.badSeen) {
			f.log.Warn("dsp: participant's jwks_file is unreadable; keeping the keys it last held", "participant", f.id, "err", err)
			f.badSeen = fi
		}
		if f.keys == nil {
			return verifyKey{}, authErr(AuthKeyUnavailable, "The keys of participant %q cannot be read on this node.", f.id)
		}
	}
	k, ok := selectKey(f.keys, kid)
	if !ok {
		return verifyKey{}, unknownKey(f.id, kid)
	}
	return k, nil
}

func unknownKey(id, kid string) *AuthError {
	if kid == "" {
		return authErr(AuthUnknownKey, "The token has no kid header and participant %q has several keys: name the key that signed it.", id)
	}
	return authErr(AuthUnknownKey, "Participant %q has no key with kid %q.", id, kid)
}

// urlKeys is jwks_url: fetched on first use, again when a token names a
// kid the cached set lacks (so a rotation is picked up) or when the set
// is older than maxAge (so a withdrawn key goes), but never more often
// than once per minInterval, so a flood of made-up kids cannot turn this
// node into a load generator against the participant.
type urlKeys struct {
	id, url     string
	client      *http.Client
	timeout     time.Duration
	minInterval time.Duration
	maxAge      time.Duration
	now         func() time.Time
	log         *slog.Logger

	mu          sync.Mutex // held across a fetch: one fetch at a time
	keys        []verifyKey
	fetched     time.Time // when keys were fetched
	lastAttempt time.Time
	attempted   bool
	lastErr     error
}

func (u *urlKeys) lookup(ctx context.Context, kid string) (verifyKey, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	fresh := u.keys != nil && now.Sub(u.fetched) < u.maxAge
	if fresh {
		if k, ok := selectKey(u.keys, kid); ok {
			return k, nil
		}
	}
	if !u.attempted || now.Sub(u.lastAttempt) >= u.minInterval {
		u.attempted, u.lastAttempt = true, now
		keys, err := u.fetch(ctx)
		if err == nil {
			u.keys, u.fetched, u.lastErr = keys, now, nil
		} else {
			u.lastErr = err
			u.log.Warn("dsp: cannot fetch participant's jwks_url", "participant", u.id, "url", u.url, "err", err)
		}
	}
	if u.keys == nil {
		// Why is logged; the caller learns only that it should retry.
		return verifyKey{}, authErr(AuthKeyUnavailable, "The keys of participant %q could not be fetched from its jwks_url; retry later.", u.id)
	}
	// A set past maxAge whose refresh failed still serves: the participant
	// being unreachable should not lock it out of this node.
	if k, ok := selectKey(u.keys, kid); ok {
		return k, nil
	}
	return verifyKey{}, unknownKey(u.id, kid)
}

func (u *urlKeys) fetch(ctx context.Context) ([]verifyKey, error) {
	// The caller going away must not cancel a fetch other callers wait for
	// and the rate limit counts.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeySetBytes {
		return nil, fmt.Errorf("the JWK set is larger than %d bytes", maxKeySetBytes)
	}
	return parseKeySet(data)
}

// VerifierConfig configures a TokenVerifier.
type VerifierConfig struct {
	// Audience is this node's participant ID: a token must name it in aud.
	Audience     string
	Participants []ParticipantConfig
	// MaxLifetime bounds exp - iat: a stolen token is good for no longer.
	MaxLifetime time.Duration
	// Leeway is the clock difference tolerated with a participant.
	Leeway time.Duration
	// ReplayCacheSize bounds the token IDs remembered until their tokens
	// expire; when it is full of unexpired ones, tokens are refused.
	ReplayCacheSize int
	// JWKSTimeout bounds one fetch of a jwks_url; JWKSMinInterval is the
	// least time between two fetches of one URL; JWKSMaxAge is how long
	// a fetched set is used before it is fetched again.
	JWKSTimeout     time.Duration
	JWKSMinInterval time.Duration
	JWKSMaxAge      time.Duration
	Clock           func() time.Time
	// HTTPClient fetches jwks_url; the default refuses redirects to
	// plain http.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// DefaultVerifierConfig is the configuration a node starts from.
func DefaultVerifierConfig() VerifierConfig {
	return VerifierConfig{
		MaxLifetime:     5 * time.Minute,
		Leeway:          30 * time.Second,
		ReplayCacheSize: 100_000,
		JWKSTimeout:     10 * time.Second,
		JWKSMinInterval: 30 * time.Second,
		JWKSMaxAge:      time.Hour,
	}
}

// withDefaults fills the fields left zero from DefaultVerifierConfig.
func (c VerifierConfig) withDefaults() VerifierConfig {
	d := DefaultVerifierConfig()
	if c.MaxLifetime == 0 {
		c.MaxLifetime = d.MaxLifetime
	}
	if c.Leeway == 0 {
		c.Leeway = d.Leeway
	}
	if c.ReplayCacheSize == 0 {
		c.ReplayCacheSize = d.ReplayCacheSize
	}
	if c.JWKSTimeout == 0 {
		c.JWKSTimeout = d.JWKSTimeout
	}
	if c.JWKSMinInterval == 0 {
		c.JWKSMinInterval = d.JWKSMinInterval
	}
	if c.JWKSMaxAge == 0 {
		c.JWKSMaxAge = d.JWKSMaxAge
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.JWKSTimeout, CheckRedirect: refuseInsecureRedirect}
	}
	return c
}

func refuseInsecureRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if err := checkJWKSURL(req.URL.String()); err != nil {
		return fmt.Errorf("redirect refused: %w", err)
	}
	return nil
}

// Validate checks the configuration; zero durations and sizes take their
// defaults.
func (c VerifierConfig) Validate() error {
	var errs []error
	if c.Audience == "" {
		errs = append(errs, errors.New("audience (this node's participant id) is required"))
	}
	if c.MaxLifetime < 0 || c.Leeway < 0 || c.ReplayCacheSize < 0 || c.JWKSTimeout < 0 || c.JWKSMinInterval < 0 || c.JWKSMaxAge < 0 {
		errs = append(errs, errors.New("durations and sizes must not be negative"))
	}
	if c.MaxLifetime > time.Hour {
		errs = append(errs, fmt.Errorf("max lifetime %v is more than an hour: a stolen token would stay good that long", c.MaxLifetime))
	}
	if err := ValidateParticipants("participants", c.Participants); err != nil {
		errs = append(errs, err)
	}
	for i, p := range c.Participants {
		if p.ID != "" && p.ID == c.Audience {
			errs = append(errs, fmt.Errorf("participants[%d].id: %q is this node's own participant id", i, p.ID))
		}
	}
	return errors.Join(errs...)
}

// TokenVerifier verifies the bearer tokens of configured participants:
// a compact JWS (EdDSA, ES256, ES384, RS256 or PS256, matched to the
// participant's key; never none or HMAC) whose iss and sub are the
// participant's ID, aud names this node, iat, exp (at most MaxLifetime
// after iat) and a jti never presented before.
type TokenVerifier struct {
	cfg          VerifierConfig
	participants map[string]*participantKeys
	replay       *replayCache
}

type participantKeys struct {
	p    Participant
	keys keySource
}

var _ Verifier = (*TokenVerifier)(nil)

// NewTokenVerifier checks cfg and reads the participants' public keys and
// JWKS files; JWKS URLs are fetched on first use, so a participant being
// down does not stop the node.
func NewTokenVerifier(cfg VerifierConfig) (*TokenVerifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	v := &TokenVerifier{
		cfg:          cfg,
		participants: make(map[string]*participantKeys, len(cfg.Participants)),
		replay:       newReplayCache(cfg.ReplayCacheSize),
	}
	for i, pc := range cfg.Participants {
		pk := &participantKeys{p: pc.Participant()}
		switch {
		case pc.PublicKey != "":
			k, err := parsePublicKey(pc.PublicKey)
			if err != nil { // Validate parsed it already
				return nil, fmt.Errorf("participants[%d].public_key: %w", i, err)
			}
			pk.keys = staticKey{k}
		case pc.JWKSFile != "":
			f := &fileKeys{id: pc.ID, path: pc.JWKSFile, log: cfg.Logger}
			if err := f.load(); err != nil {
				return nil, fmt.Errorf("participants[%d].jwks_file: %w", i, err)
			}
			pk.keys = f
		default:
			pk.keys = &urlKeys{
				id: pc.ID, url: pc.JWKSURL, client: cfg.HTTPClient,
				timeout: cfg.JWKSTimeout, minInterval: cfg.JWKSMinInterval, maxAge: cfg.JWKSMaxAge,
				now: cfg.Clock, log: cfg.Logger,
			}
		}
		v.participants[pc.ID] = pk
	}
	return v, nil
}

// Participant finds a configured participant by ID.
func (v *TokenVerifier) Participant(id string) (Participant, bool) {
	pk, ok := v.participants[id]
	if !ok {
		return Participant{}, false
	}
	return pk.p, true
}

// tokenHeader is the part of the JOSE header read before the signature is
// checked, to find the key.
type tokenHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// Verify authenticates an Authorization header value: "Bearer <jwt>", or
// the bare token as some connectors send it. Every refusal is an
// *AuthError.
func (v *TokenVerifier) Verify(ctx context.Context, authorization string) (Participant, error) {
	token, aerr := bearerToken(authorization)
	if aerr != nil {
		return Participant{}, aerr
	}
	hdr, iss, aerr := peek(token)
	if aerr != nil {
		return Participant{}, aerr
	}
	pk, ok := v.participants[iss]
	if !ok {
		return Participant{}, authErr(AuthUnknownParticipant, "The token's issuer %.200q is not a participant this node knows.", iss)
	}
	key, err := pk.keys.lookup(ctx, hdr.Kid)
	if err != nil {
		return Participant{}, err
	}
	alg, aerr := algorithmFor(hdr.Alg, key)
	if aerr != nil {
		return Participant{}, aerr
	}
	if _, err := jws.VerifyCompactFast(key.pub, []byte(token), alg); err != nil {
		return Participant{}, authErr(AuthBadSignature, "The token's signature does not verify with the key of participant %q.", iss)
	}
	tok, err := jwt.ParseInsecure([]byte(token)) // the signature is verified above
	if err != nil {
		return Participant{}, authErr(AuthMalformedToken, "The token's claims cannot be read: %v.", err)
	}
	exp, aerr := v.checkClaims(tok, pk.p.ID)
	if aerr != nil {
		return Participant{}, aerr
	}
	jti, _ := tok.JwtID()
	if aerr := v.replay.admit(iss+"\x00"+jti, exp.Add(v.cfg.Leeway), v.cfg.Clock()); aerr != nil {
		return Participant{}, aerr
	}
	return pk.p, nil
}

// bearerToken takes the token out of an Authorization header value.
func bearerToken(authorization string) (string, *AuthError) {
	if len(authorization) > MaxTokenBytes+len("Bearer ") {
		return "", authErr(AuthMalformedToken, "The Authorization header is longer than %d bytes.", MaxTokenBytes)
	}
	s := strings.TrimSpace(authorization)
	if s == "" {
		return "", authErr(AuthMissingToken, "The request has no bearer token in its Authorization header.")
	}
	if strings.EqualFold(s, "Bearer") {
		return "", authErr(AuthMissingToken, "The Authorization header names the Bearer scheme but holds no token.")
	}
	if scheme, rest, ok := strings.Cut(s, " "); ok {
		if !strings.EqualFold(scheme, "Bearer") {
			return "", authErr(AuthMalformedToken, "The Authorization header's scheme is %.20q; it must be Bearer.", scheme)
		}
		s = strings.TrimSpace(rest)
		if s == "" {
			return "", authErr(AuthMissingToken, "The Authorization header names the Bearer scheme but holds no token.")
		}
	}
	if len(s) > MaxTokenBytes {
		return "", authErr(AuthMalformedToken, "The token is longer than %d bytes.", MaxTokenBytes)
	}
	return s, nil
}

// peek reads the header and issuer of a compact JWS before its signature
// is checked: they only choose the key, and the claims are read again from
// the verified token.
func peek(token string) (tokenHeader, string, *AuthError) {
	var hdr tokenHeader
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return hdr, "", authErr(AuthMalformedToken, "The token is not a compact JWS (header.payload.signature): it has %d parts.", len(parts))
	}
	for _, p := range parts {
		if strings.IndexFunc(p, func(r rune) bool { return !isBase64URL(r) }) >= 0 {
			return hdr, "", authErr(AuthMalformedToken, "The token contains characters outside base64url.")
		}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(raw, &hdr) != nil {
		return hdr, "", authErr(AuthMalformedToken, "The token's header is not base64url-encoded JSON.")
	}
	if aerr := checkAlgorithmName(hdr.Alg); aerr != nil {
		return hdr, "", aerr
	}
	if len(hdr.Crit) > 0 && string(hdr.Crit) != "null" {
		return hdr, "", authErr(AuthMalformedToken, "The token's header has critical extensions (crit), which this node does not support.")
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	raw, err = base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		return hdr, "", authErr(AuthMalformedToken, "The token's payload is not base64url-encoded JSON claims.")
	}
	if claims.Iss == "" {
		return hdr, "", authErr(AuthMissingClaim, "The token has no iss (issuer) claim: it must be the caller's participant id.")
	}
	return hdr, claims.Iss, nil
}

func isBase64URL(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// checkAlgorithmName refuses algorithms never accepted, whatever the key.
func checkAlgorithmName(alg string) *AuthError {
	switch {
	case alg == "":
		return authErr(AuthUnsupportedAlgorithm, "The token's header names no algorithm.")
	case strings.EqualFold(alg, "none"):
		return authErr(AuthUnsupportedAlgorithm, "The token is unsigned (alg none); it must be signed with the participant's key.")
	case strings.HasPrefix(alg, "HS"):
		return authErr(AuthUnsupportedAlgorithm, "The token is signed with a shared secret (%s); only EdDSA, ES256, ES384, RS256 and PS256 are accepted.", alg)
	}
	switch alg {
	case "EdDSA", "Ed25519", "ES256", "ES384", "RS256", "PS256":
		return nil
	}
	return authErr(AuthUnsupportedAlgorithm, "The token's algorithm %.20q is not one of EdDSA, ES256, ES384, RS256 and PS256.", alg)
}

// algorithmFor matches the header's algorithm to the key: an algorithm
// the key was not made for is refused, so a token cannot choose how its
// signature is checked.
func algorithmFor(alg string, k verifyKey) (jwa.SignatureAlgorithm, *AuthError) {
	var want []string
	switch pub := k.pub.(type) {
	case ed25519.PublicKey:
		want = []string{"EdDSA", "Ed25519"}
	case *ecdsa.PublicKey:
		if pub.Curve == elliptic.P384() {
			want = []string{"ES384"}
		} else {
			want = []string{"ES256"}
		}
	case *rsa.PublicKey:
		want = []string{"RS256", "PS256"}
	}
	ok := false
	for _, w := range want {
		ok = ok || w == alg
	}
	if !ok || (k.alg != "" && k.alg != alg) {
		if k.alg != "" {
			want = []string{k.alg}
		}
		return jwa.SignatureAlgorithm{}, authErr(AuthUnsupportedAlgorithm, "The token is signed with %s but the participant's key is for %s.", alg, strings.Join(want, " or "))
	}
	a, found := jwa.LookupSignatureAlgorithm(alg)
	if !found {
		return jwa.SignatureAlgorithm{}, authErr(AuthUnsupportedAlgorithm, "The token's algorithm %s is not supported.", alg)
	}
	return a, nil
}

// checkClaims checks a verified token's claims and returns its expiry.
func (v *TokenVerifier) checkClaims(tok jwt.Token, id string) (time.Time, *AuthError) {
	now := v.cfg.Clock()
	leeway := v.cfg.Leeway
	if iss, _ := tok.Issuer(); iss != id {
		// The payload read before verification named id; the verified
		// one must too (duplicate keys could make them differ).
		return time.Time{}, authErr(AuthMalformedToken, "The token's issuer is ambiguous.")
	}
	sub, ok := tok.Subject()
	if !ok || sub == "" {
		return time.Time{}, authErr(AuthMissingClaim, "The token has no sub (subject) claim: it must be the caller's participant id, as iss is.")
	}
	if sub != id {
		return time.Time{}, authErr(AuthWrongSubject, "The token's subject %q is not its issuer %q: a participant's token is about itself.", sub, id)
	}
	aud, ok := tok.Audience()
	if !ok || len(aud) == 0 {
		return time.Time{}, authErr(AuthMissingClaim, "The token has no aud (audience) claim: it must name this node, %q.", v.cfg.Audience)
	}
	found := false
	for _, a := range aud {
		found = found || a == v.cfg.Audience
	}
	if !found {
		return time.Time{}, authErr(AuthWrongAudience, "The token is for %q, not for this node (%q).", strings.Join(aud, ", "), v.cfg.Audience)
	}
	iat, ok := tok.IssuedAt()
	if !ok {
		return time.Time{}, authErr(AuthMissingClaim, "The token has no iat (issued at) claim.")
	}
	exp, ok := tok.Expiration()
	if !ok {
		return time.Time{}, authErr(AuthMissingClaim, "The token has no exp (expiry) claim.")
	}
	if jti, ok := tok.JwtID(); !ok || jti == "" {
		return time.Time{}, authErr(AuthMissingClaim, "The token has no jti (token id) claim: one is needed so that a token cannot be replayed.")
	} else if len(jti) > maxJTIBytes {
		return time.Time{}, authErr(AuthMalformedToken, "The token's jti is longer than %d bytes.", maxJTIBytes)
	}
	if iat.After(now.Add(leeway)) {
		return time.Time{}, authErr(AuthNotYetValid, "The token was issued in the future (%s, this node's clock says %s): check the clocks.", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if nbf, ok := tok.NotBefore(); ok && nbf.After(now.Add(leeway)) {
		return time.Time{}, authErr(AuthNotYetValid, "The token is not valid before %s (this node's clock says %s).", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !exp.After(iat) {
		return time.Time{}, authErr(AuthMalformedToken, "The token expires (%s) before it was issued (%s).", exp.UTC().Format(time.RFC3339), iat.UTC().Format(time.RFC3339))
	}
	if !now.Before(exp.Add(leeway)) {
		return time.Time{}, authErr(AuthExpired, "The token expired at %s (this node's clock says %s): send a new one.", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if life := exp.Sub(iat); life > v.cfg.MaxLifetime {
		return time.Time{}, authErr(AuthLifetimeTooLong, "The token is valid for %v; this node accepts at most %v between iat and exp.", life, v.cfg.MaxLifetime)
	}
	return exp, nil
}

// replayCache remembers the token IDs seen until their tokens expire. It
// is bounded: when full of unexpired IDs it refuses new tokens rather than
// forget an ID whose token could then be replayed.
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
	byExpiry
}

type replayEntry struct {
	key   string
	until time.Time
}

// byExpiry is a min-heap of entries by expiry, to drop the expired first.
type byExpiry []replayEntry

func (h byExpiry) Len() int           { return len(h) }
func (h byExpiry) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h byExpiry) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byExpiry) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *byExpiry) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]struct{})}
}

func (c *replayCache) admit(key string, until, now time.Time) *AuthError {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.byExpiry.Len() > 0 && !c.byExpiry[0].until.After(now) {
		e := heap.Pop(&c.byExpiry).(replayEntry)
		delete(c.seen, e.key)
	}
	if _, dup := c.seen[key]; dup {
		return authErr(AuthReplayed, "The token was presented before (its jti is already used): send a new token for every request.")
	}
	if len(c.seen) >= c.max {
		return authErr(AuthTooManyTokens, "This node holds too many unexpired tokens to remember another; retry in a moment.")
	}
	c.seen[key] = struct{}{}
	heap.Push(&c.byExpiry, replayEntry{key: key, until: until})
	return nil
}

// DefaultTokenTTL is the lifetime of the tokens Authorization mints: one
// message's round trip with room for clock differences, well under the
// usual 5 minutes verifiers accept.
const DefaultTokenTTL = 2 * time.Minute

// Signer makes this node's bearer tokens for other participants: iss and
// sub are its participant ID, kid the RFC 7638 thumbprint of its public
// key, a fresh random jti each time.
type Signer struct {
	id    string
	key   crypto.Signer
	alg   jwa.SignatureAlgorithm
	kid   string
	pub   jwk.Key
	clock func() time.Time
	err   error // a key that cannot sign, reported by Token
}

// NewSigner signs as participantID with key, the node's Ed25519 private
// key (P-256/P-384 ECDSA and RSA keys are accepted too). A nil clock is
// time.Now.
func NewSigner(participantID string, key crypto.Signer, clock func() time.Time) *Signer {
	if clock == nil {
		clock = time.Now
	}
	s := &Signer{id: participantID, key: key, clock: clock}
	s.err = s.init()
	return s
}

func (s *Signer) init() error {
	if s.id == "" {
		return errors.New("dsp signer: participant id is empty")
	}
	if s.key == nil {
		return errors.New("dsp signer: no key")
	}
	switch pub := s.key.Public().(type) {
	case ed25519.PublicKey:
		s.alg = jwa.EdDSA()
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			s.alg = jwa.ES256()
		case elliptic.P384():
			s.alg = jwa.ES384()
		default:
			return fmt.Errorf("dsp signer: EC curve %s is not P-256 or P-384", pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		s.alg = jwa.PS256()
	default:
		return fmt.Errorf("dsp signer: unsupported key type %T", pub)
	}
	pub, err := jwk.Import(s.key.Public())
	if err != nil {
		return fmt.Errorf("dsp signer: %w", err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("dsp signer: thumbprint: %w", err)
	}
	s.kid = base64.RawURLEncoding.EncodeToString(tp)
	for k, v := range map[string]any{jwk.KeyIDKey: s.kid, jwk.AlgorithmKey: s.alg, jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(k, v); err != nil {
			return fmt.Errorf("dsp signer: %w", err)
		}
	}
	s.pub = pub
	return nil
}

// ParticipantID is who the signer signs as.
func (s *Signer) ParticipantID() string { return s.id }

// KeyID is the kid of the signer's tokens.
func (s *Signer) KeyID() string { return s.kid }

// Token mints a token for audience (the other participant's ID) valid for
// ttl.
func (s *Signer) Token(audience string, ttl time.Duration) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	if audience == "" {
		return "", errors.New("dsp signer: audience is empty")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("dsp signer: ttl %v is not positive", ttl)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := s.clock()
	tok, err := jwt.NewBuilder().
		Issuer(s.id).
		Subject(s.id).
		Audience([]string{audience}).
		IssuedAt(now).
		Expiration(now.Add(ttl)).
		JwtID(hex.EncodeToString(jti[:])).
		Build()
	if err != nil {
		return "", fmt.Errorf("dsp signer: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, s.kid); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(s.alg, s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("dsp signer: sign: %w", err)
	}
	return string(signed), nil
}

// Authorization is an Authorization header value for a message to
// audience: "Bearer " and a fresh token valid for DefaultTokenTTL.
func (s *Signer) Authorization(audience string) (string, error) {
	tok, err := s.Token(audience, DefaultTokenTTL)
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

// PublicJWK is the signer's public key as a JWK (with kid, alg and use),
// what a partner puts in its configuration as this node's public_key.
func (s *Signer) PublicJWK() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	return json.Marshal(s.pub)
}
