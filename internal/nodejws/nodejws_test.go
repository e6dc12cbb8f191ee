package nodejws

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newKey(t *testing.T) (ed25519.PrivateKey, peer.ID) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := crypto.UnmarshalEd25519PublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

type claims struct {
	Say string `json:"say"`
}

func TestATokenOpensOnlyForItsSignerAndType(t *testing.T) {
	key, id := newKey(t)
	_, other := newKey(t)
	tok, err := Sign(key, id, "a+jwt", claims{Say: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	var got claims
	if err := Open(tok, id, "a+jwt", &got); err != nil || got.Say != "hello" {
		t.Fatalf("own token: %v %+v", err, got)
	}
	if err := Open(tok, other, "a+jwt", &got); err == nil {
		t.Fatal("a token opened against another peer's key")
	}
	if err := Open(tok, id, "b+jwt", &got); err == nil {
		t.Fatal("a token opened as another type")
	}
	var strict struct{}
	if err := Open(tok, id, "a+jwt", &strict); err == nil {
		t.Fatal("claims with an unknown field were accepted")
	}
	// Flip one bit inside the decoded signature: rewriting the last base64
	// characters can leave the bytes as they were (the final character
	// carries padding bits).
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	if err := Open(tok[:dot+1]+base64.RawURLEncoding.EncodeToString(sig), id, "a+jwt", &got); err == nil {
		t.Fatal("a token with a changed signature opened")
	}
}
