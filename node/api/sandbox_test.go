package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/policy"
)

// A legal user may evaluate queries in the playground; the query must not
// make the node send requests to an address of the user's choosing (an
// internal service the node can reach and the user cannot), nor read the
// node's environment.
func TestPolicyEvalCannotReachTheNetwork(t *testing.T) {
	var hits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"secret": "internal"}`))
	}))
	t.Cleanup(internal.Close)

	e, err := policy.NewEngine(context.Background(), "../../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := NewServer(Deps{
		Backend: fixedBackend{}, Policies: e, Authz: e,
		Registry: &memRegistry{}, Audit: memAudit{}, Catalogue: memCatalogue{}, Exchange: memExchange{},
		Tokens: &Verifier{Key: key.Public().(ed25519.PublicKey), NodeID: nodeID},
		Log:    slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg,
	})
	f := &fixture{key: key, server: s, http: httptest.NewServer(s.Handler())}
	t.Cleanup(f.http.Close)
	legal := f.token(t, RoleLegal, time.Hour)

	for _, tc := range []struct{ query, builtin string }{
		{`http.send({"method": "GET", "url": "` + internal.URL + `/admin"}).body`, "http.send"},
		{`x := http.send({"method": "GET", "url": input.url})`, "http.send"},
		{`net.lookup_ip_addr("localhost")`, "net.lookup_ip_addr"},
		{`opa.runtime().env`, "opa.runtime"},
		{`rand.intn("x", 100)`, "rand.intn"},
		{`json.match_schema({}, {"$ref": "` + internal.URL + `/schema.json"})`, "json.match_schema"},
	} {
		body, _ := json.Marshal(map[string]any{"query": tc.query, "input": map[string]any{"url": internal.URL}})
		code, out := f.post(t, "/v1/policy/eval", legal, string(body))
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(out), tc.builtin) {
			t.Errorf("eval %s: %d %s; want 422 naming %s", tc.query, code, out, tc.builtin)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the policy playground reached an internal server %d times", n)
	}
}
