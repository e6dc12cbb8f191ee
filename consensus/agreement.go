package consensus

import (
	"crypto/ed25519"

	"github.com/xborder/xborder/agreement"
)

// The agreement document lives in package agreement, which the exchange
// shares (its signing and verification too); the registry's commands and
// records name it under these types.
type (
	Agreement          = agreement.Agreement
	SignedAgreement    = agreement.Signed
	AgreementSignature = agreement.Signature
)

// maxConditions bounds a revocation's reason like an agreement's
// conditions.
const maxConditions = agreement.MaxConditions

// MemberKey extracts a member's Ed25519 key from its peer ID.
func MemberKey(m Member) (ed25519.PublicKey, bool) {
	pub, err := peerKeys.get(m.PeerID)
	return pub, err == nil
}
