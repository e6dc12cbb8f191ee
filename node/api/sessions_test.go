package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/exchange"
)

type memSessions struct {
	mu       sync.Mutex
	sessions map[string]ConsoleSession
	revoked  []string
	failWith error
}

func (m *memSessions) ConsoleSessions(context.Context) ([]ConsoleSession, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ConsoleSession
	for _, s := range m.sessions {
		out = append(out, s)
	}
	return out, nil
}

func (m *memSessions) RevokeConsoleSession(ctx context.Context, id string) (ConsoleSession, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failWith != nil {
		return ConsoleSession{}, m.failWith
	}
	s, ok := m.sessions[id]
	if !ok {
		return ConsoleSession{}, ErrNoSession
	}
	u, _ := UserFrom(ctx)
	delete(m.sessions, id)
	m.revoked = append(m.revoked, id+" by "+u.Subject)
	return s, nil
}

func (f *fixture) delete(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, f.http.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestConsoleSessionsEndpoints(t *testing.T) {
	f := newFixture(t)
	id := strings.Repeat("ab", 32)
	mem := &memSessions{sessions: map[string]ConsoleSession{id: {ID: id, Subject: "alice@uni-freiburg.de", Role: RoleResearcher,
		Method: "code", Created: time.Now(), LastSeen: time.Now(), Expires: time.Now().Add(time.Hour), IdleExpires: time.Now().Add(time.Hour)}}}
	op, researcher := f.token(t, RoleOperator, time.Hour), f.token(t, RoleResearcher, time.Hour)

	if code, _ := f.get(t, "/v1/sessions", op); code != http.StatusNotImplemented {
		t.Fatalf("without a store: %d", code)
	}
	f.server.sessions = mem
	code, body := f.get(t, "/v1/sessions", op)
	var list []ConsoleSession
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 1 || list[0].Subject != "alice@uni-freiburg.de" {
		t.Fatalf("list: %d %s", code, body)
	}
	// A researcher may neither see nor end anybody's session.
	if code, _ := f.get(t, "/v1/sessions", researcher); code != http.StatusForbidden {
		t.Fatalf("researcher list: %d", code)
	}
	if code, _ := f.delete(t, "/v1/sessions/"+id, researcher); code != http.StatusForbidden {
		t.Fatalf("researcher revoke: %d", code)
	}
	if code, _ := f.delete(t, "/v1/sessions/"+id, ""); code != http.StatusUnauthorized {
		t.Fatalf("anonymous revoke: %d", code)
	}
	for _, bad := range []string{"x", strings.Repeat("AB", 32), strings.Repeat("a", 65), "%2e%2e"} {
		if code, _ := f.delete(t, "/v1/sessions/"+bad, op); code != http.StatusBadRequest && code != http.StatusNotFound {
			t.Fatalf("revoke %q: %d", bad, code)
		}
	}
	mem.failWith = fmt.Errorf("%w: disk full", exchange.ErrAuditUnavailable)
	if code, _ := f.delete(t, "/v1/sessions/"+id, op); code != http.StatusServiceUnavailable {
		t.Fatalf("revoke without audit: %d", code)
	}
	mem.failWith = nil
	if code, body := f.delete(t, "/v1/sessions/"+id, op); code != http.StatusOK || !strings.Contains(body, "alice@uni-freiburg.de") {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if len(mem.revoked) != 1 || mem.revoked[0] != id+" by alice" {
		t.Fatalf("revoked %v", mem.revoked)
	}
	if code, _ := f.delete(t, "/v1/sessions/"+id, op); code != http.StatusNotFound {
		t.Fatalf("second revoke: %d", code)
	}
	if code, body := f.get(t, "/v1/sessions", op); code != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("empty list: %d %s", code, body)
	}
}
