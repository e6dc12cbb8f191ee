package analysis

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// DBFile is the bbolt file, under the data dir, of the analysis service:
// the query nonces it accepted, the row sets of the results it released to
// each member (the memory that refuses differencing), and the analyses its
// own researchers ran.
const DBFile = "analysis.db"

var (
	// nonces: issuer peer ID + "\x00" + jti → expiry (Unix ns).
	bucketNonces = []byte("nonces")
	// released: member + "\x00" + dataset id → bucket of sequence → the
	// released rows as a serialised roaring bitmap.
	bucketReleased = []byte("released")
	// analyses: analysis ID → Status as JSON.
	bucketAnalyses = []byte("analyses")
)

var errReplay = errors.New("query already received")

type store struct {
	db *bolt.DB
}

// storeFormat is analysis.db's layout version (see boltfile.Format).
var storeFormat = boltfile.Format{Name: "analysis store", Version: 1}

func openStore(path string) (*store, error) {
	db, err := boltfile.OpenFormat(path, &bolt.Options{Timeout: 2 * time.Second}, boltfile.RestoreFromBackup, storeFormat)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNonces, bucketReleased, bucketAnalyses} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) Close() error { return s.db.Close() }

// useNonce records issuer's jti until expiry, or returns errReplay when it
// is still remembered; check and insert are one transaction.
func (s *store) useNonce(issuer, jti string, expiry, now time.Time) error {
	key := []byte(issuer + "\x00" + jti)
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNonces)
		if v := b.Get(key); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now.UnixNano() {
			return errReplay
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(expiry.UnixNano()))
		return b.Put(key, v[:])
	})
}

// pruneNonces forgets the nonces of expired queries.
func (s *store) pruneNonces(now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketNonces).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= now.UnixNano() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// DifferencingError refuses a release whose rows differ from those of an
// earlier release to the same member by fewer than the minimum subset:
// the difference of the two results would describe those few people.
type DifferencingError struct {
	Differ int // rows in one set and not the other
	Min    int
}

// Error does not say by how many rows the sets differ: that count is
// itself below the minimum, and the refusal must not release it.
func (e *DifferencingError) Error() string {
	return fmt.Sprintf("its rows differ from those of an earlier result released to the same member, but by fewer than the minimum subset of %d rows: "+
		"the two results together would describe the rows that differ", e.Min)
}

// BudgetError refuses a release once a member has received MaxReleases
// results on one dataset: the memory that guards against differencing is
// bounded, and a release it cannot remember is not made.
type BudgetError struct{ Max int }

func (e *BudgetError) Error() string {
	return fmt.Sprintf("this member has received the %d results on this dataset that the owner remembers; the owner's operator decides whether to allow more", e.Max)
}

// release checks rows against every row set released earlier to member on
// dataset and remembers it, in one transaction, so two analyses in flight
// cannot both pass against the state before the other. The same set as an
// earlier one is no new disclosure and is not stored again; a set that
// differs by fewer than minDiff rows is a *DifferencingError.
func (s *store) release(member, dataset string, rows *roaring.Bitmap, minDiff, max int) error {
	key := []byte(member + "\x00" + dataset)
	n := rows.GetCardinality()
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketReleased).CreateBucketIfNotExists(key)
		if err != nil {
			return err
		}
		earlier := roaring.New()
		count := 0
		err = b.ForEach(func(_, v []byte) error {
			count++
			earlier.Clear()
			if _, err := earlier.ReadFrom(bytes.NewReader(v)); err != nil {
				return fmt.Errorf("released row set of %s on %s is damaged: %w", member, dataset, err)
			}
			// |A △ B| = |A| + |B| − 2|A ∩ B|
			diff := n + earlier.GetCardinality() - 2*rows.AndCardinality(earlier)
			if diff == 0 {
				return errSameRows
			}
			if diff < uint64(minDiff) {
				return &DifferencingError{Differ: int(diff), Min: minDiff}
			}
			return nil
		})
		if errors.Is(err, errSameRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if count >= max {
			return &BudgetError{Max: max}
		}
		rows.RunOptimize()
		var buf bytes.Buffer
		if _, err := rows.WriteTo(&buf); err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		return b.Put(k[:], buf.Bytes())
	})
}

var errSameRows = errors.New("the same rows were released before")

// putAnalysis stores a researcher's analysis.
func (s *store) putAnalysis(st Status) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAnalyses).Put([]byte(st.ID), raw)
	})
}

// analyses returns the stored analyses, oldest first (IDs sort by time).
func (s *store) analyses() ([]Status, error) {
	var out []Status
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAnalyses).ForEach(func(_, v []byte) error {
			var st Status
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			out = append(out, st)
			return nil
		})
	})
	return out, err
}

// analysis returns one stored analysis.
func (s *store) analysis(id string) (Status, bool, error) {
	var st Status
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAnalyses).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &st)
	})
	return st, found, err
}
