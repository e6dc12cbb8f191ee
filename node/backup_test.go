package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/backup"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
)

// takeBackup asks n's API for a backup archive with a token of role.
func takeBackup(t *testing.T, n *Node, role string) (int, []byte) {
	t.Helper()
	tok, err := api.IssueToken(n.id.Key, n.id.PeerID.String(), api.User{Subject: "backup-" + role, Role: role}, time.Hour, time.Now())
	must(t, err)
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.APIAddr()+"/v1/backup", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the backup stream broke after %d bytes: %v (the node logs why: \"backup failed while streaming\")", len(body), err)
	}
	return resp.StatusCode, body
}

// A node backed up while registry commands and audit records are being
// written, then stopped, wiped and restored from the archive, rejoins
// with its identity, catches up with the registry (its state hash equals
// the others') and its audit trail verifies up to the backup.
func TestBackupUnderLoadRestoresANodeThatCatchesUp(t *testing.T) {
	names := fiveCountries[:3]
	f := newTestFed(t, "grand-est-ai", names, nil)
	for i := range f.cfgs {
		// Snapshots and compaction happen during the test: the archive
		// must carry a snapshot the copied log reaches back to.
		f.cfgs[i].Registry.SnapshotThreshold = 16
		f.cfgs[i].Registry.SnapshotInterval = Duration(200 * time.Millisecond)
		f.cfgs[i].Registry.TrailingLogs = 8
	}
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))
	target, writer := nodes[2], nodes[0]
	ctx := context.Background()
	for i := range 3 {
		id := fmt.Sprintf("river-levels-%d", i)
		_, err := target.catalogue.Publish(ctx, exchange.Publication{ID: id, Title: "River levels " + id, Theme: "bioeconomy",
			Classification: "open", FileName: id + ".csv"}, strings.NewReader(strings.Repeat("station,level\nkehl,3.1\n", 100*(i+1))))
		must(t, err)
	}
	propose := func(id string) error {
		_, err := writer.clerk.Submit(ctx, consensus.OpProjectPropose, consensus.ProjectProposal{ID: id, Title: "Rhine " + id,
			Themes: []string{"bioeconomy"}, Partners: []string{"fr-grandest", "de-bw"}})
		return err
	}
	testkit.Eventually(t, 30*time.Second, "the registry takes writes", func() bool {
		err := propose("warm-up")
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})

	testkit.Eventually(t, 30*time.Second, "the audit trail is anchored before the load", func() bool {
		a, err := writer.registry.Load().Anchor(target.cfg.Name)
		return err == nil && a.Seq > 0
	})

	// Load: registry commands through another member and audit records
	// on the node backed up, while the backup is taken.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var proposed, recorded int
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; loadCtx.Err() == nil; i++ {
			if err := propose(fmt.Sprintf("load-%03d", i)); err != nil {
				t.Errorf("propose under load: %v", err)
				return
			}
			proposed++
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; loadCtx.Err() == nil; i++ {
			if err := target.record("test.load", fmt.Sprint(i), map[string]any{"i": i}); err != nil {
				t.Errorf("record under load: %v", err)
				return
			}
			recorded++
			time.Sleep(time.Millisecond) // a steady stream, not a flood
		}
	}()
	testkit.Eventually(t, 20*time.Second, "the load reaches a snapshot", func() bool {
		return len(snapshotsOf(t, target)) > 0
	})

	// Only an operator takes a backup.
	for _, role := range []string{api.RoleResearcher, api.RoleLegal, api.RoleAuditor} {
		if code, body := takeBackup(t, target, role); code != http.StatusForbidden {
			t.Fatalf("%s: backup answered %d: %.200s", role, code, body)
		}
	}
	started := time.Now()
	code, archive := takeBackup(t, target, api.RoleOperator)
	took := time.Since(started)
	if code != http.StatusOK {
		t.Fatalf("backup: %d %s", code, archive)
	}
	stopLoad()
	wg.Wait()
	m, err := backup.Verify(bytes.NewReader(archive))
	must(t, err)
	t.Logf("backup under load: %d bytes (gzip) of %d files, %d bytes of files, in %v; %d registry commands and %d audit records written under load",
		len(archive), len(m.Files), m.Size(), took.Round(time.Millisecond), proposed, recorded)
	if m.PeerID != target.ID().String() || m.Node != target.cfg.Name || m.FederationID != target.FederationID() {
		t.Fatalf("manifest names %s %s %s", m.Node, m.PeerID, m.FederationID)
	}
	held := map[string]bool{}
	for _, f := range m.Files {
		held[f.Path] = true
	}
	for _, want := range []string{KeyFile, ConfigFile, AdminTokenFile, GenesisFile, "policies/api.rego", "audit.db", "registry.db",
		"raft/raft.db", "node.db", exchange.ExchangeDBFile, "analysis.db", "sessions.db"} {
		if !held[want] {
			t.Errorf("the archive lacks %s", want)
		}
	}
	var blobs, snapshot int
	for p := range held {
		switch {
		case strings.HasPrefix(p, "blobs/sha256/"):
			blobs++
		case strings.HasPrefix(p, "raft/snapshots/") && strings.HasSuffix(p, "/state.bin"):
			snapshot++
		}
	}
	if blobs < 3 || snapshot != 1 {
		t.Fatalf("the archive holds %d blobs and %d snapshots", blobs, snapshot)
	}
	backupHead := archivedAuditHead(t, archive)

	// The registry moves on after the backup.
	for i := range 5 {
		must(t, propose(fmt.Sprintf("after-backup-%d", i)))
	}
	// Lose the node: stop it and wipe its data dir.
	peerID := target.ID()
	must(t, target.Close())
	must(t, os.RemoveAll(f.dirs[2]))
	must(t, os.MkdirAll(f.dirs[2], 0o700)) // an empty data dir is a fine target
	started = time.Now()
	if _, err := Restore(bytes.NewReader(archive), f.dirs[2], peerID.String()); err != nil {
		t.Fatal(err)
	}
	t.Logf("restore: %v", time.Since(started).Round(time.Millisecond))
	// A second restore onto the restored node is refused.
	if _, err := Restore(bytes.NewReader(archive), f.dirs[2], ""); !errors.Is(err, backup.ErrNotEmpty) {
		t.Fatalf("restore over a node: %v", err)
	}

	restored := f.start(2)
	nodes[2] = restored
	if restored.ID() != peerID {
		t.Fatalf("restored as %s, was %s", restored.ID(), peerID)
	}
	testkit.Eventually(t, 30*time.Second, "full mesh after the restore", fullMesh(nodes))
	must(t, propose("after-restore"))
	testkit.Eventually(t, 30*time.Second, "the restored registry's state equals the others'", func() bool {
		want := writer.registry.Load().StateHash()
		for _, n := range nodes {
			if n.registry.Load().StateHash() != want {
				return false
			}
		}
		_, _, err := restored.clerk.Project(ctx, "after-restore")
		return err == nil
	})
	for _, id := range []string{"river-levels-0", "river-levels-2"} {
		if _, err := restored.catalogue.Get(restored.cfg.Name, id); err != nil {
			t.Fatalf("restored catalogue: %s: %v", id, err)
		}
	}
	// The node finds the registry anchoring records it lost, and says so
	// in its trail.
	var lastAnchored uint64
	if chain, err := (auditRegistry{restored}).AnchorChain(restored.cfg.Name); err == nil && len(chain) > 0 {
		lastAnchored = chain[len(chain)-1].Seq
	}
	if lastAnchored <= backupHead {
		t.Fatalf("no anchor past the backup's head %d (last %d): the restore lost no anchored record", backupHead, lastAnchored)
	}
	{
		testkit.Eventually(t, 20*time.Second, "the trail records the anchors ahead of it", func() bool {
			recs, _, err := restored.audit.AuditRecords(ctx, audit.Filter{Type: audit.TypeAnchorsAhead})
			if err != nil || len(recs) != 1 || recs[0].Seq <= backupHead {
				return false
			}
			var d struct {
				AnchoredSeq uint64 `json:"anchored_seq"`
			}
			return json.Unmarshal(recs[0].Details, &d) == nil && d.AnchoredSeq > backupHead
		})
	}
	// The trail verifies: chain, signatures, content and every anchor
	// committed up to the backup's head. The anchors of the records
	// written after the backup name records the restore lost: a full
	// verification reports them, and only them (docs/OPERATIONS.md).
	anchors, err := (auditRegistry{restored}).AnchorChain(restored.cfg.Name)
	must(t, err)
	full, err := restored.audit.VerifyAudit(ctx)
	must(t, err)
	for _, a := range full.Anchors {
		if !a.OK && a.Seq <= backupHead {
			t.Fatalf("anchor %d, before the backup's head %d, does not verify: %s", a.Seq, backupHead, a.Reason)
		}
	}
	var upToBackup []audit.Anchor
	for _, a := range anchors {
		if a.Seq <= backupHead {
			upToBackup = append(upToBackup, a)
		}
	}
	if len(upToBackup) == 0 {
		t.Fatal("no anchor up to the backup's head: the check below would check none")
	}
	must(t, restored.Close())
	trail, err := audit.Open(filepath.Join(f.dirs[2], "audit.db"), restored.id.Key)
	must(t, err)
	defer trail.Close()
	rep, err := trail.Verify(restored.id.PublicKey(), upToBackup)
	if err != nil || !rep.OK || rep.Records <= backupHead {
		t.Fatalf("restored trail: %+v, %v", rep, err)
	}
	t.Logf("restored trail: %d records verified, %d anchors up to the backup's head %d; %d later anchors name lost records",
		rep.Records, len(upToBackup), backupHead, len(anchors)-len(upToBackup))
}

