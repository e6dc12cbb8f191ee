package exchange

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile/damage"
)

// exchange.db through a rolling upgrade: a store from before format
// stamps is stamped with its nonces kept; one from a newer release is
// refused.
func TestExchangeDBFormatVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), ExchangeDBFile)
	now := time.Unix(1_800_000_000, 0)
	db, err := openExchangeDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.useNonce("peerA", "n1", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	damage.Versions(t, path, exchangeFormat.Version, func() error {
		db, err := openExchangeDB(path)
		if err != nil {
			return err
		}
		return db.Close()
	})
	db, err = openExchangeDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.useNonce("peerA", "n1", now.Add(time.Minute), now); !errors.Is(err, ErrReplay) {
		t.Fatalf("the nonce after the stamps: %v, want ErrReplay", err)
	}
}

// node.db (the catalogue) likewise, its entries kept.
func TestCatalogueStoreFormatVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	db, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := putOwn(tx, Entry{ID: "air-quality", Title: "Air quality"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	damage.Versions(t, path, catalogueFormat.Version, func() error {
		db, err := openStore(path)
		if err != nil {
			return err
		}
		return db.Close()
	})
	db, err = openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bEntries).Get([]byte("air-quality")) == nil {
			t.Error("the entry is gone after the stamps")
		}
		return nil
	})
}
