package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// RefetchInterval bounds how often a token naming a key the node does not
// know makes it fetch the issuer's JWKS again.
const RefetchInterval = 30 * time.Second

// errKeyRefetchLimited is what a token naming an unknown key gets while
// the last refetch is recent. Its text starts as go-oidc's signature
// failures do, so classify names it ErrUnknownKey.
var errKeyRefetchLimited = errors.New("failed to verify signature: the token names a key the issuer did not publish when last asked, less than 30 s ago")

// limitedKeySet is the issuer's JWKS (go-oidc's RemoteKeySet, which
// fetches it again for a key id it does not hold) with those refetches
// bounded: a flood of tokens naming made-up keys is not a flood of
// requests to the issuer. A key the issuer rotates in is fetched at the
// first token that names it, unless a refetch happened in the last
// interval; it is then accepted after the interval.
type limitedKeySet struct {
	remote   gooidc.KeySet
	now      func() time.Time
	interval time.Duration

	mu        sync.Mutex
	known     map[string]bool // key ids that verified a token
	lastFetch time.Time
}

func newLimitedKeySet(remote gooidc.KeySet, now func() time.Time) *limitedKeySet {
	return &limitedKeySet{remote: remote, now: now, interval: RefetchInterval, known: map[string]bool{}}
}

func (k *limitedKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	kid := headerKeyID(jwt)
	k.mu.Lock()
	if !k.known[kid] {
		if now := k.now(); !k.lastFetch.IsZero() && now.Sub(k.lastFetch) < k.interval {
			k.mu.Unlock()
			return nil, errKeyRefetchLimited
		} else {
			// Counted before the fetch: concurrent tokens with unknown
			// keys do not each fetch.
			k.lastFetch = now
		}
	}
	k.mu.Unlock()
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err == nil {
		k.mu.Lock()
		k.known[kid] = true
		k.mu.Unlock()
	}
	return payload, err
}

// headerKeyID is a JWS's "kid" ("" when it has none or is malformed; the
// verification then refuses it).
func headerKeyID(jwt string) string {
	head, _, ok := strings.Cut(jwt, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Kid
}

// signingAlgs are the algorithms a token may be signed with: those the
// issuer's discovery names that go-oidc verifies (never "none" or HMAC).
func signingAlgs(discovered []string) []string {
	ok := map[string]bool{gooidc.RS256: true, gooidc.RS384: true, gooidc.RS512: true, gooidc.ES256: true,
		gooidc.ES384: true, gooidc.ES512: true, gooidc.PS256: true, gooidc.PS384: true, gooidc.PS512: true, gooidc.EdDSA: true}
	var out []string
	for _, a := range discovered {
		if ok[a] {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []string{gooidc.RS256} // OpenID Connect Discovery's default
	}
	return out
}
