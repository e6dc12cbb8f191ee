package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/policy"
)

// maxBody bounds request bodies the API reads.
const maxBody = 1 << 20

// PolicyReloadError is the answer of a refused reload: the compiler's
// message and the bundle that stays active.
type PolicyReloadError struct {
	Error  string      `json:"error"`
	Code   int         `json:"code"`
	Active policy.Info `json:"active"`
}

// PeerPolicy is the policy bundle a member declared active in the
// registry, as `policy show --peer` and GET /v1/policy/peers report it.
type PeerPolicy struct {
	Member     string    `json:"member"`
	Hash       string    `json:"hash,omitempty"`
	DeclaredAt time.Time `json:"declared_at,omitzero"`
	// Declared is false for a member that has not published its bundle.
	Declared bool `json:"declared"`
	// SameAsLocal: the member runs the bundle this node runs.
	SameAsLocal bool `json:"same_as_local"`
}

// PeerPolicies is each member's declared bundle as GET /v1/policy/peers
// reports it, compared with local, the hash of the bundle this node runs.
func PeerPolicies(declared []consensus.DeclaredPolicy, local string) []PeerPolicy {
	out := make([]PeerPolicy, 0, len(declared))
	for _, d := range declared {
		p := PeerPolicy{Member: d.Member}
		if d.Declared {
			p.Declared, p.Hash = true, d.Hash
			p.DeclaredAt = time.UnixMilli(d.TS).UTC()
			p.SameAsLocal = d.Hash == local
		}
		out = append(out, p)
	}
	return out
}

// PolicyEvalRequest is the body of POST /v1/policy/eval.
type PolicyEvalRequest struct {
	Query   string          `json:"query"`
	Input   json.RawMessage `json:"input"`
	Explain policy.Explain  `json:"explain,omitempty"`
}

func (s *Server) routePolicy() {
	s.handle("GET /v1/policy", true, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.policies.Info())
	})
	s.handle("GET /v1/policy/peers", true, func(w http.ResponseWriter, r *http.Request) {
		declared, err := s.registry.DeclaredPolicies(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "the registry is not available: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, PeerPolicies(declared, s.policies.Info().Hash))
	})
	s.handle("POST /v1/policy/reload", true, func(w http.ResponseWriter, r *http.Request) {
		info, err := s.policies.Reload(r.Context())
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, PolicyReloadError{
				Error: err.Error() + "; the last good policy stays active", Code: http.StatusUnprocessableEntity, Active: info,
			})
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
	s.handle("POST /v1/policy/eval", true, func(w http.ResponseWriter, r *http.Request) {
		var req PolicyEvalRequest
		if code, err := decodeBody(w, r, &req); err != nil {
			writeError(w, code, err.Error())
			return
		}
		if req.Query == "" {
			writeError(w, http.StatusBadRequest, "query is empty; e.g. data.xborder.exchange.decision")
			return
		}
		input, err := policy.ParseInput(req.Input)
		if err != nil {
			writeError(w, http.StatusBadRequest, "input: "+err.Error())
			return
		}
		res, err := s.policies.Eval(r.Context(), req.Query, input, req.Explain)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// decodeBody decodes a bounded JSON body, refusing unknown fields; on
// error it also returns the HTTP status to answer.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return http.StatusRequestEntityTooLarge, fmt.Errorf("the request body exceeds %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return http.StatusBadRequest, errors.New("the request body is empty")
		}
		return http.StatusBadRequest, errors.New("the request body is not valid JSON for this endpoint: " + err.Error())
	}
	if dec.More() {
		return http.StatusBadRequest, errors.New("the request body holds more than one JSON document")
	}
	return 0, nil
}
