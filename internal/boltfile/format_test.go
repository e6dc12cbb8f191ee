package boltfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/internal/boltfile/damage"
)

var bData = []byte("data")

// oldStore writes a store as a release before format stamps did: data,
// no stamp.
func oldStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bData)
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v1"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func value(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	_ = db.View(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bData).Get([]byte("k")))
		return nil
	})
	return v
}

func stampOf(t *testing.T, path string) uint64 {
	t.Helper()
	v, err := damage.Format(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func setRelease(t *testing.T, r string) {
	old := boltfile.Release
	boltfile.Release = r
	t.Cleanup(func() { boltfile.Release = old })
}

func TestNewStoreIsStamped(t *testing.T) {
	setRelease(t, "1.4.0")
	path := filepath.Join(t.TempDir(), "new.db")
	ran := false
	f := boltfile.Format{Name: "test store", Version: 3, Migrations: map[uint64]boltfile.Migration{
		1: func(*bolt.Tx) error { ran = true; return nil },
		2: func(*bolt.Tx) error { ran = true; return nil },
	}}
	db, err := boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, f)
	if err != nil {
		t.Fatal(err)
	}
	v, rel, err := boltfile.ReadFormat(db)
	db.Close()
	if err != nil || v != 3 || rel != "1.4.0" {
		t.Fatalf("a new store: format %d, release %q, %v; want 3, 1.4.0", v, rel, err)
	}
	if ran {
		t.Error("a new store ran migrations: it is created in the current layout")
	}
}

// A store from before format stamps counts as version 0, whose layout is
// version 1's: it is stamped, then migrated through every later step in
// order, its data kept.
func TestOldStoreIsStampedAndMigrated(t *testing.T) {
	path := oldStore(t)
	var steps []uint64
	step := func(from uint64) boltfile.Migration {
		return func(tx *bolt.Tx) error {
			steps = append(steps, from)
			b := tx.Bucket(bData)
			return b.Put([]byte("k"), append(b.Get([]byte("k")), '+'))
		}
	}
	f := boltfile.Format{Name: "test store", Version: 3, Migrations: map[uint64]boltfile.Migration{1: step(1), 2: step(2)}}
	db, err := boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, f)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if len(steps) != 2 || steps[0] != 1 || steps[1] != 2 {
		t.Fatalf("migrations ran %v, want [1 2]", steps)
	}
	if v := stampOf(t, path); v != 3 {
		t.Errorf("format %d after the migration, want 3", v)
	}
	if got := value(t, path); got != "v1++" {
		t.Errorf("data %q after the migration, want v1++", got)
	}
	// The next open finds the current version: nothing runs again.
	steps = nil
	db, err = boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, f)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if len(steps) != 0 {
		t.Errorf("a current store ran migrations %v", steps)
	}
}

func TestUnstampedStoreAtVersion1(t *testing.T) {
	path := oldStore(t)
	db, err := boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, boltfile.Format{Name: "test store", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	found, err := boltfile.CheckFormat(db, boltfile.Format{Name: "test store", Version: 1})
	db.Close()
	if err != nil || found != 1 {
		t.Fatalf("after the stamp: %d, %v", found, err)
	}
	if v := value(t, path); v != "v1" {
		t.Errorf("data %q, want v1", v)
	}
}

// A store from a newer release is refused, named with the version and
// release that wrote it, and left as it was.
func TestNewerStoreIsRefused(t *testing.T) {
	path := oldStore(t)
	if err := damage.Stamp(path, 5, "2.0.0"); err != nil {
		t.Fatal(err)
	}
	_, err := boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, boltfile.Format{Name: "test store", Version: 2})
	var fe *boltfile.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("want a *FormatError, got %T: %v", err, err)
	}
	if fe.File != path || fe.Found != 5 || fe.Known != 2 || fe.Release != "2.0.0" || fe.Store != "test store" {
		t.Errorf("%+v", fe)
	}
	for _, want := range []string{path, "xborder 2.0.0", "format 5", "up to 2", "downgrades are not supported"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if v := stampOf(t, path); v != 5 {
		t.Errorf("the refused store's stamp is now %d", v)
	}
	if v := value(t, path); v != "v1" {
		t.Errorf("the refused store's data is now %q", v)
	}
	// The file is closed again: another open does not wait for its lock.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 1e9})
	if err != nil {
		t.Fatalf("the refused store is still locked: %v", err)
	}
	db.Close()
}

