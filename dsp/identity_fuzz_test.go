package dsp_test

import (
	"context"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/xborder/xborder/dsp"
)

// FuzzVerify feeds Verify arbitrary Authorization values: it never panics,
// and every refusal is an *AuthError (a 401 with a reason, never a 5xx).
func FuzzVerify(f *testing.F) {
	clock := newIDClock()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "xborder dsp identity fuzz seed..")
	alice := idKey{priv: ed25519.NewKeyFromSeed(seed), alg: jwa.EdDSA()}
	bob := idEC(f, elliptic.P256(), jwa.ES256(), "bob-1")
	jwksPath := filepath.Join(f.TempDir(), "bob.jwks")
	idWriteFile(f, jwksPath, idJWKS(f, bob))
	v := idVerifier(f, clock, nil,
		dsp.ParticipantConfig{ID: idAlice, Country: "DE", PublicKey: alice.pem(f)},
		dsp.ParticipantConfig{ID: idBob, Country: "CH", JWKSFile: jwksPath},
	)

	now := clock.Now()
	good := alice.sign(f, idClaims(idAlice, now))
	for _, s := range []string{
		"",
		"Bearer",
		"Bearer " + good,
		good,
		"Bearer " + bob.sign(f, idClaims(idBob, now)),
		"Basic YWxpY2U6c2VjcmV0",
		"Bearer a.b.c",
		"Bearer ..",
		"Bearer " + idRaw(map[string]any{"alg": "none"}, idClaims(idAlice, now), nil),
		"Bearer " + idRaw(map[string]any{"alg": "EdDSA", "kid": "x", "crit": []string{"b64"}}, idClaims(idAlice, now), []byte("s")),
		"Bearer " + idRaw(map[string]any{"alg": "ES256", "kid": "nope"}, idClaims(idBob, now), []byte("s")),
		"Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":{"x":1}}`)) + ".AA",
		"Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+idAlice+`","exp":"x"}`)) + ".AA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		p, err := v.Verify(context.Background(), authorization)
		if err == nil {
			if p.ID != idAlice && p.ID != idBob {
				t.Fatalf("accepted as %+v", p)
			}
			return
		}
		var ae *dsp.AuthError
		if !errors.As(err, &ae) || ae.Code == "" || ae.Reason == "" {
			t.Fatalf("refusal %T %v is not an *AuthError with a code and a reason", err, err)
		}
	})
}
