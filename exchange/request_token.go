package exchange

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
)

// Request and grant tokens are JWTs (compact JWS, EdDSA) whose claims are
// decoded into fixed structs rather than through jwt.Token: the claims we
// accept are exactly the ones we read, and no process-wide registration of
// custom claim types is needed. Each kind carries its own "typ" header so
// that a grant can never be presented as a request or the reverse.
const (
	requestTokenType = "xborder-request+jwt"
	grantTokenType   = "xborder-grant+jwt"
)

// requestClockSkew is tolerated between the requester's and the owner's
// clocks when checking iat and exp.
const requestClockSkew = 30 * time.Second

// maxRequestLifetime bounds exp-iat of a request: the owner keeps every
// jti until its request expires, so a requester must not be able to make
// it keep one for long.
const maxRequestLifetime = 10 * time.Minute

// maxTokenID bounds a jti, which the owner stores.
const maxTokenID = 128

// requestClaims are the claims of a request JWT, signed by the requesting
// node on behalf of its researcher.
type requestClaims struct {
	Issuer     string            `json:"iss"` // the requester's peer ID
	Audience   string            `json:"aud"` // the owner's peer ID
	ID         string            `json:"jti"` // nonce
	IssuedAt   int64             `json:"iat"`
	Expires    int64             `json:"exp"`
	Researcher policy.Researcher `json:"researcher"`
	Resource   string            `json:"resource"` // owner/id
	Purpose    string            `json:"purpose"`
	Project    string            `json:"project,omitempty"`
}

// newTokenID returns a random jti.
func newTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// signRequest builds and signs a request JWT.
func signRequest(key ed25519.PrivateKey, c requestClaims) (string, error) {
	from, err := peer.Decode(c.Issuer)
	if err != nil {
		return "", fmt.Errorf("request issuer: %w", err)
	}
	return nodejws.Sign(key, from, requestTokenType, c)
}

// verifyRequestToken checks a request JWT as the owner receives it on a
// stream from remote: signed by remote's key, issued by remote, addressed
// to self, within its validity (with skew) and of a bounded lifetime.
// The replay check is the caller's (it needs the store). Every failure is
// a *RefusedError.
func verifyRequestToken(token string, remote, self peer.ID, now time.Time) (requestClaims, error) {
	var c requestClaims
	if err := nodejws.Open(token, remote, requestTokenType, &c); err != nil {
		return requestClaims{}, refusef(RefusalBadToken, "request not signed by the sending peer %s: %v", remote, err)
	}
	switch {
	case c.Issuer != remote.String():
		return requestClaims{}, refusef(RefusalBadToken, "request issued by %q, not by the sending peer %s", c.Issuer, remote)
	case c.Audience != self.String():
		return requestClaims{}, refusef(RefusalBadToken, "request addressed to %q, not to this node", c.Audience)
	case c.ID == "" || len(c.ID) > maxTokenID:
		return requestClaims{}, refusef(RefusalBadToken, "request jti missing or longer than %d bytes", maxTokenID)
	case c.IssuedAt <= 0 || c.Expires <= c.IssuedAt:
		return requestClaims{}, refusef(RefusalBadToken, "request iat/exp missing or inconsistent")
	case time.Duration(c.Expires-c.IssuedAt)*time.Second > maxRequestLifetime:
		return requestClaims{}, refusef(RefusalBadToken, "request valid for %ds, more than the %v allowed", c.Expires-c.IssuedAt, maxRequestLifetime)
	case now.After(time.Unix(c.Expires, 0).Add(requestClockSkew)):
		return requestClaims{}, refusef(RefusalExpired, "request expired at %s", time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	case time.Unix(c.IssuedAt, 0).After(now.Add(requestClockSkew)):
		return requestClaims{}, refusef(RefusalExpired, "request issued in the future (%s); check the clocks", time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339))
	case c.Resource == "":
		return requestClaims{}, refusef(RefusalBadToken, "request names no resource")
	case c.Researcher.Sub == "":
		return requestClaims{}, refusef(RefusalBadToken, "request names no researcher")
	}
	return c, nil
}

// nonceExpiry is how long the owner must remember a request's jti: until
// the request would be refused as expired anyway.
func (c requestClaims) nonceExpiry() time.Time {
	return time.Unix(c.Expires, 0).Add(requestClockSkew)
}