// A migration that fails after an earlier step (and itself) wrote leaves
// the store as it was: every step and the stamp are one transaction.
func TestFailedMigrationLeavesTheStoreAsItWas(t *testing.T) {
	path := oldStore(t)
	if err := damage.Stamp(path, 1, ""); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	f := boltfile.Format{Name: "test store", Version: 3, Migrations: map[uint64]boltfile.Migration{
		1: func(tx *bolt.Tx) error {
			if err := tx.Bucket(bData).Put([]byte("k"), []byte("v2")); err != nil {
				return err
			}
			_, err := tx.CreateBucket([]byte("new-in-2"))
			return err
		},
		2: func(tx *bolt.Tx) error {
			if err := tx.Bucket(bData).Put([]byte("k"), []byte("v3")); err != nil {
				return err
			}
			return boom
		},
	}}
	_, err := boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, f)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "from format 2 to 3") {
		t.Fatalf("want the migration's error naming the step, got %v", err)
	}
	if v := stampOf(t, path); v != 1 {
		t.Errorf("format %d after a failed migration, want 1", v)
	}
	if v := value(t, path); v != "v1" {
		t.Errorf("data %q after a failed migration, want v1", v)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("new-in-2")) != nil {
			t.Error("the failed migration's first step is in the file")
		}
		return nil
	})
	db.Close()
}

// A step without a migration fails closed: the store is not stamped as
// if it had been migrated.
func TestMissingMigrationFailsClosed(t *testing.T) {
	path := oldStore(t)
	if err := damage.Stamp(path, 1, ""); err != nil {
		t.Fatal(err)
	}
	_, err := boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, boltfile.Format{Name: "test store", Version: 2})
	if err == nil || !strings.Contains(err.Error(), "no migration from format 1 to 2") {
		t.Fatalf("got %v", err)
	}
	if v := stampOf(t, path); v != 1 {
		t.Errorf("format %d, want 1", v)
	}
}

// A stamp that is not a version number is damage, reported as such.
func TestBadStampIsCorrupt(t *testing.T) {
	path := oldStore(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(boltfile.MetaBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte("format"), []byte("v1\x00"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = boltfile.OpenFormat(path, nil, boltfile.RestoreFromBackup, boltfile.Format{Name: "test store", Version: 1})
	var ce *boltfile.CorruptError
	if !errors.As(err, &ce) || ce.File != path || ce.Remedy != boltfile.RestoreFromBackup {
		t.Fatalf("want a *CorruptError, got %T: %v", err, err)
	}
}

// Whatever a file's format stamp holds, CheckFormat never panics: it
// accepts the current version, migrates an older one, refuses a newer one
// with a *FormatError and anything else with an error, leaving the stamp.
func FuzzFormatStamp(f *testing.F) {
	for _, s := range []string{"1", "2", "3", "0", "", "-1", "18446744073709551615", "18446744073709551616", "1\x00", " 2", "+2", "0x2"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, stamp []byte) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("%d.db", n))
		defer os.Remove(path)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(boltfile.MetaBucket)
			if err != nil {
				return err
			}
			return b.Put([]byte("format"), stamp)
		}); err != nil {
			t.Fatal(err)
		}
		format := boltfile.Format{Name: "fuzz", Version: 2, Migrations: map[uint64]boltfile.Migration{1: func(*bolt.Tx) error { return nil }}}
		found, err := boltfile.CheckFormat(db, format)
		v, _, rerr := boltfile.ReadFormat(db)
		var fe *boltfile.FormatError
		switch {
		case err == nil:
			if v != 2 || rerr != nil {
				t.Fatalf("stamp %q accepted (found %d) but the file now says %d, %v", stamp, found, v, rerr)
			}
		case errors.As(err, &fe):
			if fe.Found <= 2 || v != fe.Found {
				t.Fatalf("stamp %q refused as %+v, file says %d", stamp, fe, v)
			}
		default:
			if rerr == nil && v == 2 {
				t.Fatalf("stamp %q failed (%v) yet the file says 2", stamp, err)
			}
		}
	})
}
