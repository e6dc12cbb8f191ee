package consensus

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// The commands SignCommand writes are standard EdDSA JWS that jwx
// verifies, and the FSM accepts the commands jwx signs.
func TestCommandsAreStandardEdDSAJWS(t *testing.T) {
	k, id := newKey(t)
	signed, err := SignCommand(k, id, OpProjectJoin, ProjectRef{ID: "p1"}, 42)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(signed, jws.WithKey(jwa.EdDSA(), k.Public()))
	if err != nil {
		t.Fatalf("jwx does not verify a signed command: %v", err)
	}
	var c Command
	if err := json.Unmarshal(payload, &c); err != nil || c.Op != OpProjectJoin || c.By != id.String() || c.TS != 42 {
		t.Fatalf("payload %s: %+v %v", payload, c, err)
	}

	bySigner, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA(), k))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := parseCommand(bySigner)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.verify(); err != nil {
		t.Fatalf("a jwx-signed command does not verify: %v", err)
	}
	if sc.Command.Nonce != c.Nonce || !bytes.Equal(sc.Args, c.Args) {
		t.Fatalf("decoded %+v, want %+v", sc.Command, c)
	}

	// Another protected header is accepted as long as it says EdDSA.
	withTyp := jws.NewHeaders()
	_ = withTyp.Set("typ", "xborder-command")
	typed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA(), k, jws.WithProtectedHeaders(withTyp)))
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := parseCommand(typed); err != nil || sc.verify() != nil {
		t.Fatalf("a command with a typ header: %v", err)
	}
}

func TestCommandsThatDoNotVerify(t *testing.T) {
	k, id := newKey(t)
	other, _ := newKey(t)
	signed, err := SignCommand(k, id, OpProjectJoin, ProjectRef{ID: "p1"}, 42)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(signed), ".")
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	payload, _ := b64.DecodeString(parts[1])
	sigBy := func(key ed25519.PrivateKey, header, payload string) string {
		in := header + "." + payload
		return in + "." + b64.EncodeToString(ed25519.Sign(key, []byte(in)))
	}
	tampered := bytes.Replace(payload, []byte(`"p1"`), []byte(`"p2"`), 1)

	for _, tc := range []struct {
		name, signed, want string
	}{
		{"another key", sigBy(other, parts[0], parts[1]), "signature does not verify"},
		{"tampered payload", parts[0] + "." + b64.EncodeToString(tampered) + "." + parts[2], "signature does not verify"},
		{"alg none", enc(`{"alg":"none"}`) + "." + parts[1] + ".", "not a signed command"},
		{"alg HS256", sigBy(k, enc(`{"alg":"HS256"}`), parts[1]), "not EdDSA"},
		{"unencoded payload", sigBy(k, enc(`{"alg":"EdDSA","b64":false,"crit":["b64"]}`), parts[1]), "not supported"},
		{"padded signature", string(signed) + "==", "not a signed command"},
		{"four parts", string(signed) + ".x", "not a compact JWS"},
		{"JSON serialization", `{"payload":"` + parts[1] + `"}`, "not a compact JWS"},
		{"not a peer ID", sigBy(k, parts[0], enc(strings.Replace(string(payload), id.String(), "m0", 1))), "not a peer ID"},
	} {
		sc, err := parseCommand([]byte(tc.signed))
		if err == nil {
			err = sc.verify()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
		if tc.want == "signature does not verify" && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v is not ErrBadSignature", tc.name, err)
		}
	}
}
