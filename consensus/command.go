package consensus

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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

// A signed command is a JWS in compact serialization (RFC 7515):
// header.payload.signature, each part base64url without padding, signed
// with EdDSA (RFC 8037) over "header.payload". edDSAHeader is the
// protected header {"alg":"EdDSA"}, the one SignCommand writes (and the
// one lestrrat-go/jwx writes for an Ed25519 key).
const edDSAHeader = "eyJhbGciOiJFZERTQSJ9"

var b64 = base64.RawURLEncoding.Strict()

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
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sign command: the key is %d bytes, not an Ed25519 private key", len(key))
	}
	n := len(edDSAHeader) + 1 + b64.EncodedLen(len(payload))
	signed := make([]byte, n+1+b64.EncodedLen(ed25519.SignatureSize))
	copy(signed, edDSAHeader)
	signed[len(edDSAHeader)] = '.'
	b64.Encode(signed[len(edDSAHeader)+1:n], payload)
	signed[n] = '.'
	b64.Encode(signed[n+1:], ed25519.Sign(key, signed[:n]))
	if len(signed) > maxCommandBytes {
		return nil, fmt.Errorf("%w: command %s is %d bytes, over the %d-byte limit", ErrCommandTooLarge, op, len(signed), maxCommandBytes)
	}
	return signed, nil
}

// ErrCommandTooLarge is wrapped when a command's arguments make it larger
// than one registry command may be; the caller sends less.
var ErrCommandTooLarge = errors.New("the command is too large")

// ErrBadSignature is wrapped when a command's signature does not verify
// against the key of the member it names.
var ErrBadSignature = errors.New("the signature does not verify against the member's key")

// signedCommand is a decoded, not yet verified command.
type signedCommand struct {
	Command
	input []byte // header.payload: what the signature covers
	sig   []byte
}

// parseCommand decodes a signed command without trusting it: it returns
// the claimed payload, to be verified with verify.
func parseCommand(signed []byte) (signedCommand, error) {
	if len(signed) > maxCommandBytes {
		return signedCommand{}, fmt.Errorf("command of %d bytes exceeds %d", len(signed), maxCommandBytes)
	}
	header, rest, ok1 := bytes.Cut(signed, []byte{'.'})
	payload64, sig64, ok2 := bytes.Cut(rest, []byte{'.'})
	if !ok1 || !ok2 || bytes.IndexByte(sig64, '.') >= 0 {
		return signedCommand{}, errors.New("not a signed command: not a compact JWS (header.payload.signature)")
	}
	if err := checkHeader(header); err != nil {
		return signedCommand{}, fmt.Errorf("not a signed command: %w", err)
	}
	sig := make([]byte, ed25519.SignatureSize)
	if b64.DecodedLen(len(sig64)) != ed25519.SignatureSize {
		return signedCommand{}, errors.New("not a signed command: the signature is not 64 bytes")
	}
	if _, err := b64.Decode(sig, sig64); err != nil {
		return signedCommand{}, fmt.Errorf("not a signed command: signature: %w", err)
	}
	payload := make([]byte, b64.DecodedLen(len(payload64)))
	if _, err := b64.Decode(payload, payload64); err != nil {
		return signedCommand{}, fmt.Errorf("not a signed command: payload: %w", err)
	}
	s := signedCommand{input: signed[:len(header)+1+len(payload64)], sig: sig}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.Command); err != nil {
		return signedCommand{}, fmt.Errorf("malformed command: %w", err)
	}
	return s, nil
}

// checkHeader accepts a protected header whose algorithm is EdDSA and that
// asks for nothing this verifier does not do: no critical extensions, no
// unencoded payload (RFC 7797).
func checkHeader(h []byte) error {
	if string(h) == edDSAHeader {
		return nil
	}
	raw := make([]byte, b64.DecodedLen(len(h)))
	n, err := b64.Decode(raw, h)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw[:n], &fields); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var alg string
	if err := json.Unmarshal(fields["alg"], &alg); err != nil || alg != "EdDSA" {
		return fmt.Errorf("header algorithm %s is not EdDSA", fields["alg"])
	}
	for _, k := range []string{"crit", "b64"} {
		if _, ok := fields[k]; ok {
			return fmt.Errorf("header parameter %q is not supported", k)
		}
	}
	return nil
}

// verify checks the signature against the public key embedded in the peer
// ID the command names.
func (s *signedCommand) verify() error {
	pub, err := peerKeys.get(s.By)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, s.input, s.sig) {
		return ErrBadSignature
	}
	return nil
}

// peerKeys caches the Ed25519 keys extracted from peer IDs: a pure
// function of the ID, looked up for every command on every replica.
var peerKeys = keyCache{m: map[string]keyOrErr{}}

const maxCachedKeys = 4096

type keyOrErr struct {
	pub ed25519.PublicKey
	err error
}

type keyCache struct {
	mu sync.RWMutex
	m  map[string]keyOrErr
}

func (c *keyCache) get(by string) (ed25519.PublicKey, error) {
	c.mu.RLock()
	k, ok := c.m[by]
	c.mu.RUnlock()
	if ok {
		return k.pub, k.err
	}
	k.pub, k.err = peerKey(by)
	c.mu.Lock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[by] = k
	c.mu.Unlock()
	return k.pub, k.err
}

func peerKey(by string) (ed25519.PublicKey, error) {
	pid, err := peer.Decode(by)
	if err != nil {
		return nil, fmt.Errorf("signer %q is not a peer ID", by)
	}
	pub, err := pid.ExtractPublicKey()
	if err != nil || pub.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("signer %s has no Ed25519 key", by)
	}
	raw, err := pub.Raw()
	if err != nil {
		return nil, err
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("signer %s has no Ed25519 key", by)
	}
	return ed25519.PublicKey(raw), nil
}
