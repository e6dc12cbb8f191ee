package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
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
		rep, err := readTrail(bytes.NewReader(raw), func() {}, []ed25519.PublicKey{pub}, anchors)
		if err == nil && (!rep.OK || rep.Records < anchors[len(anchors)-1].Seq) {
			t.Fatalf("accepted a trail that does not hold every anchor: %+v", rep)
		}
	})
}

func TestReadTrailVerifiesWhatTheOwnerSends(t *testing.T) {
	for _, detail := range []Detail{DetailChain, DetailRecords} {
		raw, pub, anchors := trailFrames(t, 9, detail)
		rep, err := readTrail(bytes.NewReader(raw), func() {}, []ed25519.PublicKey{pub}, anchors)
		if err != nil || !rep.OK || rep.Records != 9 || rep.ContentVerified != (detail == DetailRecords) {
			t.Fatalf("%s: %+v %v", detail, rep, err)
		}
		// One flipped byte anywhere in a record's hash breaks it.
		bad := bytes.Replace(raw, []byte(`"hash":"`), []byte(`"hash":"0`), 1)
		if rep, err := readTrail(bytes.NewReader(bad), func() {}, []ed25519.PublicKey{pub}, anchors); err == nil || rep.OK {
			t.Fatalf("%s: a changed trail verified", detail)
		}
	}
}

// A partner that sends made-up links, signed with its own key, around the
// heads it anchored does not verify: each link's hash is recomputed from
// its sequence number, the previous hash and the content hash, so an
// anchored head fixes every record before it.
func TestForgedLinksAroundTheAnchorsDoNotVerify(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	l, err := Open(filepath.Join(t.TempDir(), "audit.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var links []Link
	for i := range 6 {
		r, err := l.Append("test.event", "subject", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, r.Link())
	}
	anchors := []Anchor{{Seq: 3, Head: links[2].Hash}, {Seq: 6, Head: links[5].Hash}}
	verify := func(ls []Link) (Report, error) {
		i := 0
		return VerifyLinks(pub, anchors, func() (Link, *Record, bool, error) {
			if i == len(ls) {
				return Link{}, nil, false, nil
			}
			i++
			return ls[i-1], nil, true, nil
		})
	}
	if rep, err := verify(links); err != nil || !rep.OK || rep.ContentVerified {
		t.Fatalf("the honest links: %+v %v", rep, err)
	}
	sign := func(l *Link) {
		h, _ := hex.DecodeString(l.Hash)
		l.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, h))
	}
	// Record 2 replaced by other content, its link recomputed and signed,
	// record 3 (anchored) re-chained to it but keeping its anchored hash.
	forged := append([]Link(nil), links...)
	forged[1].Content = strings.Repeat("ab", 32)
	forged[1].Hash = linkHash(2, forged[1].Prev, forged[1].Content)
	sign(&forged[1])
	forged[2].Prev = forged[1].Hash
	sign(&forged[2])
	if rep, err := verify(forged); err == nil || rep.OK || rep.FirstBad == nil || rep.FirstBad.Seq != 3 {
		t.Fatalf("forged links verified: %+v %v", rep.FirstBad, err)
	}
	// A link whose hash is made up (no content behind it) is caught at once.
	made := append([]Link(nil), links...)
	made[3].Hash = strings.Repeat("cd", 32)
	sign(&made[3])
	if rep, err := verify(made); err == nil || rep.FirstBad == nil || rep.FirstBad.Seq != 4 {
		t.Fatalf("a made-up hash verified: %+v %v", rep.FirstBad, err)
	}
	// Links of the first format bind nothing: refused, not trusted.
	old := append([]Link(nil), links...)
	for i := range old {
		old[i].V, old[i].Content = 0, ""
	}
	if rep, err := verify(old); err == nil || rep.FirstBad == nil || rep.FirstBad.Seq != 1 {
		t.Fatalf("first-format links verified: %+v %v", rep.FirstBad, err)
	}
}