// snapshotsOf lists the finished raft snapshots in n's data dir.
func snapshotsOf(t *testing.T, n *Node) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(n.dataDir, "raft", "snapshots"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tmp") {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// archivedAuditHead is the audit head an archive holds.
func archivedAuditHead(t *testing.T, archive []byte) uint64 {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "extracted")
	_, err := backup.Extract(bytes.NewReader(archive), dir, backup.ExtractOptions{})
	must(t, err)
	id, err := LoadKey(filepath.Join(dir, KeyFile))
	must(t, err)
	trail, err := audit.Open(filepath.Join(dir, "audit.db"), id.Key)
	must(t, err)
	defer trail.Close()
	h, err := trail.Head()
	must(t, err)
	// The archived raft log reaches back to the archived snapshot: raft
	// replays from the snapshot's index on.
	snaps, err := os.ReadDir(filepath.Join(dir, "raft", "snapshots"))
	must(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "raft", "snapshots", snaps[0].Name(), "meta.json"))
	must(t, err)
	var meta raft.SnapshotMeta
	must(t, json.Unmarshal(raw, &meta))
	log, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft", "raft.db"), NoSync: true})
	must(t, err)
	defer log.Close()
	first, err := log.FirstIndex()
	must(t, err)
	last, err := log.LastIndex()
	must(t, err)
	term, err := log.GetUint64([]byte("CurrentTerm"))
	must(t, err)
	if first == 0 || first > meta.Index+1 || last < meta.Index || term == 0 {
		t.Fatalf("archived raft log %d..%d (term %d), snapshot at %d", first, last, term, meta.Index)
	}
	t.Logf("archive: raft log %d..%d, snapshot %s at %d", first, last, meta.ID, meta.Index)
	return h.Seq
}
