package audit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// trailFrames is a real trail of n records as the owner sends it.
func trailFrames(t testing.TB, n int, detail Detail) ([]byte, ed25519.PublicKey, []Anchor) {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(nil)
	l, err := Open(filepath.Join(t.TempDir(), "audit.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var anchors []Anchor
	for i := range n {
		r, err := l.Append("test.event", "subject", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			anchors = append(anchors, Anchor{Seq: r.Seq, Head: r.Hash})
		}
	}
	var buf bytes.Buffer
	err = l.db.View(func(tx *bolt.Tx) error {
		b := batch{Done: true}
		return errors.Join(l.walk(tx, 1, func(_ uint64, r *Record, _ error) error {
			b.Links = append(b.Links, r.Link())
			if detail == DetailRecords {
				b.Records = append(b.Records, *r)
			}
			return nil
		}), writeFrame(&buf, b))
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), pub, anchors
}

// The verifier reads whatever a partner sends: garbage, frames of any
// size, batches that lie about their records. It never panics, and accepts
// a trail only when it verifies.
func FuzzReadTrail(f *testing.F) {
	chain, pub, anchors := trailFrames(f, 7, DetailChain)
	records, _, _ := trailFrames(f, 4, DetailRecords)
	f.Add(chain)
	f.Add(records)
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep, err := readTrail(bytes.NewReader(raw), func() {}, pub, anchors)
		if err == nil && (!rep.OK || rep.Records < anchors[len(anchors)-1].Seq) {
			t.Fatalf("accepted a trail that does not hold every anchor: %+v", rep)
		}
	})
}

func TestReadTrailVerifiesWhatTheOwnerSends(t *testing.T) {
	for _, detail := range []Detail{DetailChain, DetailRecords} {
		raw, pub, anchors := trailFrames(t, 9, detail)
		rep, err := readTrail(bytes.NewReader(raw), func() {}, pub, anchors)
		if err != nil || !rep.OK || rep.Records != 9 || rep.ContentVerified != (detail == DetailRecords) {
			t.Fatalf("%s: %+v %v", detail, rep, err)
		}
		// One flipped byte anywhere in a record's hash breaks it.
		bad := bytes.Replace(raw, []byte(`"hash":"`), []byte(`"hash":"0`), 1)
		if rep, err := readTrail(bytes.NewReader(bad), func() {}, pub, anchors); err == nil || rep.OK {
			t.Fatalf("%s: a changed trail verified", detail)
		}
	}
}
