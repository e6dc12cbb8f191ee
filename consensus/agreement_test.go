package consensus

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/xborder/xborder/agreement"
	"github.com/xborder/xborder/internal/testkit"
)

func testAgreement(parties ...string) Agreement {
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	return Agreement{ID: "seg-2026", Model: parties[0] + "/tumour-seg", Parties: parties, Purposes: []string{"research"},
		Conditions: "Research use only.", ValidFrom: at, ValidUntil: at.AddDate(1, 0, 0), CreatedBy: parties[0], Created: at}
}

func signAll(t testing.TB, a Agreement, signers ...*tnode) SignedAgreement {
	t.Helper()
	doc := agreement.NewSigned(a)
	for _, s := range signers {
		sig, err := agreement.Sign(a, s.name, s.key)
		if err != nil {
			t.Fatal(err)
		}
		doc = doc.Add(sig)
	}
	return doc
}

// The signed document is a standard JWS in JSON general serialization:
// jwx parses it and verifies each party's signature.
func TestSignedAgreementIsStandardJWSJSON(t *testing.T) {
	c := newCluster(t, 2, 2)
	a := testAgreement(c.nodes[0].name, c.nodes[1].name)
	doc := signAll(t, a, c.nodes[0], c.nodes[1])
	msg, err := jws.Parse(doc.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Signatures()) != 2 || string(msg.Payload()) != string(a.Canonical()) {
		t.Fatalf("parsed %d signatures, payload %s", len(msg.Signatures()), msg.Payload())
	}
	for i, tn := range c.nodes {
		if _, err := jws.Verify(doc.Marshal(), jws.WithKey(jwa.EdDSA(), tn.key.Public())); err != nil {
			t.Fatalf("party %d: %v", i, err)
		}
		kid, _ := msg.Signatures()[i].ProtectedHeaders().KeyID()
		if kid != tn.name {
			t.Fatalf("signature %d kid %q", i, kid)
		}
	}
}

