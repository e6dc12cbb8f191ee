package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// RefetchInterval bounds how often a token naming a key the node does not
// hold makes it fetch the issuer's JWKS again.
const RefetchInterval = 30 * time.Second

// retryFailedFetch is how soon a fetch that failed may be tried again.
const retryFailedFetch = 5 * time.Second

// errKeyRefetchLimited is what a token naming a key the node does not
// hold gets while the last fetch is recent. Its text starts as go-oidc's
// signature failures do, so classify names it ErrUnknownKey.
var errKeyRefetchLimited = errors.New("failed to verify signature: the token names a key the issuer did not publish when last asked, less than 30 s ago")

// keySet is the issuer's JWKS, cached. A token is verified against the
// cached keys; only a token whose key id is not among them makes the node
// fetch the JWKS again (the issuer rotated its keys), and at most once per
// RefetchInterval: a flood of tokens naming made-up keys is not a flood of
// requests to the issuer, and a token naming a known key with a bad
// signature fetches nothing. Whoever triggers a fetch, every token after
// it is verified against the keys it brought.
type keySet struct {
	url      string
	client   *http.Client
	now      func() time.Time
	algs     []jose.SignatureAlgorithm
	interval time.Duration

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	nextTry time.Time // no fetch before then (zero: fetch at once)
	fetch   sync.Mutex
}

func newKeySet(url string, client *http.Client, now func() time.Time, algs []string) *keySet {
	k := &keySet{url: url, client: client, now: now, interval: RefetchInterval}
	for _, a := range algs {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// VerifySignature is go-oidc's KeySet: the payload of a JWS one of the
// issuer's keys signed.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("malformed jwt: multiple signatures")
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.Lock()
	keys := k.keys
	k.mu.Unlock()
	if payload, held, ok := verifyWith(jws, keys, kid); ok {
		return payload, nil
	} else if held {
		// The issuer's key of that id does not verify it: forged, and no
		// reason to ask the issuer again.
		return nil, errors.New("failed to verify signature: the issuer's key does not verify the token")
	}
	keys, err = k.refetch(ctx)
	if err != nil {
		return nil, err
	}
	if payload, _, ok := verifyWith(jws, keys, kid); ok {
		return payload, nil
	}
	return nil, errors.New("failed to verify signature: no key the issuer publishes verifies the token")
}

// verifyWith tries the keys of id kid (every key when kid is empty); held
// says whether there was any such key.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) (payload []byte, held, ok bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		held = true
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, true, true
		}
	}
	return nil, held, false
}

// refetch fetches the JWKS again if the interval allows, one fetch at a
// time, and returns the keys held afterwards.
func (k *keySet) refetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.fetch.Lock()
	defer k.fetch.Unlock()
	k.mu.Lock()
	now := k.now()
	if now.Before(k.nextTry) {
		k.mu.Unlock()
		return nil, errKeyRefetchLimited
	}
	k.nextTry = now.Add(k.interval)
	k.mu.Unlock()

	keys, err := k.get(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		k.nextTry = now.Add(retryFailedFetch)
		return nil, fmt.Errorf("failed to verify signature: fetching the issuer's keys: %w", err)
	}
	k.keys = keys
	return keys, nil
}

// get fetches the JWKS (at most 1 MiB) and keeps its signing keys.
func (k *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", k.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("%s: %w", k.url, err)
	}
	var out []jose.JSONWebKey
	for _, key := range set.Keys {
		if (key.Use == "" || key.Use == "sig") && key.IsPublic() {
			out = append(out, key)
		}
	}
	return out, nil
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
