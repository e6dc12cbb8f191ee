package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xborder/xborder/audit"
)

// Audit is the node's audit trail as the API exposes it.
type Audit interface {
	AuditRecords(ctx context.Context, f audit.Filter) ([]audit.Record, audit.Head, error)
	VerifyAudit(ctx context.Context) (audit.Report, error)
	// VerifyPeerAudit verifies a partner's trail against the registry's
	// anchors; a name that is no member wraps ErrUnknownPeer, a refusal
	// is an *audit.RefusedError.
	VerifyPeerAudit(ctx context.Context, name string, detail audit.Detail) (audit.Report, error)
}

// ErrUnknownPeer is wrapped when a request names a partner that is not a
// member of the federation.
var ErrUnknownPeer = errors.New("unknown partner")

// AuditList is the answer of GET /v1/audit.
type AuditList struct {
	Records []audit.Record `json:"records"`
	Head    audit.Head     `json:"head"`
}

func (s *Server) routeAudit() {
	s.handle("GET /v1/audit", true, func(w http.ResponseWriter, r *http.Request) {
		f := audit.Filter{Type: r.URL.Query().Get("type")}
		if l := r.URL.Query().Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > 10000 {
				writeError(w, http.StatusBadRequest, "limit must be a number between 1 and 10000")
				return
			}
			f.Limit = n
		}
		recs, head, err := s.audit.AuditRecords(r.Context(), f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, AuditList{Records: recs, Head: head})
	})
	s.handle("GET /v1/audit/verify", true, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if name := q.Get("peer"); name != "" {
			detail := audit.Detail(q.Get("detail"))
			if detail == "" {
				detail = audit.DetailChain
			}
			if detail != audit.DetailChain && detail != audit.DetailRecords {
				writeError(w, http.StatusBadRequest, `detail must be "chain" or "records"`)
				return
			}
			s.verifyPeer(w, r, name, detail)
			return
		}
		rep, err := s.audit.VerifyAudit(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

func (s *Server) verifyPeer(w http.ResponseWriter, r *http.Request, name string, detail audit.Detail) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	rep, err := s.audit.VerifyPeerAudit(ctx, name, detail)
	var refused *audit.RefusedError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, rep)
	case errors.Is(err, ErrUnknownPeer):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.As(err, &refused):
		writeJSON(w, http.StatusForbidden, Error{Error: "denied by " + name + "'s audit policy: " + strings.Join(refused.Reasons, " "),
			Code: http.StatusForbidden, Denied: true, Reasons: refused.Reasons})
	default:
		// The partner could not be reached or broke off: not this
		// client's mistake.
		writeError(w, http.StatusBadGateway, fmt.Sprintf("verify %s's audit trail: %v", name, err))
	}
}
