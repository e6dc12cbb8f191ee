package consensus

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/internal/boltfile/damage"
)

func formatGenesis(t *testing.T) []Member {
	var genesis []Member
	for i, name := range []string{"fr-grandest", "de-bw"} {
		_, id := fuzzMember(t, byte(i+1))
		genesis = append(genesis, Member{Name: name, Country: []string{"FR", "DE"}[i], Org: name, PeerID: id.String()})
	}
	return genesis
}

// registry.db through a rolling upgrade: a replica from before format
// stamps is stamped with its state unchanged; one from a newer release
// is refused.
func TestStateFormatVersions(t *testing.T) {
	genesis := formatGenesis(t)
	path := filepath.Join(t.TempDir(), "registry.db")
	f, err := openFSM(path, genesis)
	if err != nil {
		t.Fatal(err)
	}
	want := hashOf(f)
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	damage.Versions(t, path, stateFormat.Version, func() error {
		f, err := openFSM(path, genesis)
		if err != nil {
			return err
		}
		return f.close()
	})
	f, err = openFSM(path, genesis)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if got := hashOf(f); got != want {
		t.Fatalf("state %s after the stamps, want %s", got, want)
	}
}

// snapshotFile persists f's snapshot into a file, for damage.Stamp.
func snapshotFile(t *testing.T, f *fsm) string {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := os.WriteFile(path, sink.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readerOf(t *testing.T, path string) io.ReadCloser {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return io.NopCloser(bytes.NewReader(raw))
}

// A raft snapshot is registry.db whole: a replica refuses one from a
// leader running a newer release, keeping its own state, and migrates
// one from an older leader.
func TestRestoreChecksTheSnapshotFormat(t *testing.T) {
	genesis := formatGenesis(t)
	leader, err := openFSM(filepath.Join(t.TempDir(), "registry.db"), genesis)
	if err != nil {
		t.Fatal(err)
	}
	defer leader.close()
	snap := snapshotFile(t, leader)

	replicaPath := filepath.Join(t.TempDir(), "registry.db")
	replica, err := openFSM(replicaPath, genesis[:1])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { replica.close() }()
	own := hashOf(replica)
	if own == hashOf(leader) {
		t.Fatal("the replica must hold another state than the leader's for the test to mean anything")
	}

	if err := damage.Stamp(snap, stateFormat.Version+1, "next"); err != nil {
		t.Fatal(err)
	}
	err = replica.Restore(readerOf(t, snap))
	var fe *boltfile.FormatError
	if !errors.As(err, &fe) || fe.Found != stateFormat.Version+1 {
		t.Fatalf("restore of a newer snapshot: want a *boltfile.FormatError, got %T: %v", err, err)
	}
	if got := hashOf(replica); got != own {
		t.Fatalf("the refused snapshot changed the replica: %s, want %s", got, own)
	}
	if _, err := os.Stat(replicaPath + ".restore"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused snapshot is left behind: %v", err)
	}

	if err := damage.Stamp(snap, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := replica.Restore(readerOf(t, snap)); err != nil {
		t.Fatalf("restore of a snapshot from before format stamps: %v", err)
	}
	if got := hashOf(replica); got != hashOf(leader) {
		t.Fatalf("restored state %s, want the leader's %s", got, hashOf(leader))
	}
	if err := replica.close(); err != nil {
		t.Fatal(err)
	}
	if v, err := damage.Format(replicaPath); err != nil || v != stateFormat.Version {
		t.Fatalf("the restored replica's format: %d, %v", v, err)
	}
	if replica, err = openFSM(replicaPath, genesis[:1]); err != nil {
		t.Fatal(err)
	}
}
