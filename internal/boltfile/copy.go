package boltfile

import (
	"errors"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Sink receives the files of a backup: Create starts the file name of
// exactly size bytes, and what is written to the returned writer is its
// content (until the next Create). The node's backup archive is one.
type Sink interface {
	Create(name string, size int64) (io.Writer, error)
}

// Copy writes a consistent copy of db to sink as name: the file as one
// read transaction sees it, written while the database stays open and
// writable (writers do not wait for the copy; a write that grows the
// file waits only for the remap, as with any long read).
func Copy(db *bolt.DB, name string, sink Sink) error {
	return db.View(func(tx *bolt.Tx) error {
		w, err := sink.Create(name, tx.Size())
		if err != nil {
			return err
		}
		if _, err := tx.WriteTo(w); err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
		return nil
	})
}

// CopyFile writes the regular file at path, which nobody writes while it
// is copied (a blob, a snapshot, a key), to sink as name. A symbolic link
// is followed.
func CopyFile(sink Sink, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return CopyOpen(sink, name, f)
}

// CopyOpen writes the open regular file f, which nobody writes while it
// is copied, to sink as name.
func CopyOpen(sink Sink, name string, f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	w, err := sink.Create(name, info.Size())
	if err != nil {
		return err
	}
	n, err := io.Copy(w, io.LimitReader(f, info.Size()))
	if err == nil && n != info.Size() {
		err = errors.New("the file shrank while it was copied")
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	return nil
}