func TestAgreementsCommitRevokeAndRefusalsAreTheSameEverywhere(t *testing.T) {
	c := newCluster(t, 6, 5) // m5 is not a member
	c.openAll(5)
	c.waitLeader()
	ctx := context.Background()
	fr, de, ch, lu, stranger := c.nodes[0], c.nodes[1], c.nodes[2], c.nodes[4], c.nodes[5]
	a := testAgreement(fr.name, de.name, ch.name)

	rejected := func(what string, err error, reason string) {
		t.Helper()
		var rej *RejectedError
		if !errors.As(err, &rej) || !strings.Contains(rej.Reason, reason) {
			t.Fatalf("%s: %v, want a rejection saying %q", what, err, reason)
		}
	}
	commit := func(by *tnode, doc SignedAgreement) error {
		_, err := by.reg.Submit(ctx, OpAgreementCommit, AgreementCommit{Document: doc})
		return err
	}

	// Not every party signed.
	rejected("missing signature", commit(fr, signAll(t, a, fr, de)), "m2 has not signed")
	// A signature by someone who is not a party, or not a member.
	rejected("non-party signature", commit(fr, signAll(t, a, fr, de, ch, lu)), "who is not a party")
	// A forged signature: m5's key claiming to be ch.
	forged := signAll(t, a, fr, de)
	sig, _ := agreement.Sign(a, ch.name, stranger.key)
	rejected("forged signature", commit(fr, forged.Add(sig)), "does not verify")
	// The text changed after signing: conditions rewritten in the payload.
	changed := signAll(t, a, fr, de, ch)
	b := a
	b.Conditions = "Any use."
	changed.Payload = agreement.NewSigned(b).Payload
	rejected("changed text", commit(fr, changed), "does not verify")
	// A payload that is not canonical (reordered parties) is refused even
	// if signed, so that every member reads the bytes that were signed.
	nonCanonical := SignedAgreement{Payload: b64.EncodeToString([]byte(strings.Replace(string(a.Canonical()),
		`"parties":["m0","m1","m2"]`, `"parties":["m2","m1","m0"]`, 1)))}
	rejected("non-canonical text", commit(fr, nonCanonical), "canonical")
	// A commit by a member who is not a party.
	rejected("commit by a non-party", commit(lu, signAll(t, a, fr, de, ch)), "not a party")

	// The good document commits once; the same id again is refused.
	good := signAll(t, a, ch, fr, de)
	if err := commit(de, good); err != nil {
		t.Fatal(err)
	}
	rejected("duplicate id", commit(fr, good), "already exists")

	// Revocation: only a party, only once.
	_, err := lu.reg.Submit(ctx, OpAgreementRevoke, AgreementRevocation{ID: a.ID})
	rejected("revoke by a non-party", err, "not a party")
	if _, err := fr.reg.Submit(ctx, OpAgreementRevoke, AgreementRevocation{ID: a.ID, Reason: "model retired"}); err != nil {
		t.Fatal(err)
	}
	_, err = ch.reg.Submit(ctx, OpAgreementRevoke, AgreementRevocation{ID: a.ID})
	rejected("second revocation", err, "already revoked by m0")

	testkit.Eventually(t, 20*time.Second, "identical replicas", c.sameState(c.nodes[:5]...))
	for _, tn := range c.nodes[:5] {
		r, err := tn.reg.Agreement(a.ID)
		if err != nil {
			t.Fatalf("%s: %v", tn.name, err)
		}
		if r.Status != AgreementRevoked || r.RevokedBy != fr.name || r.Reason != "model retired" || r.CommittedBy != de.name {
			t.Fatalf("%s holds %+v", tn.name, r)
		}
		keyOf := func(name string) (ed25519.PublicKey, bool) {
			for _, n := range c.nodes[:5] {
				if n.name == name {
					return n.key.Public().(ed25519.PublicKey), true
				}
			}
			return nil, false
		}
		if _, err := agreement.Verify(r.Document, keyOf); err != nil {
			t.Fatalf("%s: the stored document does not verify: %v", tn.name, err)
		}
		if all, _ := tn.reg.Agreements(); len(all) != 1 {
			t.Fatalf("%s lists %d agreements", tn.name, len(all))
		}
	}
}

func TestAgreementStatusFollowsTheClock(t *testing.T) {
	a := testAgreement("m0", "m1")
	r := AgreementRecord{Agreement: a, Status: AgreementActive}
	for at, want := range map[time.Time]string{
		a.ValidFrom.Add(-time.Second):  "pending",
		a.ValidFrom:                    AgreementActive,
		a.ValidUntil.Add(-time.Second): AgreementActive,
		a.ValidUntil:                   AgreementExpired,
	} {
		if got := r.StatusAt(at); got != want {
			t.Errorf("at %s: %s, want %s", at, got, want)
		}
	}
	r.Status = AgreementRevoked
	if r.Authorises(a.ValidFrom) {
		t.Error("a revoked agreement authorises")
	}
}

func FuzzParseSignedAgreement(f *testing.F) {
	a := testAgreement("m0", "m1")
	_, k := mustKey(f)
	sig, _ := agreement.Sign(a, "m0", k)
	f.Add(agreement.NewSigned(a).Add(sig).Marshal())
	f.Add([]byte(`{"payload":"","signatures":[]}`))
	f.Add([]byte(`{"payload":"e30","signatures":[{"protected":"e30","signature":""}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		doc, a, err := agreement.ParseSigned(raw)
		if err != nil {
			return
		}
		// Whatever parses is canonical and survives a round trip.
		if string(a.Canonical()) != mustDecode(t, doc.Payload) {
			t.Fatalf("accepted a non-canonical payload")
		}
		for _, s := range doc.Signatures {
			_, _ = s.Signer()
		}
		_, _ = doc.Signers(func(string) (ed25519.PublicKey, bool) { return k.Public().(ed25519.PublicKey), true })
	})
}

func mustKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	k, _ := newKey(t)
	return k.Public().(ed25519.PublicKey), k
}

func mustDecode(t *testing.T, s string) string {
	raw, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
