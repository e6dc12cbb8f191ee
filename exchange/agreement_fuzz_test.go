package exchange

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/xborder/xborder/agreement"
	"github.com/xborder/xborder/internal/frame"
)

// FuzzAgreementFrame feeds the decoder of AgreementProtocol frames and the
// checks a node runs on them before any policy or registry work: the
// offered text must be canonical and valid, a signature must name its
// signer and verify. Nothing that arrives may crash the node, and an
// accepted offer is exactly the text it encodes.
func FuzzAgreementFrame(f *testing.F) {
	key, _ := fuzzIdentity(f, 1)
	a := agreement.Agreement{ID: "seg-2026", Model: "fr-grandest/tumour-seg", Parties: []string{"de-bw", "fr-grandest"},
		Purposes: []string{"research"}, ValidFrom: fuzzNow, ValidUntil: fuzzNow.Add(365 * 24 * time.Hour),
		CreatedBy: "fr-grandest", Created: fuzzNow}
	offer := agreement.NewSigned(a)
	sig, err := agreement.Sign(a, "fr-grandest", key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fuzzFrame(f, agreementFrame{Offer: &offer}))
	f.Add(fuzzFrame(f, agreementFrame{Signature: &signatureFrame{ID: a.ID, Payload: offer.Payload, Signature: sig}}))
	f.Add(fuzzFrame(f, agreementFrame{Offer: &offer, Signature: &signatureFrame{}}))
	f.Add(fuzzFrame(f, map[string]any{"offer": map[string]any{"payload": "e30", "signatures": []any{}}}))
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fr agreementFrame
		if err := frame.Read(bytes.NewReader(raw), 1<<20, &fr); err != nil {
			return
		}
		if fr.Offer != nil {
			text, err := fr.Offer.Agreement()
			if err == nil && text.Validate() == nil {
				if agreement.NewSigned(text).Payload != fr.Offer.Payload {
					t.Fatal("an accepted offer does not encode its own text")
				}
			}
		}
		if fr.Signature != nil {
			if _, err := fr.Signature.Signature.Signer(); err == nil {
				_ = fr.Signature.Signature.Verify(fr.Signature.Payload, pub)
			}
		}
	})
}
