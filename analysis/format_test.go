package analysis

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/boltfile/damage"
)

// analysis.db through a rolling upgrade: a store from before format
// stamps is stamped with its nonces kept; one from a newer release is
// refused.
func TestStoreFormatVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "analysis.db")
	now := time.Unix(1_800_000_000, 0)
	s, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.useNonce("peerA", "n1", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	damage.Versions(t, path, storeFormat.Version, func() error {
		s, err := openStore(path)
		if err != nil {
			return err
		}
		return s.Close()
	})
	s, err = openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.useNonce("peerA", "n1", now.Add(time.Minute), now); !errors.Is(err, errReplay) {
		t.Fatalf("the nonce after the stamps: %v, want errReplay", err)
	}
}
