package consensus

import (
	"crypto/ed25519"

	"github.com/xborder/xborder/agreement"
)

// The agreement document lives in package agreement, which the exchange
// shares; the registry verifies and stores it under these names.
type (
	Agreement          = agreement.Agreement
	SignedAgreement    = agreement.Signed
	AgreementSignature = agreement.Signature
)

// maxConditions bounds a revocation's reason like an agreement's
// conditions.
const maxConditions = agreement.MaxConditions

// NewSignedAgreement starts a document with no signature yet.
func NewSignedAgreement(a Agreement) SignedAgreement { return agreement.NewSigned(a) }

// SignAgreement produces party's signature over the agreement's canonical
// text with its Ed25519 key.
func SignAgreement(a Agreement, party string, key ed25519.PrivateKey) (AgreementSignature, error) {
	return agreement.Sign(a, party, key)
}

// ParseSignedAgreement decodes a signed document without trusting it.
func ParseSignedAgreement(raw []byte) (SignedAgreement, Agreement, error) {
	return agreement.ParseSigned(raw)
}

// VerifyAgreement checks a signed document completely: canonical text,
// valid terms, exactly one good signature by every party and none by
// anyone else. keyOf gives a member's key by name.
func VerifyAgreement(doc SignedAgreement, keyOf func(name string) (ed25519.PublicKey, bool)) (Agreement, error) {
	return agreement.Verify(doc, keyOf)
}

// MemberKey extracts a member's Ed25519 key from its peer ID.
func MemberKey(m Member) (ed25519.PublicKey, bool) {
	pub, err := peerKeys.get(m.PeerID)
	return pub, err == nil
}
