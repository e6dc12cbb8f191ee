package sessionstore

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, dir string, c *clock) *Store {
	t.Helper()
	s, err := Open(DefaultConfig(dir), Deps{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)} }

var alice = Session{Subject: "alice@uni-freiburg.de", Role: "researcher", Org: "uni-freiburg", Method: MethodCode}

func TestSessionSurvivesReopen(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := open(t, dir, c)
	token, sess, err := s.Create(alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 43 || sess.ID != IDOf(token) || sess.ID == token {
		t.Fatalf("token %q, id %q: want 256 random bits and their hash as ID", token, sess.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, c)
	got, err := s.Lookup(token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != alice.Subject || got.Role != "researcher" || got.Org != "uni-freiburg" || got.Method != MethodCode ||
		!got.Expires.Equal(c.now().Add(12*time.Hour)) {
		t.Fatalf("after reopening: %+v", got)
	}
}

func TestTokenNotStored(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := open(t, dir, c)
	token, _, err := s.Create(alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	// What an operator sees (the ID) does not open the session.
	if _, err := s.Lookup(list[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup by ID: %v, want ErrNotFound", err)
	}
	if _, err := s.Lookup(token); err != nil {
		t.Fatal(err)
	}
}

func TestIdleTimeout(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	token, _, _ := s.Create(alice, 0)
	// Activity keeps it alive past several idle periods.
	for range 5 {
		c.add(50 * time.Minute)
		if _, err := s.Lookup(token); err != nil {
			t.Fatalf("active session refused: %v", err)
		}
	}
	c.add(time.Hour)
	if _, err := s.Lookup(token); !errors.Is(err, ErrExpired) {
		t.Fatalf("idle session: %v, want ErrExpired", err)
	}
	// Purged: gone, not just refused.
	if _, err := s.Lookup(token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second lookup: %v, want ErrNotFound", err)
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	token, _, _ := s.Create(alice, 0)
	short, _, _ := s.Create(alice, 2*time.Hour)
	for range 13 {
		c.add(55 * time.Minute) // active all along
		if _, err := s.Lookup(token); err != nil {
			t.Fatalf("active session refused before its lifetime: %v", err)
		}
	}
	c.add(55 * time.Minute)
	if _, err := s.Lookup(token); !errors.Is(err, ErrExpired) {
		t.Fatalf("after 12h50m of activity: %v, want ErrExpired", err)
	}
	if _, err := s.Lookup(short); !errors.Is(err, ErrExpired) {
		t.Fatalf("2h session: %v, want ErrExpired", err)
	}
}

func TestPurgeAndList(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	_, _, _ = s.Create(alice, 0)
	c.add(30 * time.Minute)
	live, _, _ := s.Create(alice, 0)
	c.add(45 * time.Minute)
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].ID != IDOf(live) {
		t.Fatalf("list = %+v, %v; want only the session seen 45m ago", list, err)
	}
	if n, err := s.Purge(); err != nil || n != 0 {
		t.Fatalf("purge after list: %d, %v", n, err)
	}
	c.add(time.Hour)
	if n, err := s.Purge(); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
}

func TestRevoke(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	token, sess, _ := s.Create(alice, 0)
	if err := s.Delete(sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked: %v", err)
	}
	if err := s.Delete(sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if err := s.Delete("../../etc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("junk id: %v", err)
	}
}

func TestOtherStoreRefuses(t *testing.T) {
	c := newClock()
	a, b := open(t, t.TempDir(), c), open(t, t.TempDir(), c)
	token, _, _ := a.Create(alice, 0)
	if _, err := b.Lookup(token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another node's session: %v", err)
	}
	for _, forged := range []string{"", "x", token + "A", token[:42], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := a.Lookup(forged); !errors.Is(err, ErrNotFound) {
			t.Fatalf("forged %q: %v", forged, err)
		}
	}
}

func TestConcurrentCreate(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	const n = 32
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok, _, err := s.Create(alice, 0)
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			t.Fatal("two sign-ins got the same token")
		}
		seen[tok] = true
		if _, err := s.Lookup(tok); err != nil {
			t.Fatal(err)
		}
	}
	if l, _ := s.List(); len(l) != n {
		t.Fatalf("%d sessions, want %d", len(l), n)
	}
}

func TestClosedStoreRefuses(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	token, _, _ := s.Create(alice, 0)
	_ = s.Close()
	if _, _, err := s.Create(alice, 0); err == nil {
		t.Fatal("a closed store created a session")
	}
	if _, err := s.Lookup(token); err == nil {
		t.Fatal("a closed store opened a session")
	}
}

func TestFull(t *testing.T) {
	c := newClock()
	cfg := DefaultConfig(t.TempDir())
	cfg.MaxSessions = 2
	s, err := Open(cfg, Deps{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, _ = s.Create(alice, 0)
	_, _, _ = s.Create(alice, 0)
	if _, _, err := s.Create(alice, 0); !errors.Is(err, ErrFull) {
		t.Fatalf("third: %v", err)
	}
	c.add(2 * time.Hour) // both idle: room again
	if _, _, err := s.Create(alice, 0); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	s := open(t, t.TempDir(), newClock())
	for _, in := range []Session{{}, {Subject: "a", Role: "operator"}, {Subject: "a", Method: MethodCode}, {Role: "x", Method: "password"}} {
		if _, _, err := s.Create(in, 0); !errors.Is(err, ErrBadSession) {
			t.Fatalf("%+v: %v", in, err)
		}
	}
	if err := (Config{Path: filepath.Join(t.TempDir(), File), Lifetime: time.Hour, IdleTimeout: time.Second, MaxSessions: 1}).Validate(); err == nil {
		t.Fatal("a 1s idle timeout passed")
	}
}

// Whatever a browser sends as its cookie, only the token Create returned
// opens the session.
func FuzzLookup(f *testing.F) {
	c := newClock()
	s, err := Open(DefaultConfig(f.TempDir()), Deps{Now: c.now})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	token, sess, err := s.Create(alice, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(token[:42])
	f.Add(sess.ID)
	f.Add("")
	f.Add("\x00")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := s.Lookup(v)
		if v == token {
			return
		}
		if err == nil || got.ID != "" {
			t.Fatalf("cookie %q opened %+v", v, got)
		}
	})
}
