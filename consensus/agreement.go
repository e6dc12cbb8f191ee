package consensus

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Agreement is the text of a model-sharing agreement: what every party
// signs. Its canonical form (Canonical) is the JSON encoding of the
// normalised value; parties sign those exact bytes, so a document changed
// after signing no longer verifies.
type Agreement struct {
	ID         string    `json:"id"`
	Model      string    `json:"model"`    // owner/id of the model's catalogue entry
	Parties    []string  `json:"parties"`  // member names, sorted
	Purposes   []string  `json:"purposes"` // sorted
	Conditions string    `json:"conditions"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	CreatedBy  string    `json:"created_by"` // the member that proposed it
	Created    time.Time `json:"created"`
}

// Limits on an agreement's text.
const (
	maxConditions     = 8 << 10
	maxAgreementBytes = 64 << 10
	maxParties        = 64
)

// Normalize returns the agreement in canonical order and precision:
// parties and purposes sorted, times in UTC to the second.
func (a Agreement) Normalize() Agreement {
	a.Parties = slices.Sorted(slices.Values(a.Parties))
	a.Purposes = slices.Sorted(slices.Values(a.Purposes))
	a.ValidFrom = a.ValidFrom.UTC().Truncate(time.Second)
	a.ValidUntil = a.ValidUntil.UTC().Truncate(time.Second)
	a.Created = a.Created.UTC().Truncate(time.Second)
	return a
}

// Canonical is the byte string every party signs.
func (a Agreement) Canonical() []byte {
	raw, _ := json.Marshal(a.Normalize()) // a struct of strings and times always encodes
	return raw
}

// ModelOwner is the member that owns the model.
func (a Agreement) ModelOwner() string {
	owner, _, _ := strings.Cut(a.Model, "/")
	return owner
}

// HasParty reports whether name is a party.
func (a Agreement) HasParty(name string) bool { return slices.Contains(a.Parties, name) }

// InForce reports whether the agreement authorises at t (revocation aside).
func (a Agreement) InForce(t time.Time) bool {
	return !t.Before(a.ValidFrom) && t.Before(a.ValidUntil)
}

// Validate checks what every member checks the same way before storing an
// agreement; the parties' own policies judge the rest.
func (a Agreement) Validate() error {
	switch {
	case !idPattern.MatchString(a.ID):
		return fmt.Errorf("agreement id %q must be lower-case letters, digits, '.', '_' or '-' (at most 64)", a.ID)
	case !validRef(a.Model):
		return fmt.Errorf("model %q must be OWNER/ID", a.Model)
	case len(a.Parties) < 2:
		return errors.New("an agreement needs at least two parties")
	case len(a.Parties) > maxParties:
		return fmt.Errorf("an agreement has at most %d parties", maxParties)
	case len(a.Purposes) == 0:
		return errors.New("an agreement names at least one purpose")
	case len(a.Conditions) > maxConditions:
		return fmt.Errorf("conditions are %d bytes, over %d", len(a.Conditions), maxConditions)
	case a.ValidFrom.IsZero() || a.ValidUntil.IsZero():
		return errors.New("valid_from and valid_until are required")
	case !a.ValidUntil.After(a.ValidFrom):
		return fmt.Errorf("valid_until %s is not after valid_from %s", a.ValidUntil.Format(time.RFC3339), a.ValidFrom.Format(time.RFC3339))
	}
	seen := map[string]bool{}
	for _, p := range a.Parties {
		if !namePattern.MatchString(p) {
			return fmt.Errorf("party %q is not a member name", p)
		}
		if seen[p] {
			return fmt.Errorf("party %s is named twice", p)
		}
		seen[p] = true
	}
	for _, p := range a.Purposes {
		if p == "" || len(p) > 64 {
			return fmt.Errorf("purpose %q must be 1 to 64 characters", p)
		}
	}
	if !a.HasParty(a.ModelOwner()) {
		return fmt.Errorf("the model's owner %s is not a party", a.ModelOwner())
	}
	if !a.HasParty(a.CreatedBy) {
		return fmt.Errorf("the proposer %s is not a party", a.CreatedBy)
	}
	return nil
}

func validRef(ref string) bool {
	owner, id, ok := strings.Cut(ref, "/")
	return ok && namePattern.MatchString(owner) && idPattern.MatchString(id)
}

// SignedAgreement is an agreement in the JWS JSON general serialization
// (RFC 7515 section 7.2.1): the canonical text as payload and one EdDSA
// signature per party, each with the party's member name as "kid" in its
// protected header.
type SignedAgreement struct {
	Payload    string               `json:"payload"`
	Signatures []AgreementSignature `json:"signatures"`
}

// AgreementSignature is one party's signature.
type AgreementSignature struct {
	Protected string `json:"protected"`
	Signature string `json:"signature"`
}

// NewSignedAgreement starts a document with no signature yet.
func NewSignedAgreement(a Agreement) SignedAgreement {
	return SignedAgreement{Payload: b64.EncodeToString(a.Canonical()), Signatures: []AgreementSignature{}}
}

// SignAgreement produces party's signature over the agreement's canonical
// text with its Ed25519 key.
func SignAgreement(a Agreement, party string, key ed25519.PrivateKey) (AgreementSignature, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, party); err != nil {
		return AgreementSignature{}, err
	}
	compact, err := jws.Sign(a.Canonical(), jws.WithKey(jwa.EdDSA(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return AgreementSignature{}, fmt.Errorf("sign agreement %s: %w", a.ID, err)
	}
	parts := bytes.Split(compact, []byte{'.'})
	if len(parts) != 3 {
		return AgreementSignature{}, errors.New("sign agreement: unexpected JWS form")
	}
	return AgreementSignature{Protected: string(parts[0]), Signature: string(parts[2])}, nil
}

// ParseSignedAgreement decodes a signed document without trusting it: the
// agreement it carries and who claims to have signed it.
func ParseSignedAgreement(raw []byte) (SignedAgreement, Agreement, error) {
	if len(raw) > maxAgreementBytes {
		return SignedAgreement{}, Agreement{}, fmt.Errorf("agreement document of %d bytes exceeds %d", len(raw), maxAgreementBytes)
	}
	var doc SignedAgreement
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return SignedAgreement{}, Agreement{}, fmt.Errorf("malformed agreement document: %w", err)
	}
	a, err := doc.Agreement()
	return doc, a, err
}

// Agreement decodes the payload and checks that it is canonical, so that
// every party signed the same bytes every member reads.
func (d SignedAgreement) Agreement() (Agreement, error) {
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
func (s AgreementSignature) Signer() (string, error) {
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
func (s AgreementSignature) Verify(payload string, pub ed25519.PublicKey) error {
	compact := s.Protected + "." + payload + "." + s.Signature
	if _, err := jws.Verify([]byte(compact), jws.WithKey(jwa.EdDSA(), pub)); err != nil {
		return ErrBadSignature
	}
	return nil
}

// VerifyAgreement checks a signed document completely: canonical text,
// valid terms, exactly one good signature by every party and none by
// anyone else. keyOf gives a member's key by name.
func VerifyAgreement(doc SignedAgreement, keyOf func(name string) (ed25519.PublicKey, bool)) (Agreement, error) {
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
func verifySignatures(doc SignedAgreement, a Agreement, keyOf func(string) (ed25519.PublicKey, bool)) (map[string]bool, error) {
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
func (d SignedAgreement) Signers(keyOf func(string) (ed25519.PublicKey, bool)) ([]string, error) {
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
func (d SignedAgreement) Add(s AgreementSignature) SignedAgreement {
	d.Signatures = append(slices.Clip(d.Signatures), s)
	return d
}

// Marshal encodes the document.
func (d SignedAgreement) Marshal() []byte {
	raw, _ := json.Marshal(d)
	return raw
}

// MemberKey extracts a member's Ed25519 key from its peer ID.
func MemberKey(m Member) (ed25519.PublicKey, bool) {
	pub, err := peerKeys.get(m.PeerID)
	return pub, err == nil
}
