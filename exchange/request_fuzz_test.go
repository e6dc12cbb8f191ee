package exchange

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/nodejws"
)

// fuzzNow is the owner's clock in the fuzz tests; the seeds are valid at it.
var fuzzNow = time.Unix(1_800_000_000, 0)

// fuzzIdentity is a deterministic node key and its peer ID.
func fuzzIdentity(tb testing.TB, seed byte) (ed25519.PrivateKey, peer.ID) {
	tb.Helper()
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	pub, err := crypto.UnmarshalEd25519PublicKey(k.Public().(ed25519.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return k, id
}

// fuzzFrame encodes v as a frame.
func fuzzFrame(tb testing.TB, v any) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := frame.Write(&b, 1<<20, v); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// FuzzRequestFrame feeds the owner's decoder of request streams: whatever
// arrives, it is refused with a code, or it is the one request the seed
// signed.
func FuzzRequestFrame(f *testing.F) {
	key, remote := fuzzIdentity(f, 1)
	_, self := fuzzIdentity(f, 2)
	valid := requestClaims{Issuer: remote.String(), Audience: self.String(), ID: "seed-jti",
		IssuedAt: fuzzNow.Unix(), Expires: fuzzNow.Add(time.Minute).Unix(),
		Researcher: testResearcher, Resource: "fr-grandest/air-quality", Purpose: "research", Project: "cardio-x"}
	tok, err := signRequest(key, valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fuzzFrame(f, requestFrame{Token: tok}))
	f.Add(fuzzFrame(f, requestFrame{Token: tok[:len(tok)-3] + "AAA"}))
	f.Add(fuzzFrame(f, requestFrame{Token: "a.b.c"}))
	f.Add(fuzzFrame(f, map[string]any{"token": tok, "extra": 1}))
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr requestFrame
		if err := frame.Read(bytes.NewReader(data), 64<<10, &fr); err != nil {
			return
		}
		c, err := verifyRequestToken(fr.Token, remote, self, fuzzNow)
		if err != nil {
			var r *RefusedError
			if !errors.As(err, &r) || r.Code == "" || r.Reason == "" {
				t.Fatalf("a failure that is not a refusal: %v", err)
			}
			return
		}
		if !reflect.DeepEqual(c, valid) {
			t.Fatalf("accepted claims %+v that nobody signed", c)
		}
	})
}

// FuzzAnswerFrame feeds the requester's decoder of an owner's answer: a
// grant in it is either the seed's or refused as ErrInvalidGrant.
func FuzzAnswerFrame(f *testing.F) {
	ownerKey, ownerID := fuzzIdentity(f, 3)
	_, self := fuzzIdentity(f, 4)
	owner := Member{Name: "fr-grandest", PeerID: ownerID}
	valid := grantClaims{Issuer: ownerID.String(), Audience: self.String(), Subject: "fr-grandest/air-quality", ID: "seed-grant",
		IssuedAt: fuzzNow.Unix(), Expires: fuzzNow.Add(time.Hour).Unix(),
		SHA256: "ab" + string(bytes.Repeat([]byte("0"), 62)), Size: 42, Obligations: []string{"cite"}, Purpose: "research"}
	grant, err := nodejws.Sign(ownerKey, ownerID, grantTokenType, valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fuzzFrame(f, answerFrame{Answer: Answer{Grant: grant, GrantID: "seed-grant"}}))
	f.Add(fuzzFrame(f, answerFrame{Code: RefusalReplay, Reason: "seen"}))
	f.Add(fuzzFrame(f, map[string]any{"decision": map[string]any{"allow": "yes"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr answerFrame
		if err := frame.Read(bytes.NewReader(data), 64<<10, &fr); err != nil || fr.Grant == "" {
			return
		}
		c, err := checkGrantHeld(fr.Grant, owner, "air-quality", self, fuzzNow)
		if err != nil {
			if !errors.Is(err, ErrInvalidGrant) {
				t.Fatalf("a failure that is not ErrInvalidGrant: %v", err)
			}
			return
		}
		if !reflect.DeepEqual(c, valid) {
			t.Fatalf("accepted a grant %+v that the owner never signed", c)
		}
	})
}
