package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/internal/testkit"
)

func TestAuditTrailRecordsAnchorsAndCatchesTampering(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	fr := nodes[0]
	ctx := context.Background()
	p := consensus.ProjectProposal{ID: "fr-de-ai", Title: "T", Themes: []string{"industry"}, Partners: []string{"fr-grandest", "de-bw"}}
	var err error
	testkit.Eventually(t, 30*time.Second, "the project is committed", func() bool {
		_, err = fr.clerk.Submit(ctx, consensus.OpProjectPropose, p)
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	must(t, err)
	for _, typ := range []string{auditNodeStart, auditRegistryDecision, auditRegistrySubmit} {
		recs, _, err := fr.audit.AuditRecords(ctx, audit.Filter{Type: typ})
		if err != nil || len(recs) == 0 {
			t.Fatalf("no %s record: %v", typ, err)
		}
	}
	// The head is anchored in the registry, and verification checks it.
	testkit.Eventually(t, 90*time.Second, "the audit head is anchored", func() bool {
		rep, err := fr.audit.VerifyAudit(ctx)
		return err == nil && rep.OK && len(rep.Anchors) == 1 && rep.Anchors[0].OK
	})

	// Tamper with a record while the node is down: verification names it.
	must(t, fr.Close())
	db, err := bolt.Open(filepath.Join(f.dirs[0], "audit.db"), 0o600, nil)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("records"))
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], 1)
		return b.Put(k[:], bytes.Replace(b.Get(k[:]), []byte("fr-grandest"), []byte("fr-grandesX"), 1))
	}))
	must(t, db.Close())
	fr = f.start(0)
	rep, err := fr.audit.VerifyAudit(ctx)
	must(t, err)
	if rep.OK || rep.FirstBad == nil || rep.FirstBad.Seq != 1 {
		t.Fatalf("a tampered trail verified: %+v", rep)
	}
}
