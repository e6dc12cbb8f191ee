package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/internal/testkit"
)

// A node that deletes records of its trail and writes past its old anchors
// does not verify clean again: every anchor stays in the registry and
// verification checks all of them, on the node itself and from a partner
// over the audit protocol, which discloses only the hash chain's links.
// The records written since the last periodic anchor are anchored at a
// clean shutdown.
func TestAnAuditTrailRewrittenPastItsAnchorsIsCaughtByEveryone(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:3], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	fr, de := nodes[0], nodes[1]
	ctx := context.Background()
	anchorNow := func(n *Node) {
		t.Helper()
		testkit.Eventually(t, 30*time.Second, "anchored", func() bool { return n.audit.Anchor(ctx) == nil })
	}
	for i := range 3 {
		must(t, fr.record("test.event", "event", map[string]any{"i": i}))
		anchorNow(fr)
	}
	chain, err := fr.registry.Load().Anchors("fr-grandest")
	must(t, err)
	if len(chain) < 3 || consensus.VerifyAnchorChain(chain) != nil {
		t.Fatalf("anchors: %+v", chain)
	}

	// A partner verifies fr-grandest's trail from its links alone.
	var rep audit.Report
	testkit.Eventually(t, 20*time.Second, "de-bw has fr-grandest's anchors", func() bool {
		rep, err = de.audit.VerifyPeerAudit(ctx, "fr-grandest", audit.DetailChain)
		return err == nil && rep.OK && len(rep.Anchors) == len(chain)
	})
	if rep.ContentVerified || rep.Records == 0 {
		t.Fatalf("verification by a partner: %+v", rep)
	}
	// The records themselves are withheld by fr-grandest's policy.
	_, err = de.audit.VerifyPeerAudit(ctx, "fr-grandest", audit.DetailRecords)
	var refused *audit.RefusedError
	if !errors.As(err, &refused) || len(refused.Reasons) == 0 {
		t.Fatalf("records asked: %v", err)
	}

	// A clean shutdown anchors what was written since the last anchor.
	must(t, fr.record("test.event", "after the last anchor", nil))
	must(t, fr.Close())
	db, err := bolt.Open(filepath.Join(f.dirs[0], "audit.db"), 0o600, nil)
	must(t, err)
	var head audit.Head
	must(t, db.View(func(tx *bolt.Tx) error { return json.Unmarshal(tx.Bucket([]byte("meta")).Get([]byte("head")), &head) }))
	testkit.Eventually(t, 20*time.Second, "de-bw has the shutdown anchor", func() bool {
		a, err := de.registry.Load().Anchor("fr-grandest")
		return err == nil && a.Seq == head.Seq && a.Head == head.Hash
	})

	// The attack: the records after the first anchor are deleted and the
	// head moved back; the node then writes, and anchors, past the old
	// anchors, with its own key.
	first := chain[0]
	must(t, db.Update(func(tx *bolt.Tx) error {
		recs := tx.Bucket([]byte("records"))
		c := recs.Cursor()
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], first.Seq+1)
		for key, _ := c.Seek(k[:]); key != nil; key, _ = c.Seek(k[:]) {
			if err := recs.Delete(key); err != nil {
				return err
			}
		}
		h, _ := json.Marshal(audit.Head{Seq: first.Seq, Hash: first.Head})
		return tx.Bucket([]byte("meta")).Put([]byte("head"), h)
	}))
	must(t, db.Close())
	fr = f.start(0)
	for i := range 20 {
		must(t, fr.record("test.event", "rewritten", map[string]any{"i": i}))
	}
	anchorNow(fr)
	if latest, _ := fr.registry.Load().Anchor("fr-grandest"); latest.Seq <= head.Seq {
		t.Fatalf("the rewritten trail was not anchored past the old anchors: %+v", latest)
	}

	// Neither the node nor a partner sees a clean trail.
	rep, err = fr.audit.VerifyAudit(ctx)
	must(t, err)
	if rep.OK || rep.FirstBad == nil || rep.FirstBad.Seq <= first.Seq {
		t.Fatalf("a rewritten trail verified on its node: %+v", rep.FirstBad)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw sees the rewrite", func() bool {
		rep, err = de.audit.VerifyPeerAudit(ctx, "fr-grandest", audit.DetailChain)
		return err == nil && !rep.OK
	})
	if rep.FirstBad == nil || rep.FirstBad.Seq <= first.Seq {
		t.Fatalf("partner's report: %+v", rep)
	}
}
