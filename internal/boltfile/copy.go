package boltfile

import (
	"fmt"
	"io"

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
