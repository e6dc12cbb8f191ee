package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A flood of tokens naming made-up keys, or a known key with a bad
// signature, does not become a flood of JWKS requests; a key the issuer
// rotates in is used as soon as any fetch has brought it, whoever caused
// that fetch.
func TestKeySetBoundsRefetches(t *testing.T) {
	newKey := func(kid string) (*rsa.PrivateKey, jose.JSONWebKey) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}
	}
	sign := func(k *rsa.PrivateKey, kid string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(`{"sub":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := jws.CompactSerialize()
		return out
	}
	oldPriv, oldPub := newKey("old")
	newPriv, newPub := newKey("new")
	forger, _ := newKey("forger")

	var fetches atomic.Int64
	var mu sync.Mutex
	published := []jose.JSONWebKey{oldPub}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: published})
	}))
	t.Cleanup(srv.Close)
	var cmu sync.Mutex
	now := time.Now()
	clock := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return now }
	advance := func(d time.Duration) { cmu.Lock(); defer cmu.Unlock(); now = now.Add(d) }
	ks := newKeySet(srv.URL, srv.Client(), clock, []string{"RS256"})
	ctx := context.Background()

	if _, err := ks.VerifySignature(ctx, sign(oldPriv, "old")); err != nil || fetches.Load() != 1 {
		t.Fatalf("first token: %v, %d fetches", err, fetches.Load())
	}
	// A known key id with a forged signature, and made-up key ids: no fetch.
	for i := range 50 {
		if _, err := ks.VerifySignature(ctx, sign(forger, "old")); err == nil {
			t.Fatal("a forged signature under a known key id verified")
		}
		if _, err := ks.VerifySignature(ctx, sign(forger, "made-up-"+string(rune('a'+i%26)))); !errors.Is(err, errKeyRefetchLimited) {
			t.Fatalf("a made-up key id within the interval: %v", err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after the flood, want 1", n)
	}
	// The issuer rotates; after the interval a forger's token happens to
	// cause the fetch: the next real token is verified from its result.
	mu.Lock()
	published = []jose.JSONWebKey{newPub}
	mu.Unlock()
	advance(RefetchInterval)
	if _, err := ks.VerifySignature(ctx, sign(forger, "made-up")); err == nil || !strings.HasPrefix(err.Error(), "failed to verify signature") {
		t.Fatalf("the forger's token: %v", err)
	}
	if _, err := ks.VerifySignature(ctx, sign(newPriv, "new")); err != nil {
		t.Fatalf("the rotated-in key after a fetch the forger caused: %v", err)
	}
	if _, err := ks.VerifySignature(ctx, sign(oldPriv, "old")); err == nil {
		t.Fatal("the retired key still verifies")
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}
