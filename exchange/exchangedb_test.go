package exchange

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestNoncesRefuseReplaysAcrossRestartsUntilPruned(t *testing.T) {
	path := filepath.Join(t.TempDir(), ExchangeDBFile)
	now := time.Unix(1_800_000_000, 0)
	db, err := openExchangeDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.useNonce("peerA", "n1", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := db.useNonce("peerA", "n1", now.Add(time.Minute), now); !errors.Is(err, ErrReplay) {
		t.Fatalf("second use: %v, want ErrReplay", err)
	}
	// A jti is scoped to its issuer.
	if err := db.useNonce("peerB", "n1", now.Add(time.Minute), now); err != nil {
		t.Fatalf("same jti from another issuer: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = openExchangeDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.useNonce("peerA", "n1", now.Add(time.Minute), now.Add(time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("after a restart: %v, want ErrReplay", err)
	}
	later := now.Add(2 * time.Minute)
	if n, err := db.prune(later); err != nil || n != 2 {
		t.Fatalf("prune = %d, %v; want 2 expired nonces removed", n, err)
	}
	if err := db.useNonce("peerA", "n1", later.Add(time.Minute), later); err != nil {
		t.Fatalf("after its expiry a jti is forgotten: %v", err)
	}
}

func TestGrantsAreStoredAndPrunedLongAfterExpiry(t *testing.T) {
	db, err := openExchangeDB(filepath.Join(t.TempDir(), ExchangeDBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Unix(1_800_000_000, 0).UTC()
	g := GrantInfo{ID: "g1", Role: GrantHeld, Resource: "fr-grandest/air", SHA256: "ab", Size: 3,
		Obligations: []string{"cite"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour), Token: "t"}
	if err := db.putGrant(g); err != nil {
		t.Fatal(err)
	}
	got, err := db.grant(GrantHeld, "g1")
	if err != nil || got.Token != "t" || !got.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("grant = %+v, %v", got, err)
	}
	if _, err := db.grant(GrantIssued, "g1"); !errors.Is(err, errNoGrant) {
		t.Errorf("an issued grant of that ID: %v, want errNoGrant", err)
	}
	if n, _ := db.prune(now.Add(2 * time.Hour)); n != 0 {
		t.Errorf("a grant expired an hour ago was pruned")
	}
	if n, _ := db.prune(now.Add(time.Hour + grantRetention + time.Second)); n != 1 {
		t.Errorf("prune = %d, want the old grant removed", n)
	}
}
