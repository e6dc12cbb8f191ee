package exchange

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// ExchangeDBFile is the bbolt file, under the data dir, that holds the
// request nonces this node has accepted and the grants it has issued and
// received. It is apart from node.db (the catalogue's) so that neither
// service has to coordinate transactions or its open/close with the other.
const ExchangeDBFile = "exchange.db"

var (
	// nonces: issuer peer ID + "\x00" + jti → expiry (Unix ns, big endian).
	exchangeNonces = []byte("nonces")
	// grants: role + "/" + grant ID → GrantInfo as JSON.
	exchangeGrants = []byte("grants")
)

// grantRetention is how long a grant is listed after it expired.
const grantRetention = 90 * 24 * time.Hour

// exchangeDB is the bbolt store of the exchange service.
type exchangeDB struct {
	db *bolt.DB
}

// exchangeFormat is exchange.db's layout version (see boltfile.Format).
var exchangeFormat = boltfile.Format{Name: "exchange store", Version: 1}

func openExchangeDB(path string) (*exchangeDB, error) {
	// A locked file (another process, or a store not closed) fails after
	// the timeout instead of blocking the node's start forever.
	db, err := boltfile.OpenFormat(path, &bolt.Options{Timeout: 2 * time.Second}, boltfile.RestoreFromBackup, exchangeFormat)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{exchangeNonces, exchangeGrants} {
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
	return &exchangeDB{db: db}, nil
}

func (d *exchangeDB) Close() error { return d.db.Close() }

func nonceKey(issuer, jti string) []byte {
	return []byte(issuer + "\x00" + jti)
}

// useNonce records issuer's jti until expiry, or returns ErrReplay when it
// is already recorded and still remembered. Check and insert happen in one
// transaction, so two concurrent copies of a request cannot both pass.
func (d *exchangeDB) useNonce(issuer, jti string, expiry, now time.Time) error {
	key := nonceKey(issuer, jti)
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(exchangeNonces)
		if v := b.Get(key); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now.UnixNano() {
			return ErrReplay
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(expiry.UnixNano()))
		return b.Put(key, v[:])
	})
}

// prune forgets nonces whose requests have expired and grants expired for
// longer than grantRetention; it returns how many records it removed.
func (d *exchangeDB) prune(now time.Time) (int, error) {
	removed := 0
	err := d.db.Update(func(tx *bolt.Tx) error {
		var stale [][]byte
		err := tx.Bucket(exchangeNonces).ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= now.UnixNano() {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Bucket(exchangeNonces).Delete(k); err != nil {
				return err
			}
		}
		removed += len(stale)
		stale = stale[:0]
		err = tx.Bucket(exchangeGrants).ForEach(func(k, v []byte) error {
			var g GrantInfo
			if json.Unmarshal(v, &g) != nil || now.Sub(g.ExpiresAt) > grantRetention {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Bucket(exchangeGrants).Delete(k); err != nil {
				return err
			}
		}
		removed += len(stale)
		return nil
	})
	return removed, err
}

func grantKey(role GrantRole, id string) []byte { return []byte(string(role) + "/" + id) }

// putGrant stores a grant issued or held.
func (d *exchangeDB) putGrant(g GrantInfo) error {
	raw, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(exchangeGrants).Put(grantKey(g.Role, g.ID), raw)
	})
}

// grants lists the stored grants, in key order (role, then ID).
func (d *exchangeDB) grants() ([]GrantInfo, error) {
	var out []GrantInfo
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(exchangeGrants).ForEach(func(k, v []byte) error {
			var g GrantInfo
			// Unmarshal copies out of v, which is valid only in the tx.
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("grant %q: %w", k, err)
			}
			out = append(out, g)
			return nil
		})
	})
	return out, err
}

// grant returns one stored grant.
func (d *exchangeDB) grant(role GrantRole, id string) (GrantInfo, error) {
	var g GrantInfo
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(exchangeGrants).Get(grantKey(role, id))
		if v == nil {
			return errNoGrant
		}
		return json.Unmarshal(v, &g)
	})
	return g, err
}

var errNoGrant = errors.New("no such grant")
