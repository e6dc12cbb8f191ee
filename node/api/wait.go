package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Blocking reads. A registry read (GET /v1/projects, /v1/projects/{id},
// /v1/members, /v1/agreements, /v1/agreements/{id}) that names
// ?index=N is held until the local replica has applied index N, as
// Consul's blocking queries are: a client that wrote through one member
// (whose answer gave the index) reads the change from another member's
// replica without polling. ?wait= bounds the hold (a Go duration such as
// 10s; DefaultIndexWait when absent, at most MaxIndexWait). When it
// elapses, or the registry closes, the read answers as it would without
// index: its applied_index, lower than N, says that the replica has not
// caught up.
const (
	DefaultIndexWait = 10 * time.Second
	MaxIndexWait     = 60 * time.Second
)

// waitForIndex holds r until the registry has applied the ?index it
// names, within its ?wait. It answers 400 and returns false for a
// malformed index or wait; otherwise the handler goes on and answers
// with what the replica holds then.
func (s *Server) waitForIndex(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	raw := q.Get("index")
	if raw == "" {
		return true
	}
	index, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("index %q: want a registry index (an unsigned integer)", raw))
		return false
	}
	wait := DefaultIndexWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("wait %q: want a duration such as 10s (at most %v)", v, MaxIndexWait))
			return false
		}
		wait = min(d, MaxIndexWait)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	// Every way the wait ends leads to the same answer: what the replica
	// holds now. Its applied_index tells the client whether it got there.
	_ = s.registry.WaitApplied(ctx, index)
	return true
}
