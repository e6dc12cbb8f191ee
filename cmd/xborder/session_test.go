package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/node/api"
)

// cliSessions is the node's console sessions in memory.
type cliSessions struct {
	mu       sync.Mutex
	sessions []api.ConsoleSession
}

func (c *cliSessions) ConsoleSessions(context.Context) ([]api.ConsoleSession, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]api.ConsoleSession(nil), c.sessions...), nil
}

func (c *cliSessions) RevokeConsoleSession(_ context.Context, id string) (api.ConsoleSession, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.sessions {
		if s.ID == id {
			c.sessions = append(c.sessions[:i], c.sessions[i+1:]...)
			return s, nil
		}
	}
	return api.ConsoleSession{}, api.ErrNoSession
}

func TestSessionListAndRevoke(t *testing.T) {
	now := time.Now()
	mem := &cliSessions{sessions: []api.ConsoleSession{
		{ID: "3f0c9a1b" + strings.Repeat("1", 56), Subject: "alice@uni-freiburg.de", Role: "researcher", Org: "Uni Freiburg", Method: "code",
			Created: now, LastSeen: now, Expires: now.Add(12 * time.Hour), IdleExpires: now.Add(time.Hour)},
		{ID: "3f0c9a1b" + strings.Repeat("2", 56), Subject: "dpo@region-grandest.fr", Role: "legal", Method: "oidc", Issuer: "https://idp.example.org",
			Created: now, LastSeen: now, Expires: now.Add(12 * time.Hour), IdleExpires: now.Add(time.Hour)},
	}}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	const nodeID = "12D3KooWALzKvL7u9t9Sf6RW9JSNRHtJcdXcU4tUpf9VzubwPNvG"
	reg := prometheus.NewRegistry()
	s := api.NewServer(api.Deps{Sessions: mem, Tokens: &api.Verifier{Key: key.Public().(ed25519.PublicKey), NodeID: nodeID}, Authz: allowAll{},
		Log: slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	tok, _ := api.IssueToken(key, nodeID, api.User{Subject: "op", Role: api.RoleOperator}, time.Hour, now)
	run := func(args ...string) (int, string, string) {
		return xb(t, append([]string{"--addr", srv.URL, "--token", tok}, args...)...)
	}

	code, out, errs := run("session", "list")
	if code != 0 || !strings.Contains(out, "alice@uni-freiburg.de") || !strings.Contains(out, "oidc https://idp.example.org") {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	// A prefix two sessions share is refused; a longer one picks one.
	if code, _, errs := run("session", "revoke", "3f0c9a1b"); code != exitUsage || !strings.Contains(errs, "2 sessions") {
		t.Fatalf("ambiguous prefix: %d %q", code, errs)
	}
	for _, bad := range []string{"xyz", "3f0c", "../../v1/backup", strings.Repeat("a", 65)} {
		if code, _, _ := run("session", "revoke", bad); code != exitUsage {
			t.Fatalf("revoke %q: exit %d", bad, code)
		}
	}
	code, out, errs = run("session", "revoke", "3f0c9a1b2")
	if code != 0 || !strings.Contains(out, "dpo@region-grandest.fr") {
		t.Fatalf("revoke: %d %q %q", code, out, errs)
	}
	if code, _, _ := run("session", "revoke", "3f0c9a1b2"); code != exitError {
		t.Fatalf("revoke again: exit %d", code)
	}
	if code, _, errs := run("session", "revoke", mem.sessions[0].ID); code != 0 {
		t.Fatalf("revoke by full ID: %q", errs)
	}
	code, out, _ = run("session", "list", "--json")
	var l []api.ConsoleSession
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l) != 0 {
		t.Fatalf("list after revoking both: %d %q", code, out)
	}
}
