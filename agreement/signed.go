package agreement

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

var b64 = base64.RawURLEncoding.Strict()

// ErrBadSignature is returned when a party's signature does not verify
// against its key.
var ErrBadSignature = errors.New("the signature does not verify against the member's key")

// Signed is an agreement in the JWS JSON general serialization
// (RFC 7515 section 7.2.1): the canonical text as payload and one EdDSA
// signature per party, each with the party's member name as "kid" in its
// protected header.
type Signed struct {
	Payload    string      `json:"payload"`
	Signatures []Signature `json:"signatures"`
}

// Signature is one party's signature.
type Signature struct {
	Protected string `json:"protected"`
	Signature string `json:"signature"`
}

// NewSigned starts a document with no signature yet.
func NewSigned(a Agreement) Signed {
	return Signed{Payload: b64.EncodeToString(a.Canonical()), Signatures: []Signature{}}
}

// Sign produces party's signature over the agreement's canonical
// text with its Ed25519 key.
func Sign(a Agreement, party string, key ed25519.PrivateKey) (Signature, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, party); err != nil {
		return Signature{}, err
	}
	compact, err := jws.Sign(a.Canonical(), jws.WithKey(jwa.EdDSA(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return Signature{}, fmt.Errorf("sign agreement %s: %w", a.ID, err)
	}
	parts := bytes.Split(compact, []byte{'.'})
	if len(parts) != 3 {
		return Signature{}, errors.New("sign agreement: unexpected JWS form")
	}
	return Signature{Protected: string(parts[0]), Signature: string(parts[2])}, nil
}

// ParseSigned decodes a signed document without trusting it: the
// agreement it carries and who claims to have signed it.
func ParseSigned(raw []byte) (Signed, Agreement, error) {
	if len(raw) > maxDocumentBytes {
		return Signed{}, Agreement{}, fmt.Errorf("agreement document of %d bytes exceeds %d", len(raw), maxDocumentBytes)
	}
	var doc Signed
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return Signed{}, Agreement{}, fmt.Errorf("malformed agreement document: %w", err)
	}
	a, err := doc.Agreement()
	return doc, a, err
}

// Agreement decodes the payload and checks that it is canonical, so that
// every party signed the same bytes every member reads.
func (d Signed) Agreement() (Agreement, error) {
	payload, err := b64.DecodeString(d.Payload)
	if err != nil {
		return Agreement{}, fmt.Errorf("agreement payload: %w", err)
	}
	var a Agreement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Agreement{}, fmt.Errorf("malformed agreement: %w", err)
	}
	if !bytes.Equal(payload, a.Canonical()) {
		return Agreement{}, errors.New("the agreement is not in canonical form (sorted parties and purposes, UTC times to the second)")
	}
	return a, nil
}

// Signer names the party a signature claims to be from (its kid).
func (s Signature) Signer() (string, error) {
	raw, err := b64.DecodeString(s.Protected)
	if err != nil {
		return "", fmt.Errorf("signature header: %w", err)
	}
	var h struct {
		Alg  string `json:"alg"`
		Kid  string `json:"kid"`
		Crit any    `json:"crit"`
		B64  any    `json:"b64"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("signature header: %w", err)
	}
	if h.Alg != "EdDSA" {
		return "", fmt.Errorf("signature algorithm %q is not EdDSA", h.Alg)
	}
	if h.Crit != nil || h.B64 != nil {
		return "", errors.New("signature header asks for unsupported extensions")
	}
	if h.Kid == "" {
		return "", errors.New("signature names no signer (kid)")
	}
	return h.Kid, nil
}

// Verify checks the signature over payload against the signer's key.
func (s Signature) Verify(payload string, pub ed25519.PublicKey) error {
	compact := s.Protected + "." + payload + "." + s.Signature
	if _, err := jws.Verify([]byte(compact), jws.WithKey(jwa.EdDSA(), pub)); err != nil {
		return ErrBadSignature
	}
	return nil
}

// Verify checks a signed document completely: canonical text,
// valid terms, exactly one good signature by every party and none by
// anyone else. keyOf gives a member's key by name.
func Verify(doc Signed, keyOf func(name string) (ed25519.PublicKey, bool)) (Agreement, error) {
	a, err := doc.Agreement()
	if err != nil {
		return Agreement{}, err
	}
	if err := a.Validate(); err != nil {
		return Agreement{}, err
	}
	signed, err := verifySignatures(doc, a, keyOf)
	if err != nil {
		return Agreement{}, err
	}
	for _, p := range a.Parties {
		if !signed[p] {
			return Agreement{}, fmt.Errorf("party %s has not signed agreement %s", p, a.ID)
		}
	}
	return a, nil
}

// verifySignatures checks every signature present and returns the parties
// that signed.
func verifySignatures(doc Signed, a Agreement, keyOf func(string) (ed25519.PublicKey, bool)) (map[string]bool, error) {
	signed := map[string]bool{}
	for _, s := range doc.Signatures {
		who, err := s.Signer()
		if err != nil {
			return nil, err
		}
		if !a.HasParty(who) {
			return nil, fmt.Errorf("agreement %s is signed by %s, who is not a party", a.ID, who)
		}
		if signed[who] {
			return nil, fmt.Errorf("party %s signed agreement %s twice", who, a.ID)
		}
		pub, ok := keyOf(who)
		if !ok {
			return nil, fmt.Errorf("party %s is not a member", who)
		}
		if err := s.Verify(doc.Payload, pub); err != nil {
			return nil, fmt.Errorf("the signature of %s on agreement %s does not verify: forged, or the text changed after signing", who, a.ID)
		}
		signed[who] = true
	}
	return signed, nil
}

// Signers verifies the signatures present so far (a document still being
// signed) and lists who signed, sorted.
func (d Signed) Signers(keyOf func(string) (ed25519.PublicKey, bool)) ([]string, error) {
	a, err := d.Agreement()
	if err != nil {
		return nil, err
	}
	signed, err := verifySignatures(d, a, keyOf)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(signed))
	for p := range signed {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// Add returns the document with one more signature.
func (d Signed) Add(s Signature) Signed {
	d.Signatures = append(slices.Clip(d.Signatures), s)
	return d
}

// Marshal encodes the document.
func (d Signed) Marshal() []byte {
	raw, _ := json.Marshal(d)
	return raw
}
