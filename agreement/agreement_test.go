package agreement

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"
)

// The canonical bytes are what every party signed and every registry
// replica verifies: they must not change with a refactoring.
func TestCanonicalBytesAreStable(t *testing.T) {
	day := time.Date(2026, 3, 1, 9, 30, 15, 999, time.FixedZone("CET", 3600))
	a := Agreement{ID: "seg-2026", Model: "fr-grandest/tumour-seg", Parties: []string{"fr-grandest", "de-saarland"},
		Purposes: []string{"research", "clinical-validation"}, Conditions: "no re-identification",
		ValidFrom: day, ValidUntil: day.AddDate(1, 0, 0), CreatedBy: "fr-grandest", Created: day}
	const want = `{"id":"seg-2026","model":"fr-grandest/tumour-seg","parties":["de-saarland","fr-grandest"],` +
		`"purposes":["clinical-validation","research"],"conditions":"no re-identification",` +
		`"valid_from":"2026-03-01T08:30:15Z","valid_until":"2027-03-01T08:30:15Z","created_by":"fr-grandest","created":"2026-03-01T08:30:15Z"}`
	if got := string(a.Canonical()); got != want {
		t.Fatalf("canonical form changed:\n got %s\nwant %s", got, want)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyNeedsEveryParty(t *testing.T) {
	a := Agreement{ID: "seg", Model: "m0/model", Parties: []string{"m0", "m1"}, Purposes: []string{"research"},
		ValidFrom: time.Unix(0, 0), ValidUntil: time.Unix(3600, 0), CreatedBy: "m0", Created: time.Unix(0, 0)}.Normalize()
	keys := map[string]ed25519.PrivateKey{}
	for _, p := range a.Parties {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		keys[p] = k
	}
	keyOf := func(name string) (ed25519.PublicKey, bool) {
		k, ok := keys[name]
		if !ok {
			return nil, false
		}
		return k.Public().(ed25519.PublicKey), true
	}
	doc := NewSigned(a)
	s0, err := Sign(a, "m0", keys["m0"])
	if err != nil {
		t.Fatal(err)
	}
	doc = doc.Add(s0)
	if _, err := Verify(doc, keyOf); err == nil {
		t.Fatal("a document signed by one party of two verified")
	}
	s1, _ := Sign(a, "m1", keys["m1"])
	doc = doc.Add(s1)
	if _, err := Verify(doc, keyOf); err != nil {
		t.Fatal(err)
	}
	back, got, err := ParseSigned(doc.Marshal())
	if err != nil || len(back.Signatures) != 2 || got.ID != a.ID {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}
