package consensus

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Command is one change to the registry, signed by the member that
// submits it.
type Command struct {
	Op    string          `json:"op"`
	Args  json.RawMessage `json:"args"`
	By    string          `json:"by"`    // the submitter's peer ID
	Nonce string          `json:"nonce"` // refuses replays
	TS    int64           `json:"ts"`    // the submitter's clock, Unix milliseconds
}

// maxCommandBytes bounds one signed command.
const maxCommandBytes = 256 << 10

// SignCommand signs a command with the member's key; the result is a JWS
// in compact serialization, the unit raft replicates.
func SignCommand(key ed25519.PrivateKey, by peer.ID, op string, args any, ts int64) ([]byte, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode %s arguments: %w", op, err)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(Command{Op: op, Args: raw, By: by.String(), Nonce: hex.EncodeToString(nonce[:]), TS: ts})
	if err != nil {
		return nil, err
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA(), key))
	if err != nil {
		return nil, fmt.Errorf("sign command: %w", err)
	}
	if len(signed) > maxCommandBytes {
		return nil, fmt.Errorf("command %s is %d bytes, over the %d-byte limit", op, len(signed), maxCommandBytes)
	}
	return signed, nil
}

// ErrBadSignature is wrapped when a command's signature does not verify
// against the key of the member it names.
var ErrBadSignature = errors.New("the signature does not verify against the member's key")

// parseCommand decodes a signed command without trusting it: it returns
// the claimed payload, to be verified with verifyCommand.
func parseCommand(signed []byte) (Command, error) {
	if len(signed) > maxCommandBytes {
		return Command{}, fmt.Errorf("command of %d bytes exceeds %d", len(signed), maxCommandBytes)
	}
	msg, err := jws.Parse(signed, jws.WithCompact())
	if err != nil {
		return Command{}, fmt.Errorf("not a signed command: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(msg.Payload()))
	dec.DisallowUnknownFields()
	var c Command
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("malformed command: %w", err)
	}
	return c, nil
}

// verifyCommand checks the signature against the public key embedded in
// the peer ID named by the command.
func verifyCommand(signed []byte, by string) error {
	pid, err := peer.Decode(by)
	if err != nil {
		return fmt.Errorf("signer %q is not a peer ID", by)
	}
	pub, err := pid.ExtractPublicKey()
	if err != nil || pub.Type() != crypto.Ed25519 {
		return fmt.Errorf("signer %s has no Ed25519 key", by)
	}
	raw, err := pub.Raw()
	if err != nil {
		return err
	}
	if _, err := jws.Verify(signed, jws.WithKey(jwa.EdDSA(), ed25519.PublicKey(raw))); err != nil {
		return fmt.Errorf("%w (%v)", ErrBadSignature, err)
	}
	return nil
}
