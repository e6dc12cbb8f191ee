package exchange

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// The catalogue's buckets in node.db.
var (
	bEntries   = []byte("catalogue_entries")    // id -> Entry (own entries, tombstones included)
	bByVersion = []byte("catalogue_by_version") // version -> id, for deltas
	bRemote    = []byte("catalogue_remote")     // owner/id -> RemoteEntry
	bPeers     = []byte("catalogue_peers")      // owner -> PeerState
	bCatMeta   = []byte("catalogue_meta")
	keyVersion = []byte("version")
)

// RemoteEntry is a partner's entry in the local cache, with when it was
// last confirmed by its owner.
type RemoteEntry struct {
	Entry
	FetchedAt time.Time `json:"fetched_at"`
}

// PeerState is what this node knows of a partner's catalogue.
type PeerState struct {
	Owner     string    `json:"owner"`
	Version   uint64    `json:"version"`
	SyncedAt  time.Time `json:"synced_at"`
	LastError string    `json:"last_error,omitempty"`
}

// ErrNotFound is returned for a missing catalogue entry.
var ErrNotFound = errors.New("no such catalogue entry")

func versionKey(v uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], v)
	return k[:]
}

// catalogueFormat is node.db's layout version (see boltfile.Format).
var catalogueFormat = boltfile.Format{Name: "catalogue store", Version: 1}

func openStore(path string) (*bolt.DB, error) {
	db, err := boltfile.OpenFormat(path, &bolt.Options{Timeout: 5 * time.Second}, boltfile.RestoreFromBackup, catalogueFormat)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bEntries, bByVersion, bRemote, bPeers, bCatMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func getJSON[T any](b *bolt.Bucket, key []byte) (T, bool) {
	var v T
	raw := b.Get(key)
	if raw == nil {
		return v, false
	}
	// json.Unmarshal copies: the value outlives the transaction.
	if json.Unmarshal(raw, &v) != nil {
		return v, false
	}
	return v, true
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// putOwn stores an own entry under a new catalogue version and returns it.
func putOwn(tx *bolt.Tx, e Entry) (Entry, error) {
	meta := tx.Bucket(bCatMeta)
	var v uint64
	if raw := meta.Get(keyVersion); raw != nil {
		v = binary.BigEndian.Uint64(raw)
	}
	v++
	entries, byVersion := tx.Bucket(bEntries), tx.Bucket(bByVersion)
	if old, ok := getJSON[Entry](entries, []byte(e.ID)); ok {
		if err := byVersion.Delete(versionKey(old.Version)); err != nil {
			return e, err
		}
	}
	e.Version = v
	if err := putJSON(entries, []byte(e.ID), e); err != nil {
		return e, err
	}
	if err := byVersion.Put(versionKey(v), []byte(e.ID)); err != nil {
		return e, err
	}
	return e, meta.Put(keyVersion, versionKey(v))
}

func currentVersion(tx *bolt.Tx) uint64 {
	if raw := tx.Bucket(bCatMeta).Get(keyVersion); raw != nil {
		return binary.BigEndian.Uint64(raw)
	}
	return 0
}
