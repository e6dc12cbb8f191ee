// Package nodejws signs and opens the compact JWS tokens that members
// exchange over libp2p: signed with the node's Ed25519 key, whose libp2p
// peer ID is its key ID, and verified against the key embedded in the
// sending peer's ID, never against a key the token names. Each kind of
// token has its own "typ", so one can never be presented as another.
package nodejws

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/frame"
)

// TypeAnalysisContribution is the "typ" of the contribution an owner
// signs in a federated analysis: the analysis service signs and checks
// it, and the registry verifies it again when an evaluation is committed.
const TypeAnalysisContribution = "xborder-analysis-contribution+jws"

// Sign signs claims (as JSON) as a compact JWS of type typ with the node
// key; kid is the node's peer ID.
func Sign(key ed25519.PrivateKey, kid peer.ID, typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.KeyIDKey, kid.String()); err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", typ, err)
	}
	return string(signed), nil
}

// PeerKey extracts the Ed25519 public key embedded in a peer ID.
func PeerKey(p peer.ID) (ed25519.PublicKey, error) {
	pub, err := p.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("peer %s: no embedded public key: %w", p, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("peer %s: not an Ed25519 key", p)
	}
	raw, err := pub.Raw()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// Open verifies that token is a compact JWS of type typ signed by
// signer's key, and decodes its claims strictly into dst. It trusts
// nothing in the token to choose the key.
func Open(token string, signer peer.ID, typ string, dst any) error {
	if strings.Count(token, ".") != 2 {
		return errors.New("not a compact JWS")
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return fmt.Errorf("not a JWS: %w", err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return errors.New("not exactly one signature")
	}
	hdr := sigs[0].ProtectedHeaders()
	if got, _ := hdr.Type(); got != typ {
		return fmt.Errorf("token type %q, want %q", got, typ)
	}
	if kid, ok := hdr.KeyID(); ok && kid != signer.String() {
		return fmt.Errorf("key ID %q is not the signer %s", kid, signer)
	}
	pub, err := PeerKey(signer)
	if err != nil {
		return err
	}
	payload, err := jws.Verify([]byte(token), jws.WithKey(jwa.EdDSA(), pub))
	if err != nil {
		return fmt.Errorf("the signature does not verify against the key of %s: %w", signer, err)
	}
	return frame.Decode(payload, dst)
}
