package boltfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/internal/boltfile/damage"
)

// fill writes a few hundred kilobytes into path: buckets whose roots are
// pages of their own, one nested bucket and one inline bucket.
func fill(t *testing.T, path string, opts *bolt.Options) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"entries", "peers", "meta"} {
			b, err := tx.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			n := 1000
			if name == "meta" {
				n = 1 // inline
			}
			for i := range n {
				if err := b.Put(fmt.Appendf(nil, "k%06d", i), make([]byte, 120)); err != nil {
					return err
				}
			}
		}
		nested, err := tx.Bucket([]byte("peers")).CreateBucket([]byte("nested"))
		if err != nil {
			return err
		}
		for i := range 500 {
			if err := nested.Put(fmt.Appendf(nil, "n%06d", i), make([]byte, 80)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

var modes = []struct {
	name string
	opts *bolt.Options
}{
	{"freelist", &bolt.Options{Timeout: time.Second}},
	// bbolt walks such a file in a goroutine of its own when it opens it
	// for writing: a damaged page there cannot be recovered by a caller.
	{"no-freelist-sync", &bolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}},
}

func TestOpenReportsEachDamageAsCorruptNeverPanics(t *testing.T) {
	for _, m := range modes {
		for _, k := range damage.Kinds {
			t.Run(m.name+"/"+k.Name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "node.db")
				fill(t, path, m.opts)
				if err := k.Damage(path); err != nil {
					t.Fatal(err)
				}
				db, err := boltfile.Open(path, m.opts, boltfile.RestoreFromBackup)
				if err == nil {
					db.Close()
					t.Fatal("a damaged file opened")
				}
				var ce *boltfile.CorruptError
				if !errors.As(err, &ce) || ce.File != path || ce.Remedy != boltfile.RestoreFromBackup {
					t.Fatalf("want a *CorruptError naming %s, got %T: %v", path, err, err)
				}
				msg := err.Error()
				if strings.Contains(msg, "\n") || !strings.Contains(msg, path) || !strings.HasSuffix(msg, boltfile.RestoreFromBackup) {
					t.Fatalf("not one line naming the file and the remedy: %q", msg)
				}
				t.Log(msg)
			})
		}
	}
}

func TestOpenKeepsSoundAndNewFiles(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			sound := filepath.Join(dir, "sound.db")
			fill(t, sound, m.opts)
			for _, path := range []string{sound, filepath.Join(dir, "new.db")} {
				db, err := boltfile.Open(path, m.opts, boltfile.RestoreFromBackup)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestEmptyFileIsDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := boltfile.Open(path, nil, boltfile.RestoreFromBackup)
	var ce *boltfile.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("an empty file: %v", err)
	}
}

// A file locked by another handle is not damaged: the error says so.
func TestLockedFileIsNotReportedAsDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exchange.db")
	opts := &bolt.Options{Timeout: 100 * time.Millisecond}
	held, err := boltfile.Open(path, opts, boltfile.RestoreFromBackup)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, err = boltfile.Open(path, opts, boltfile.RestoreFromBackup)
	var ce *boltfile.CorruptError
	if !errors.Is(err, berrors.ErrTimeout) || errors.As(err, &ce) || !strings.Contains(err.Error(), path) {
		t.Fatalf("a locked file: %v", err)
	}
}

func TestGuardTurnsPanicsIntoCorruptErrors(t *testing.T) {
	err := boltfile.Guard("raft.db", boltfile.ResyncFromPartners, func() error { panic("invalid page type") })
	var ce *boltfile.CorruptError
	if !errors.As(err, &ce) || ce.File != "raft.db" || ce.Remedy != boltfile.ResyncFromPartners {
		t.Fatalf("%v", err)
	}
	other := errors.New("permission denied")
	if err := boltfile.Guard("raft.db", boltfile.ResyncFromPartners, func() error { return other }); err != other {
		t.Fatalf("another error changed: %v", err)
	}
}
