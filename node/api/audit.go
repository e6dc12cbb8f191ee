package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/xborder/xborder/audit"
)

// Audit is the node's audit trail as the API exposes it.
type Audit interface {
	AuditRecords(ctx context.Context, f audit.Filter) ([]audit.Record, audit.Head, error)
	VerifyAudit(ctx context.Context) (audit.Report, error)
}

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
		rep, err := s.audit.VerifyAudit(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}
