package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xborder/xborder/node/api"
)

// A registry write the node committed but had not applied locally when it
// answered (202) is not reported as done: exit 5, with why on stderr.
func TestRegistryWriteCommittedButNotAppliedExitsFive(t *testing.T) {
	warning := "committed at index 42 but not yet applied on this node (applied up to 40): this replica is behind, or cannot write; reads here do not show the change yet"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/rhine-air/close" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(api.Committed{Index: 42, NotApplied: true, Warning: warning})
	}))
	defer srv.Close()

	code, out, errs := xb(t, "--data", t.TempDir(), "--addr", srv.URL, "--token", "t", "project", "close", "rhine-air")
	if code != exitNotApplied || out != "" || !strings.Contains(errs, "close rhine-air: committed at index 42 but not yet applied on this node") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
}
