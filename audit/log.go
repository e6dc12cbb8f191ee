package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// Record is one entry of the trail.
type Record struct {
	// V is the record's format: 2 for every record written now, 0 for the
	// first format (whose hash covers the content directly).
	V       int             `json:"v,omitempty"`
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Type    string          `json:"type"`    // e.g. policy.decision, registry.submit, policy.reload
	Subject string          `json:"subject"` // what the record is about
	Details json.RawMessage `json:"details"`
	Prev    string          `json:"prev"` // hash of the previous record; "" for the first
	Hash    string          `json:"hash"` // hex SHA-256: see computeHash
	Sig     string          `json:"sig"`  // base64url Ed25519 signature of the hash
}

// RecordFormat is the format of the records Append writes.
const RecordFormat = 2

// body is what the first format's hash covers, in a fixed field order.
type body struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Details json.RawMessage `json:"details"`
	Prev    string          `json:"prev"`
}

// content is what a record says, without its place in the chain.
type content struct {
	Time    time.Time       `json:"time"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Details json.RawMessage `json:"details"`
}

// contentHash is the hex SHA-256 of what the record says.
func (r *Record) contentHash() string {
	raw, _ := json.Marshal(content{Time: r.Time, Type: r.Type, Subject: r.Subject, Details: r.Details})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// computeHash is the record's hash. In format 2 it is linkHash(seq, prev,
// content hash): a partner recomputes it from the link alone, so a head
// anchored in the registry fixes every record before it, content included,
// without the content being shown. The first format hashed the content
// with the chain fields at once.
func (r *Record) computeHash() string {
	if r.V == 2 {
		return linkHash(r.Seq, r.Prev, r.contentHash())
	}
	raw, _ := json.Marshal(body{Seq: r.Seq, Time: r.Time, Type: r.Type, Subject: r.Subject, Details: r.Details, Prev: r.Prev})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// linkHash binds a record's place in the chain to its content's hash.
func linkHash(seq uint64, prev, contentHash string) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], seq)
	h.Write([]byte("xborder-audit/2\x00"))
	h.Write(n[:])
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write([]byte(contentHash))
	return hex.EncodeToString(h.Sum(nil))
}

var (
	bRecords = []byte("records")
	bMeta    = []byte("meta")
	keyHead  = []byte("head")
)

// Log is a node's audit trail in audit.db.
type Log struct {
	mu  sync.Mutex
	db  *bolt.DB
	key ed25519.PrivateKey
	now func() time.Time
}

// storeFormat is audit.db's layout version (see boltfile.Format). Each
// record also carries its own format (Record.V), which the hash covers.
var storeFormat = boltfile.Format{Name: "audit trail", Version: 1}

// Open opens (or creates) the trail at path, signing with key.
func Open(path string, key ed25519.PrivateKey) (*Log, error) {
	// The trail is this node's own: no partner holds a copy to resync from.
	db, err := boltfile.OpenFormat(path, &bolt.Options{Timeout: 5 * time.Second}, boltfile.RestoreFromBackup, storeFormat)
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bRecords, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Log{db: db, key: key, now: time.Now}, nil
}

// Close closes the trail.
func (l *Log) Close() error { return l.db.Close() }

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// Append adds a record after the current head and returns it.
func (l *Log) Append(typ, subject string, details any) (Record, error) {
	raw, err := json.Marshal(details)
	if err != nil {
		return Record{}, fmt.Errorf("encode audit details: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var rec Record
	err = l.db.Update(func(tx *bolt.Tx) error {
		head := Head{}
		if h := tx.Bucket(bMeta).Get(keyHead); h != nil {
			if err := json.Unmarshal(h, &head); err != nil {
				return err
			}
		}
		rec = Record{V: RecordFormat, Seq: head.Seq + 1, Time: l.now().UTC().Truncate(time.Microsecond), Type: typ, Subject: subject,
			Details: raw, Prev: head.Hash}
		rec.Hash = rec.computeHash()
		hash, _ := hex.DecodeString(rec.Hash)
		rec.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(l.key, hash))
		enc, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bRecords).Put(seqKey(rec.Seq), enc); err != nil {
			return err
		}
		h, _ := json.Marshal(Head{Seq: rec.Seq, Hash: rec.Hash})
		return tx.Bucket(bMeta).Put(keyHead, h)
	})
	return rec, err
}

// Head is the latest record's sequence number and hash.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"head"`
}

// Head returns the current head; Seq 0 for an empty trail.
func (l *Log) Head() (Head, error) {
	var h Head
	err := l.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bMeta).Get(keyHead); raw != nil {
			return json.Unmarshal(raw, &h)
		}
		return nil
	})
	return h, err
}

// Filter selects records for List.
type Filter struct {
	Limit int    // newest first; 0 means 100
	Type  string // exact record type; empty: all
}

// List returns the newest records first.
func (l *Log) List(f Filter) ([]Record, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	out := []Record{}
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bRecords).Cursor()
		for k, v := c.Last(); k != nil && len(out) < f.Limit; k, v = c.Prev() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("audit record %d is unreadable: %w", binary.BigEndian.Uint64(k), err)
			}
			if f.Type == "" || r.Type == f.Type {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// Backup writes a consistent copy of the trail's file to sink, under the
// file's base name, while the trail stays open.
func (l *Log) Backup(sink boltfile.Sink) error {
	return boltfile.Copy(l.db, filepath.Base(l.db.Path()), sink)
}

// hashAt returns the hash of the record at seq ("" when there is none).
func (l *Log) hashAt(seq uint64) (string, error) {
	var hash string
	err := l.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bRecords).Get(seqKey(seq))
		if raw == nil {
			return nil
		}
		var r struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		hash = r.Hash
		return nil
	})
	return hash, err
}
