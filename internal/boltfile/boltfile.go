// Package boltfile opens the node's bbolt files so that a damaged file is
// reported as a *CorruptError that names the file and what the operator
// should do, never as a panic.
//
// bbolt trusts its file: it returns an error only when both meta pages are
// invalid, and otherwise panics on a page that does not say what it should
// be, or faults on a page past the end of a truncated file. Some of those
// panics happen in goroutines bbolt starts itself (a file opened with
// NoFreelistSync is walked in one at every read-write open), where no
// caller can recover them. So Open first checks the file read-only in the
// caller's goroutine, with faults turned into panics and panics into
// errors, and opens it for writing only once the check passed.
//
// # Caveats
//
// The check visits every page that a bucket reaches, once per open: its
// cost grows with the file (bbolt itself walks a NoFreelistSync file the
// same way at every open). Damage that happens after the open is not
// seen until the next one.
//
// A panic inside bbolt's read-write Open (a damaged freelist page) leaves
// that open's file handle and lock behind: bbolt never returned them. The
// caller is expected to stop, as `xborder run` does.
package boltfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// What the operator should do about a damaged file, by what the file holds.
const (
	// RestoreFromBackup: the file holds this node's own state, which no
	// partner has.
	RestoreFromBackup = "restore it from backup"
	// ResyncFromPartners: the file holds this node's replica of the
	// registry, which every partner also holds.
	ResyncFromPartners = "resync the registry from partners (move the file aside and restart; the node catches up from the others)"
)

// CorruptError reports a damaged bbolt file.
type CorruptError struct {
	File   string // the file's path
	Remedy string // what the operator should do, e.g. RestoreFromBackup
	Err    error  // what is wrong with it
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s is damaged (%v): %s", e.File, e.Err, e.Remedy)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Open opens the bbolt file at path with opts after checking it (see
// Check). A damaged file gives a *CorruptError with remedy; a file that
// does not exist yet is created by bbolt as usual.
func Open(path string, opts *bolt.Options, remedy string) (*bolt.DB, error) {
	if err := Check(path, opts, remedy); err != nil {
		return nil, err
	}
	var db *bolt.DB
	err := Guard(path, remedy, func() (err error) {
		db, err = bolt.Open(path, 0o600, opts)
		return err
	})
	if err != nil {
		return nil, wrapOpen(path, err)
	}
	return db, nil
}

// wrapOpen names the file in an error that is not already a *CorruptError
// (which names it).
func wrapOpen(path string, err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// Check opens the file at path read-only and visits every page its
// buckets reach. It returns a *CorruptError with remedy when the file is
// empty, truncated, has no valid meta page or holds a page that is not
// what its parent says; nil when the file does not exist; other errors
// (a lock held past opts.Timeout, a permission) as they are, wrapped with
// the path. Use it before handing the file to a library that opens it
// itself (raft-boltdb), and run that open under Guard.
func Check(path string, opts *bolt.Options, remedy string) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case info.Size() == 0:
		// bbolt writes its first pages as it creates a file: an empty
		// one has lost them.
		return &CorruptError{File: path, Remedy: remedy, Err: errors.New("the file is empty")}
	}
	ro := &bolt.Options{ReadOnly: true}
	if opts != nil {
		ro.Timeout, ro.PageSize = opts.Timeout, opts.PageSize
	}
	var db *bolt.DB
	if err := Guard(path, remedy, func() (err error) {
		db, err = bolt.Open(path, 0o600, ro)
		return err
	}); err != nil {
		return wrapOpen(path, err)
	}
	defer db.Close()
	return Guard(path, remedy, func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > info.Size() {
				return &CorruptError{File: path, Remedy: remedy,
					Err: fmt.Errorf("truncated: the file holds %d bytes, its pages reach %d", info.Size(), tx.Size())}
			}
			return walk(tx.Cursor())
		})
	})
}

// walk visits every key of a bucket and of the buckets nested in it, which
// reads every page they reach: bbolt checks each page's ID and type as it
// reads it.
func walk(c *bolt.Cursor) error {
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue
		}
		if b := c.Bucket().Bucket(k); b != nil {
			if err := walk(b.Cursor()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Guard runs fn, which works on the bbolt file at path, and turns what a
// damaged file makes bbolt do into a *CorruptError with remedy: a panic,
// a memory fault (a page past the end of the file) or one of bbolt's
// errors for invalid meta pages. Other errors come back as they are.
func Guard(path, remedy string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &CorruptError{File: path, Remedy: remedy, Err: fmt.Errorf("bbolt: %v", r)}
		}
	}()
	err = fn()
	var ce *CorruptError
	switch {
	case err == nil || errors.As(err, &ce):
		return err
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return &CorruptError{File: path, Remedy: remedy, Err: err}
	case tooSmall(path):
		// bbolt says "file size too small" without a sentinel.
		return &CorruptError{File: path, Remedy: remedy, Err: fmt.Errorf("truncated: %w", err)}
	default:
		return err
	}
}

// tooSmall reports whether the file at path cannot hold bbolt's two meta
// pages (of this machine's page size, which xborder never changes).
func tooSmall(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Size() < 2*int64(os.Getpagesize())
}
