package boltfile

import (
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// A store's format version lives in its "meta" bucket: "format" is the
// layout's version as decimal text (readable with the bbolt tool), and
// "release" the xborder release that created or last migrated the file.
// Stores that already keep bookkeeping in a "meta" bucket (the audit
// trail, the registry) share it: none of their keys is called "format" or
// "release".
var (
	MetaBucket = []byte("meta")
	keyFormat  = []byte("format")
	keyRelease = []byte("release")
)

// Release is the xborder release this process runs, recorded in a store
// when it is created or migrated so that a refused file can say which
// release wrote it. The node sets it from its build-time version; empty,
// nothing is recorded.
var Release string

// Migration rewrites a store of one format version into the next, inside
// the one read-write transaction that runs every pending migration.
type Migration func(tx *bolt.Tx) error

// Format is the layout version of one kind of store and how to bring an
// older file up to it.
type Format struct {
	// Name is the store as the operator knows it, e.g. "audit trail".
	Name string
	// Version is the layout this binary reads and writes, 1 or more.
	Version uint64
	// Migrations[v] turns a file of version v into version v+1. Version 0
	// is a file made before stores carried a version: its layout is
	// version 1's, so the step from 0 needs no entry (only the stamp).
	// Every other step up to Version must have one.
	Migrations map[uint64]Migration
}

// FormatError reports a store written by a newer xborder than this one:
// its format version is above what this binary knows. Opening it would
// be a silent downgrade, which is not supported.
type FormatError struct {
	File    string // the file's path
	Store   string // Format.Name
	Found   uint64 // the version in the file
	Known   uint64 // the newest version this binary knows
	Release string // the release that wrote the file, when it recorded one
}

func (e *FormatError) Error() string {
	by := "a newer xborder"
	if e.Release != "" {
		by = "xborder " + e.Release
	}
	return fmt.Sprintf("%s %s was written by %s (store format %d; this binary knows formats up to %d): "+
		"downgrades are not supported; run that release or a newer one, or restore a backup taken with this release",
		e.Store, e.File, by, e.Found, e.Known)
}

// OpenFormat opens the bbolt file at path as Open does, then checks and
// brings its format up to f (see CheckFormat). The file is closed again
// when the check fails: a *FormatError for a file from a newer release, a
// *CorruptError with remedy for an unreadable version stamp.
func OpenFormat(path string, opts *bolt.Options, remedy string, f Format) (*bolt.DB, error) {
	db, err := Open(path, opts, remedy)
	if err != nil {
		return nil, err
	}
	if _, err := CheckFormat(db, f); err != nil {
		db.Close()
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		var be *badStampError
		if errors.As(err, &be) {
			return nil, &CorruptError{File: path, Remedy: remedy, Err: err}
		}
		return nil, fmt.Errorf("%s %s: %w", f.Name, path, err)
	}
	return db, nil
}

// badStampError is a "format" value that is not a version number.
type badStampError struct{ raw []byte }

func (e *badStampError) Error() string {
	return fmt.Sprintf("its format stamp %q is not a version number", e.raw)
}

// CheckFormat reads db's format version and returns it as found. A new
// file (no bucket yet) is stamped with f.Version; a file without a stamp
// (made before stores carried one) counts as version 0; an older version
// is migrated to f.Version, every step and the new stamp in one
// transaction, so a migration failing mid-way leaves the file as it was; a
// newer version gives a *FormatError and leaves the file untouched.
func CheckFormat(db *bolt.DB, f Format) (found uint64, err error) {
	if f.Version == 0 {
		return 0, errors.New("boltfile: format version 0 is reserved for unstamped files")
	}
	var fresh bool
	var release string
	if err := db.View(func(tx *bolt.Tx) error {
		fresh = isEmpty(tx)
		found, release, err = readStamp(tx)
		return err
	}); err != nil {
		return 0, err
	}
	switch {
	case found == f.Version:
		return found, nil
	case found > f.Version:
		return found, &FormatError{File: db.Path(), Store: f.Name, Found: found, Known: f.Version, Release: release}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if !fresh {
			for v := found; v < f.Version; v++ {
				m, ok := f.Migrations[v]
				if !ok {
					if v == 0 {
						continue
					}
					return fmt.Errorf("no migration from format %d to %d", v, v+1)
				}
				if err := m(tx); err != nil {
					return fmt.Errorf("migrate from format %d to %d: %w", v, v+1, err)
				}
			}
		}
		return stamp(tx, f.Version)
	})
	return found, err
}

// isEmpty reports whether the file holds no bucket: bbolt has just
// created it.
func isEmpty(tx *bolt.Tx) bool {
	k, _ := tx.Cursor().First()
	return k == nil
}

// readStamp returns the file's format version (0 when it has none) and
// the release recorded with it.
func readStamp(tx *bolt.Tx) (uint64, string, error) {
	b := tx.Bucket(MetaBucket)
	if b == nil {
		return 0, "", nil
	}
	raw := b.Get(keyFormat)
	if raw == nil {
		return 0, "", nil
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil || v == 0 {
		return 0, "", &badStampError{raw: append([]byte(nil), raw...)}
	}
	return v, string(b.Get(keyRelease)), nil
}

func stamp(tx *bolt.Tx, version uint64) error {
	b, err := tx.CreateBucketIfNotExists(MetaBucket)
	if err != nil {
		return err
	}
	if err := b.Put(keyFormat, strconv.AppendUint(nil, version, 10)); err != nil {
		return err
	}
	if Release == "" {
		return nil
	}
	return b.Put(keyRelease, []byte(Release))
}

// ReadFormat returns the format version stamped in db (0: none) and the
// release that stamped it.
func ReadFormat(db *bolt.DB) (version uint64, release string, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		version, release, err = readStamp(tx)
		return err
	})
	return version, release, err
}
