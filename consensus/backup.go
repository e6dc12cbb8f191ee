package consensus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// raftStableKeys are the stable-store keys raft keeps (its term and vote;
// raft does not export their names) and the high-water mark this package
// keeps next to them.
var raftStableKeys = [][]byte{[]byte("CurrentTerm"), []byte("LastVoteTerm"), []byte("LastVoteCand"), keyAppliedHighWater}

// backupAttempts bounds the copies of the log that compaction may spoil.
const backupAttempts = 4

// Backup writes this replica's registry to sink while raft runs, under
// names relative to the registry's Dir: registry.db (a consistent copy
// of the state), raft/raft.db (a log store holding raft's term and vote
// and the log entries this replica had applied, all committed, so none
// of them can be truncated by a new leader) and the files of raft's
// latest snapshot, chosen after the log was copied, so that the log
// reaches back to it. A restored replica restores the snapshot, replays
// the log and is sent the rest by the leader.
func (r *Registry) Backup(sink boltfile.Sink) error {
	if err := r.fsm.backup(sink); err != nil {
		return err
	}
	raftDir := filepath.Join(r.cfg.Dir, "raft")
	tmp, err := os.MkdirTemp(raftDir, ".backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for attempt := 1; ; attempt++ {
		logPath := filepath.Join(tmp, fmt.Sprintf("raft-%d.db", attempt))
		first, err := r.copyLog(logPath)
		if err != nil {
			return err
		}
		snap, files, err := r.latestSnapshot(raftDir)
		if err != nil {
			return err
		}
		// The copied log must reach back to the snapshot (raft replays
		// from the snapshot's index on); a compaction between the two
		// copies can break that: copy again.
		if snap != nil && first > snap.Index+1 {
			closeAll(files)
			if attempt == backupAttempts {
				return fmt.Errorf("back up the raft log: compacted past snapshot %s %d times in a row", snap.ID, attempt)
			}
			continue
		}
		defer closeAll(files)
		if err := boltfile.CopyFile(sink, "raft/raft.db", logPath); err != nil {
			return err
		}
		for _, f := range files {
			if err := boltfile.CopyOpen(sink, filepath.ToSlash(filepath.Join("raft", "snapshots", snap.ID, filepath.Base(f.Name()))), f); err != nil {
				return err
			}
		}
		return nil
	}
}

// copyLog copies raft's term and vote and the applied log entries into a
// new log store at path, and returns the first index it holds (0 for
// none). An entry compacted away while it is copied restarts the copy
// from the new first index.
func (r *Registry) copyLog(path string) (uint64, error) {
	dst, err := raftboltdb.New(raftboltdb.Options{Path: path, NoSync: true})
	if err != nil {
		return 0, fmt.Errorf("back up the raft log: %w", err)
	}
	defer dst.Close()
	for _, k := range raftStableKeys {
		v, err := r.store.Get(k)
		switch {
		case errors.Is(err, raftboltdb.ErrKeyNotFound):
			continue
		case err != nil:
			return 0, err
		}
		if err := dst.Set(k, v); err != nil {
			return 0, err
		}
	}
	last := r.AppliedIndex()
	for attempt := 1; ; attempt++ {
		first, err := r.store.FirstIndex()
		if err != nil {
			return 0, err
		}
		if first == 0 || first > last {
			return 0, nil // everything applied is in the snapshot
		}
		err = copyEntries(r.store, dst, first, last, r.testHookCopyEntry)
		if err == nil {
			return first, dst.Sync()
		}
		if !errors.Is(err, raft.ErrLogNotFound) || attempt == backupAttempts {
			return 0, fmt.Errorf("back up the raft log: %w", err)
		}
		// Compacted under the copy: start again from the new first entry.
		if err := dst.DeleteRange(first, last); err != nil {
			return 0, err
		}
	}
}

// copyEntries copies the entries first..last from src to dst in batches.
// hook, when set, runs before each entry is read (tests compact the log
// there).
func copyEntries(src raft.LogStore, dst raft.LogStore, first, last uint64, hook func(index uint64)) error {
	const batch = 256
	logs := make([]*raft.Log, 0, batch)
	for i := first; i <= last; i++ {
		if hook != nil {
			hook(i)
		}
		l := new(raft.Log)
		if err := src.GetLog(i, l); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		logs = append(logs, l)
		if len(logs) == batch || i == last {
			if err := dst.StoreLogs(logs); err != nil {
				return err
			}
			logs = logs[:0]
		}
	}
	return nil
}

// latestSnapshot opens the files of raft's latest snapshot (nil when
// there is none). Open files stay readable when raft reaps the snapshot
// meanwhile; a snapshot reaped between the listing and the opening is
// listed again.
func (r *Registry) latestSnapshot(raftDir string) (*raft.SnapshotMeta, []*os.File, error) {
	for attempt := 1; ; attempt++ {
		metas, err := r.snaps.List()
		if err != nil || len(metas) == 0 {
			return nil, nil, err
		}
		m := metas[0]
		dir := filepath.Join(raftDir, "snapshots", m.ID)
		var files []*os.File
		for _, name := range []string{"meta.json", "state.bin"} {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				closeAll(files)
				files = nil
				if errors.Is(err, os.ErrNotExist) && attempt < backupAttempts {
					break
				}
				return nil, nil, fmt.Errorf("back up raft snapshot %s: %w", m.ID, err)
			}
			files = append(files, f)
		}
		if files != nil {
			return m, files, nil
		}
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// backup writes a consistent copy of registry.db to sink (a Restore in
// progress waits for it).
func (f *fsm) backup(sink boltfile.Sink) error {
	return f.view(func(tx *bolt.Tx) error {
		w, err := sink.Create("registry.db", tx.Size())
		if err != nil {
			return err
		}
		_, err = tx.WriteTo(w)
		return err
	})
}
