package console

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console/sessionstore"
)

// CodeTTL is how long a sign-in code printed by `xborder console` stays
// valid: long enough to click, short enough not to matter once copied.
const CodeTTL = 5 * time.Minute

// DefaultSessionTTL is how long a console session lasts after sign-in,
// unless the code asks otherwise; the session store's lifetime caps it,
// and its idle timeout may end it sooner.
const DefaultSessionTTL = 8 * time.Hour

// maxSessionTTL bounds what a sign-in code may ask for.
const maxSessionTTL = 7 * 24 * time.Hour

// codeAudience makes a sign-in code unusable as an API bearer token: the
// API's verifier wants the node's peer ID as audience.
func codeAudience(nodeID string) string { return nodeID + "/console" }

// codeType is the "typ" claim of a sign-in code.
const codeType = "xborder-console-signin"

// ErrBadCode is wrapped by every sign-in code failure.
var ErrBadCode = errors.New("sign-in code refused")

// IssueSignInCode mints a one-time sign-in code for the node's console,
// signed with the node's key. The running node exchanges it once, within
// CodeTTL, for a session of sessionTTL (0: DefaultSessionTTL).
func IssueSignInCode(key ed25519.PrivateKey, nodeID string, u api.User, sessionTTL time.Duration, now time.Time) (string, error) {
	if u.Subject == "" {
		return "", errors.New("the sign-in code's subject is empty")
	}
	if !slices.Contains(api.Roles, u.Role) {
		return "", fmt.Errorf("role %q is not one of %v", u.Role, api.Roles)
	}
	if sessionTTL == 0 {
		sessionTTL = DefaultSessionTTL
	}
	if sessionTTL < time.Minute || sessionTTL > maxSessionTTL {
		return "", fmt.Errorf("session ttl %v must be between 1m and %v", sessionTTL, maxSessionTTL)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", err
	}
	b := jwt.NewBuilder().
		Issuer(nodeID).
		Audience([]string{codeAudience(nodeID)}).
		Subject(u.Subject).
		IssuedAt(now).
		Expiration(now.Add(CodeTTL)).
		JwtID(hex.EncodeToString(nonce[:])).
		Claim("typ", codeType).
		Claim("role", u.Role).
		Claim("session_s", int64(sessionTTL/time.Second))
	if u.Org != "" {
		b = b.Claim("org", u.Org)
	}
	tok, err := b.Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA(), key))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// session is one signed-in browser: the token its cookie carries and the
// session the store keeps for it.
type session struct {
	id      string // the cookie's token (never stored: the store keeps its hash)
	user    api.User
	csrf    string
	expires time.Time
	stored  sessionstore.Session
}

// csrfOf is a session's CSRF token, derived from its cookie's token so
// that the store holds no secret: a page's forms carry it, a forged form
// from another site cannot know it.
func csrfOf(token string) string {
	h := sha256.Sum256([]byte("xborder console csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// codes verifies sign-in codes and remembers those already used, in
// memory. Codes minted before the node started are refused, so a code
// used before a restart cannot be used again after it.
type codes struct {
	key     ed25519.PublicKey
	nodeID  string
	now     func() time.Time
	started time.Time

	mu    sync.Mutex
	used  map[string]time.Time // jti -> expiry of the code
	limit int
}

func newCodes(key ed25519.PublicKey, nodeID string, now func() time.Time) *codes {
	return &codes{key: key, nodeID: nodeID, now: now, started: now().Truncate(time.Second),
		used: map[string]time.Time{}, limit: 10000}
}

// exchange verifies a sign-in code and, the first time only, returns the
// user it names and the session length it asks for.
func (s *codes) exchange(code string) (api.User, time.Duration, error) {
	var u api.User
	now := s.now()
	tok, err := jwt.Parse([]byte(code),
		jwt.WithKey(jwa.EdDSA(), s.key),
		jwt.WithValidate(true),
		jwt.WithClock(clockFunc(s.now)),
		jwt.WithAcceptableSkew(30*time.Second),
		jwt.WithIssuer(s.nodeID),
		jwt.WithAudience(codeAudience(s.nodeID)),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("jti"),
		jwt.WithRequiredClaim("sub"),
		jwt.WithRequiredClaim("role"),
	)
	if err != nil {
		if errors.Is(err, jwt.TokenExpiredError()) {
			return u, 0, fmt.Errorf("%w: it has expired (codes last %v); run `xborder console` again", ErrBadCode, CodeTTL)
		}
		return u, 0, fmt.Errorf("%w: it was not issued for this node's console or is malformed", ErrBadCode)
	}
	var typ string
	if err := tok.Get("typ", &typ); err != nil || typ != codeType {
		return u, 0, fmt.Errorf("%w: it is not a console sign-in code", ErrBadCode)
	}
	u.Subject, _ = tok.Subject()
	if err := tok.Get("role", &u.Role); err != nil || !slices.Contains(api.Roles, u.Role) {
		return api.User{}, 0, fmt.Errorf("%w: its role is not one of %v", ErrBadCode, api.Roles)
	}
	_ = tok.Get("org", &u.Org)
	ttl := DefaultSessionTTL
	var secs float64
	if err := tok.Get("session_s", &secs); err == nil && secs > 0 {
		ttl = min(time.Duration(secs)*time.Second, maxSessionTTL)
	}
	jti, _ := tok.JwtID()
	exp, _ := tok.Expiration()
	if iat, ok := tok.IssuedAt(); !ok || iat.Before(s.started) {
		return api.User{}, 0, fmt.Errorf("%w: it was minted before this node started; run `xborder console` again", ErrBadCode)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for j, e := range s.used {
		if now.After(e) {
			delete(s.used, j)
		}
	}
	if _, seen := s.used[jti]; seen {
		return api.User{}, 0, fmt.Errorf("%w: it was already used; run `xborder console` for a new one", ErrBadCode)
	}
	if len(s.used) >= s.limit {
		return api.User{}, 0, fmt.Errorf("%w: too many sign-ins at once; try again in a few minutes", ErrBadCode)
	}
	s.used[jti] = exp.Add(time.Minute)
	return u, ttl, nil
}

// sameToken compares two secrets in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
