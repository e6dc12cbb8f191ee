package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// fileSink keeps a backup's files in memory, holding each to its size.
type fileSink struct {
	files map[string]*bytes.Buffer
	sizes map[string]int64
	fail  string // Create of this name fails, as a full disk would
}

func (s *fileSink) Create(name string, size int64) (io.Writer, error) {
	if name == s.fail {
		return nil, errors.New("no space left on device")
	}
	if _, dup := s.files[name]; dup {
		return nil, fmt.Errorf("%s written twice", name)
	}
	s.files[name], s.sizes[name] = new(bytes.Buffer), size
	return s.files[name], nil
}

func newFileSink() *fileSink {
	return &fileSink{files: map[string]*bytes.Buffer{}, sizes: map[string]int64{}}
}

// Backups taken while the leader writes, snapshots and compacts its log
// each hold a log store whose entries run without a gap from at most the
// snapshot's next index up to what was applied, raft's term, and the
// snapshot itself.
func TestBackupUnderCompactionReachesBackToItsSnapshot(t *testing.T) {
	c := newCluster(t, 2, 2)
	c.openAll(2)
	tn := c.waitLeader()
	partners := []string{c.nodes[0].name, c.nodes[1].name}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := tn.reg.Submit(context.Background(), OpProjectPropose, project(fmt.Sprintf("p%04d", i), partners...)); err != nil {
				t.Errorf("submit: %v", err)
				return
			}
		}
	}()
	defer func() { stop(); wg.Wait() }()
	withSnapshot := 0
	for round := 0; round < 40 || withSnapshot < 3; round++ {
		if t.Failed() || round > 400 {
			t.Fatalf("only %d of %d backups held a snapshot", withSnapshot, round)
		}
		s := newFileSink()
		if err := tn.reg.Backup(s); err != nil {
			t.Fatalf("backup %d: %v", round, err)
		}
		for name, b := range s.files {
			if int64(b.Len()) != s.sizes[name] {
				t.Fatalf("%s: %d bytes written, %d announced", name, b.Len(), s.sizes[name])
			}
		}
		if s.files["registry.db"] == nil || s.files["raft/raft.db"] == nil {
			t.Fatalf("backup %d holds %v", round, keys(s.files))
		}
		var snap *raft.SnapshotMeta
		for name, b := range s.files {
			if strings.HasPrefix(name, "raft/snapshots/") && strings.HasSuffix(name, "/meta.json") {
				if snap != nil {
					t.Fatalf("two snapshots in one backup: %v", keys(s.files))
				}
				snap = new(raft.SnapshotMeta)
				if err := json.Unmarshal(b.Bytes(), snap); err != nil {
					t.Fatal(err)
				}
				if s.files[strings.TrimSuffix(name, "meta.json")+"state.bin"] == nil {
					t.Fatalf("%s without its state.bin", name)
				}
			}
		}
		first, last := checkLog(t, s.files["raft/raft.db"].Bytes())
		if snap != nil {
			withSnapshot++
			if first > snap.Index+1 {
				t.Fatalf("backup %d: log %d..%d does not reach back to snapshot %d", round, first, last, snap.Index)
			}
		} else if first != 1 && last != 0 {
			t.Fatalf("backup %d: log from %d without a snapshot", round, first)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tn.dir, "raft", ".backup-*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// checkLog opens a backed-up log store and checks it holds raft's term
// and a run of entries without gaps; it returns the run's bounds.
func checkLog(t *testing.T, raw []byte) (first, last uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if term, err := s.GetUint64([]byte("CurrentTerm")); err != nil || term == 0 {
		t.Fatalf("term %d: %v", term, err)
	}
	first, _ = s.FirstIndex()
	last, _ = s.LastIndex()
	for i := first; i != 0 && i <= last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d of %d..%d: %v", i, first, last, err)
		}
	}
	return first, last
}

func keys(m map[string]*bytes.Buffer) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A sink that fails (a full disk) fails the backup and leaves nothing
// in the raft directory; the next backup works.
func TestBackupIntoAFailingSinkLeavesNothingBehind(t *testing.T) {
	c := newCluster(t, 2, 2)
	c.openAll(2)
	tn := c.waitLeader()
	if _, err := tn.reg.Submit(context.Background(), OpProjectPropose, project("p1", c.nodes[0].name, c.nodes[1].name)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"registry.db", "raft/raft.db"} {
		s := newFileSink()
		s.fail = name
		if err := tn.reg.Backup(s); err == nil || !strings.Contains(err.Error(), "no space") {
			t.Fatalf("failing %s: %v", name, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tn.dir, "raft", ".backup-*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if err := tn.reg.Backup(newFileSink()); err != nil {
		t.Fatal(err)
	}
}

// A compaction in the middle of the log's copy restarts the copy from the
// new first entry: the backup still reaches back to its snapshot.
func TestBackupRestartsTheLogCopyAfterACompaction(t *testing.T) {
	c := newCluster(t, 2, 2)
	c.openAll(2)
	tn := c.waitLeader()
	for i := range 40 {
		if _, err := tn.reg.Submit(context.Background(), OpProjectPropose, project(fmt.Sprintf("p%02d", i), c.nodes[0].name, c.nodes[1].name)); err != nil {
			t.Fatal(err)
		}
	}
	compacted := false
	var from uint64
	tn.reg.testHookCopyEntry = func(i uint64) {
		if compacted {
			return
		}
		compacted, from = true, i
		// A snapshot now compacts the log up to TrailingLogs before it,
		// under the copy.
		if err := tn.reg.raft.Snapshot().Error(); err != nil {
			t.Errorf("snapshot: %v", err)
		}
	}
	s := newFileSink()
	if err := tn.reg.Backup(s); err != nil {
		t.Fatal(err)
	}
	first, last := checkLog(t, s.files["raft/raft.db"].Bytes())
	if !compacted || first <= from {
		t.Fatalf("the copy was not restarted after the compaction: log %d..%d, copy started at %d", first, last, from)
	}
	var snapIndex uint64
	for name, b := range s.files {
		if strings.HasSuffix(name, "/meta.json") {
			var m raft.SnapshotMeta
			if err := json.Unmarshal(b.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			snapIndex = m.Index
		}
	}
	if snapIndex == 0 || first > snapIndex+1 {
		t.Fatalf("log %d..%d, snapshot at %d", first, last, snapIndex)
	}
	t.Logf("copy started at %d, restarted after the compaction: log %d..%d, snapshot at %d", from, first, last, snapIndex)
}
