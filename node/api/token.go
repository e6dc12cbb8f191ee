package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/xborder/xborder/policy"
)

// Roles a local user can hold. What each may do is decided per route.
const (
	RoleOperator   = "operator"
	RoleResearcher = "researcher"
	RoleLegal      = "legal"
	RoleAuditor    = "auditor"
)

// Roles lists every valid role.
var Roles = []string{RoleOperator, RoleResearcher, RoleLegal, RoleAuditor}

// MaxTokenTTL bounds the lifetime of a token.
const MaxTokenTTL = 2 * 365 * 24 * time.Hour

// clockSkew is tolerated between the issuer's and the verifier's clocks.
const clockSkew = 30 * time.Second

// User is the authenticated caller of the API.
type User struct {
	Subject string    `json:"sub"`
	Role    string    `json:"role"`
	Org     string    `json:"org,omitempty"`
	Expires time.Time `json:"exp"`
	// Identity is who an identity provider says the user is (an issuer's
	// access token or an OpenID Connect console session); nil for
	// node-signed tokens and one-time codes.
	Identity *policy.APIIdentity `json:"identity,omitempty"`
}

// ErrUnauthenticated is wrapped by every token verification failure.
var ErrUnauthenticated = errors.New("unauthenticated")

// IssueToken mints a bearer token for this node's API. nodeID is the
// node's peer ID: the token's issuer and audience.
func IssueToken(key ed25519.PrivateKey, nodeID string, u User, ttl time.Duration, now time.Time) (string, error) {
	if u.Subject == "" {
		return "", errors.New("token subject is empty")
	}
	if !slices.Contains(Roles, u.Role) {
		return "", fmt.Errorf("role %q is not one of %v", u.Role, Roles)
	}
	if ttl <= 0 || ttl > MaxTokenTTL {
		return "", fmt.Errorf("token ttl %v must be positive and at most %v", ttl, MaxTokenTTL)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", err
	}
	b := jwt.NewBuilder().
		Issuer(nodeID).
		Audience([]string{nodeID}).
		Subject(u.Subject).
		IssuedAt(now).
		Expiration(now.Add(ttl)).
		JwtID(hex.EncodeToString(nonce[:])).
		Claim("role", u.Role)
	if u.Org != "" {
		b = b.Claim("org", u.Org)
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("build token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA(), key))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return string(signed), nil
}

// Verifier checks bearer tokens issued by one node.
type Verifier struct {
	Key    ed25519.PublicKey
	NodeID string
	Now    func() time.Time
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// Verify returns the user a token names, or an error wrapping
// ErrUnauthenticated that says what is wrong with it.
func (v *Verifier) Verify(token string) (User, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKey(jwa.EdDSA(), v.Key),
		jwt.WithValidate(true),
		jwt.WithClock(clockFunc(now)),
		jwt.WithAcceptableSkew(clockSkew),
		jwt.WithIssuer(v.NodeID),
		jwt.WithAudience(v.NodeID),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("sub"),
		jwt.WithRequiredClaim("role"),
	)
	if err != nil {
		return User{}, fmt.Errorf("%w: %s", ErrUnauthenticated, describeTokenError(err))
	}
	var u User
	u.Subject, _ = tok.Subject()
	u.Expires, _ = tok.Expiration()
	if err := tok.Get("role", &u.Role); err != nil || !slices.Contains(Roles, u.Role) {
		return User{}, fmt.Errorf("%w: the token's role is not one of %v", ErrUnauthenticated, Roles)
	}
	_ = tok.Get("org", &u.Org) // optional
	return u, nil
}

// describeTokenError turns a jwx error into words for the caller.
func describeTokenError(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "the token has expired; issue a new one with `xborder token issue`"
	case errors.Is(err, jwt.InvalidIssuedAtError()), errors.Is(err, jwt.TokenNotYetValidError()):
		return "the token is not valid yet (check the clocks)"
	case errors.Is(err, jwt.InvalidAudienceError()), errors.Is(err, jwt.InvalidIssuerError()):
		return "the token was issued for another node"
	default:
		return "the token is malformed or its signature does not verify: " + err.Error()
	}
}
