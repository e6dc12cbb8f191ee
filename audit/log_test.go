package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func newLog(t *testing.T, n int) (*Log, ed25519.PublicKey, string) {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append("policy.decision", "de-bw requests fr-grandest/icu", map[string]any{"allow": i%2 == 0, "i": i}); err != nil {
			t.Fatal(err)
		}
	}
	return l, pub, path
}

// tamper edits the stored records directly, as an intruder with the file
// would.
func tamper(t *testing.T, l *Log, fn func(b *bolt.Bucket)) {
	t.Helper()
	if err := l.db.Update(func(tx *bolt.Tx) error { fn(tx.Bucket(bRecords)); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestAppendChainsAndVerifies(t *testing.T) {
	l, pub, _ := newLog(t, 10)
	defer l.Close()
	rep, err := l.Verify(pub, nil)
	if err != nil || !rep.OK || rep.Records != 10 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	recs, err := l.List(Filter{Limit: 3})
	if err != nil || len(recs) != 3 || recs[0].Seq != 10 || recs[0].Prev != recs[1].Hash {
		t.Fatalf("list: %+v %v", recs, err)
	}
	head, _ := l.Head()
	if head.Seq != 10 || head.Hash != rep.Head {
		t.Fatalf("head %+v, verified head %s", head, rep.Head)
	}
}

func TestVerifyNamesTheFirstBadRecord(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(b *bolt.Bucket)
		seq    uint64
		reason string
	}{
		{"flipped byte", func(b *bolt.Bucket) {
			v := bytes.Replace(b.Get(seqKey(4)), []byte("de-bw"), []byte("de-bx"), 1)
			_ = b.Put(seqKey(4), v)
		}, 4, "content changed"},
		{"deleted record", func(b *bolt.Bucket) { _ = b.Delete(seqKey(6)) }, 7, "missing"},
		{"reordered records", func(b *bolt.Bucket) {
			r3, r5 := append([]byte(nil), b.Get(seqKey(3))...), append([]byte(nil), b.Get(seqKey(5))...)
			_ = b.Put(seqKey(3), r5)
			_ = b.Put(seqKey(5), r3)
		}, 3, "records moved"},
		{"garbage", func(b *bolt.Bucket) { _ = b.Put(seqKey(2), []byte("{")) }, 2, "unreadable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, pub, _ := newLog(t, 10)
			defer l.Close()
			tamper(t, l, tc.mutate)
			rep, err := l.Verify(pub, nil)
			if !errors.Is(err, ErrBroken) || rep.OK || rep.FirstBad == nil {
				t.Fatalf("tampered trail verified: %+v %v", rep, err)
			}
			if rep.FirstBad.Seq != tc.seq || !strings.Contains(rep.FirstBad.Reason, tc.reason) {
				t.Fatalf("first bad = %+v, want seq %d (%s)", rep.FirstBad, tc.seq, tc.reason)
			}
		})
	}
}

func TestVerifyRefusesAnotherKeyAndRewrittenHistory(t *testing.T) {
	l, pub, _ := newLog(t, 5)
	defer l.Close()
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if rep, err := l.Verify(other, nil); err == nil || !strings.Contains(rep.FirstBad.Reason, "signature") {
		t.Fatalf("another key: %+v %v", rep, err)
	}
	head, _ := l.Head()
	anchor := Anchor{Seq: head.Seq, Head: head.Hash}

	// The node rewrites its whole history consistently: the chain and the
	// signatures verify, but the anchor in the registry does not match.
	tamper(t, l, func(b *bolt.Bucket) {
		for seq := uint64(1); seq <= 5; seq++ {
			_ = b.Delete(seqKey(seq))
		}
	})
	_ = l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Delete(keyHead) })
	for range 5 {
		if _, err := l.Append("policy.decision", "rewritten", map[string]any{"allow": true}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := l.Verify(pub, nil)
	if err != nil || !rep.OK {
		t.Fatalf("the rewritten chain itself should verify: %+v %v", rep, err)
	}
	rep, err = l.Verify(pub, []Anchor{anchor, {Seq: 9, Head: anchor.Head}})
	if err == nil || rep.OK || rep.Anchors[0].OK || !strings.Contains(rep.Anchors[0].Reason, "rewritten") ||
		!strings.Contains(rep.Anchors[1].Reason, "not in the trail") {
		t.Fatalf("rewritten history passed the anchors: %+v %v", rep, err)
	}
}

// A node re-keyed keeps its trail: the records before the change verify
// against its former key, the later ones against its new key, and a
// replaced key signs nothing after the trail moved on.
func TestTrailVerifiesAcrossAKeyReplacement(t *testing.T) {
	l, oldPub, path := newLog(t, 4)
	anchorAt := func(seq uint64) Anchor {
		t.Helper()
		recs, err := l.List(Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Seq == seq {
				return Anchor{Seq: seq, Head: r.Hash}
			}
		}
		t.Fatalf("no record %d", seq)
		return Anchor{}
	}
	before := anchorAt(4)
	oldKey := l.key
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	newPub, newKey, _ := ed25519.GenerateKey(rand.Reader)
	l, err := Open(path, newKey) // the operator swapped the node key
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 3 {
		if _, err := l.Append("registry.submit", "anchor.put", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	anchors := []Anchor{before, anchorAt(7)}

	rep, err := l.VerifyKeys([]ed25519.PublicKey{oldPub, newPub}, anchors)
	if err != nil || !rep.OK || rep.Records != 7 {
		t.Fatalf("verify with both keys: %+v %v", rep, err)
	}
	want := []KeySpan{{Key: 0, First: 1, Last: 4}, {Key: 1, First: 5, Last: 7}}
	if len(rep.Keys) != 2 || rep.Keys[0] != want[0] || rep.Keys[1] != want[1] {
		t.Fatalf("key runs %+v, want %+v", rep.Keys, want)
	}
	// Either key alone, or the keys in the wrong order, does not verify.
	for name, keys := range map[string][]ed25519.PublicKey{
		"the new key only": {newPub}, "the old key only": {oldPub}, "newest first": {newPub, oldPub},
	} {
		if rep, err := l.VerifyKeys(keys, anchors); !errors.Is(err, ErrBroken) || rep.OK {
			t.Fatalf("%s: %+v %v", name, rep, err)
		}
	}
	if _, err := l.VerifyKeys(nil, anchors); err == nil {
		t.Fatal("a verification without keys passed")
	}

	// A thief with the old key appends after the new key took over.
	l.key = oldKey
	if _, err := l.Append("policy.decision", "forged", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	rep, err = l.VerifyKeys([]ed25519.PublicKey{oldPub, newPub}, anchors)
	if !errors.Is(err, ErrBroken) || rep.FirstBad == nil || rep.FirstBad.Seq != 8 || !strings.Contains(rep.FirstBad.Reason, "a key the node had replaced") {
		t.Fatalf("a record signed by the replaced key after the new one: %+v %v", rep.FirstBad, err)
	}
}
