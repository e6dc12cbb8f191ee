package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBlockingReadWaitsForTheIndex(t *testing.T) {
	f := newFixture(t)
	reg := f.server.registry.(*memRegistry)
	reg.waiting, reg.applied = make(chan uint64, 1), make(chan struct{})
	tok := f.token(t, RoleOperator, time.Hour)

	// An index the replica has applied answers at once.
	if code, body := f.get(t, "/v1/projects?index=7", tok); code != http.StatusOK {
		t.Fatalf("index 7: %d %s", code, body)
	}

	type answer struct {
		code int
		body []byte
	}
	done := make(chan answer, 1)
	go func() {
		code, body := f.get(t, "/v1/members?index=8&wait=1m", tok)
		done <- answer{code, body}
	}()
	select {
	case idx := <-reg.waiting:
		if idx != 8 {
			t.Fatalf("waited for %d, want 8", idx)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not wait for index 8")
	}
	select {
	case a := <-done:
		t.Fatalf("answered before the replica applied index 8: %d %s", a.code, a.body)
	default:
	}
	close(reg.applied)
	select {
	case a := <-done:
		if a.code != http.StatusOK {
			t.Fatalf("after apply: %d %s", a.code, a.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer after the replica applied index 8")
	}
}

func TestBlockingReadAnswersAsTodayWhenTheWaitElapses(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, RoleOperator, time.Hour)
	start := time.Now()
	code, body := f.get(t, "/v1/projects?index=9&wait=30ms", tok)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Fatalf("answered after %v, before the wait elapsed", took)
	}
	var l ProjectList
	if err := json.Unmarshal(body, &l); err != nil || l.AppliedIndex != 7 {
		t.Fatalf("want the replica's applied index 7, got %s (%v)", body, err)
	}
}

func TestBlockingReadRefusesMalformedParameters(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, RoleOperator, time.Hour)
	for _, tc := range []struct{ query, names string }{
		{"index=-1", "index"}, {"index=seven", "index"}, {"index=8&wait=soon", "wait"}, {"index=8&wait=-1s", "wait"},
	} {
		code, body := f.get(t, "/v1/projects?"+tc.query, tok)
		if code != http.StatusBadRequest || !strings.Contains(string(body), tc.names) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.query, code, body, tc.names)
		}
	}
}
