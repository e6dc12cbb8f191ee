package damage

import (
	"errors"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// Stamp rewrites the format version of the closed store at path, as a
// release other than this one would have left it: version 0 removes the
// stamp (a store made before stores carried one), a version above the
// store's own is a store from a newer release. release, when not empty,
// is recorded as the release that wrote it.
func Stamp(path string, version uint64, release string) error {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if version == 0 {
			if tx.Bucket(boltfile.MetaBucket) == nil {
				return nil
			}
			b := tx.Bucket(boltfile.MetaBucket)
			if err := b.Delete([]byte("format")); err != nil {
				return err
			}
			return b.Delete([]byte("release"))
		}
		b, err := tx.CreateBucketIfNotExists(boltfile.MetaBucket)
		if err != nil {
			return err
		}
		if err := b.Put([]byte("format"), strconv.AppendUint(nil, version, 10)); err != nil {
			return err
		}
		if release == "" {
			return nil
		}
		return b.Put([]byte("release"), []byte(release))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Format returns the format version stamped in the closed store at path
// (0: none).
func Format(path string) (uint64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	v, _, err := boltfile.ReadFormat(db)
	return v, err
}

// Versions runs a store's package's own open function (open opens the
// store at path and closes it again) against the versions a rolling
// upgrade meets: the current one, none (a store from before stamps: it is
// stamped version, its data kept) and a newer one (refused with a
// *boltfile.FormatError naming the file, and left as it was). The store
// ends stamped version again, for the caller to check its data.
func Versions(t testing.TB, path string, version uint64, open func() error) {
	t.Helper()
	stamped := func(want uint64) {
		t.Helper()
		if v, err := Format(path); err != nil || v != want {
			t.Fatalf("%s: format %d (%v), want %d", path, v, err, want)
		}
	}
	if err := open(); err != nil {
		t.Fatal(err)
	}
	stamped(version)
	if err := Stamp(path, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := open(); err != nil {
		t.Fatalf("a store from before format stamps: %v", err)
	}
	stamped(version)
	if err := Stamp(path, version+1, "next"); err != nil {
		t.Fatal(err)
	}
	err := open()
	var fe *boltfile.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("a store from a newer release: want a *boltfile.FormatError, got %T: %v", err, err)
	}
	if fe.File != path || fe.Found != version+1 || fe.Known != version || fe.Release != "next" {
		t.Fatalf("a store from a newer release: %+v", fe)
	}
	stamped(version + 1)
	if err := Stamp(path, version, ""); err != nil {
		t.Fatal(err)
	}
}
