package api

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// Exchange is the request, grant and transfer service as the API exposes it.
type Exchange interface {
	RequestAccess(ctx context.Context, c exchange.Caller, owner, id, purpose, project string) (exchange.Answer, error)
	StartFetch(ctx context.Context, c exchange.Caller, owner, id, purpose, project string) (exchange.JobStatus, error)
	// Transfers lists the transfers c may see: operators and auditors
	// all of them, anyone else those they started.
	Transfers(ctx context.Context, c exchange.Caller) []exchange.JobStatus
	// Transfer is one transfer c may see; false for one that does not
	// exist or belongs to someone else, alike.
	Transfer(ctx context.Context, c exchange.Caller, id string) (exchange.JobStatus, bool)
	// OpenTransfer opens the verified file of a finished transfer for c to
	// download, once the download is on the audit record: the researcher
	// who started it, or an operator. It returns an error wrapping
	// exchange.ErrNotFound for a transfer c may not download, and
	// exchange.ErrAuditUnavailable when the record cannot be written.
	OpenTransfer(ctx context.Context, c exchange.Caller, id string) (exchange.JobStatus, *os.File, error)
	Grants(ctx context.Context) []exchange.GrantInfo
}

// Caller is the user as the exchange knows them; the exchange's role
// names (exchange.CallerOperator, exchange.CallerAuditor) are the API's.
func (u User) Caller() exchange.Caller {
	return exchange.Caller{Subject: u.Subject, Org: u.Org, Role: u.Role}
}

// AccessRequest is the body of POST /v1/requests and POST /v1/fetch.
type AccessRequest struct {
	Owner   string `json:"owner"`
	ID      string `json:"id"`
	Purpose string `json:"purpose"`
	Project string `json:"project,omitempty"`
}

// AccessAnswer is the answer of an allowed request.
type AccessAnswer struct {
	Allow       bool        `json:"allow"`
	Reasons     []string    `json:"reasons"`
	Rules       []string    `json:"rules"`
	Obligations []string    `json:"obligations"`
	Bundle      string      `json:"bundle"`
	Grant       *GrantBrief `json:"grant,omitempty"`
}

// GrantBrief names a grant without its token.
type GrantBrief struct {
	ID        string `json:"id"`
	ExpiresAt string `json:"expires_at"`
}

func (s *Server) routeExchange() {
	s.handle("POST /v1/requests", true, func(w http.ResponseWriter, r *http.Request) {
		var req AccessRequest
		if code, err := decodeBody(w, r, &req); err != nil {
			writeError(w, code, err.Error())
			return
		}
		u, _ := UserFrom(r.Context())
		ans, err := s.exchange.RequestAccess(r.Context(), u.Caller(), req.Owner, req.ID, req.Purpose, req.Project)
		if err != nil {
			writeExchangeError(w, err)
			return
		}
		d := ans.Decision
		out := AccessAnswer{Allow: d.Allow, Reasons: d.Reasons, Rules: d.Rules, Obligations: d.Obligations, Bundle: d.Bundle}
		if ans.GrantID != "" {
			out.Grant = &GrantBrief{ID: ans.GrantID, ExpiresAt: ans.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")}
		}
		writeJSON(w, http.StatusOK, out)
	})
	s.handle("POST /v1/fetch", true, func(w http.ResponseWriter, r *http.Request) {
		var req AccessRequest
		if code, err := decodeBody(w, r, &req); err != nil {
			writeError(w, code, err.Error())
			return
		}
		u, _ := UserFrom(r.Context())
		job, err := s.exchange.StartFetch(r.Context(), u.Caller(), req.Owner, req.ID, req.Purpose, req.Project)
		if err != nil {
			writeExchangeError(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, job)
	})
	// A researcher sees only the transfers they started; another's is
	// answered like one that does not exist.
	s.handle("GET /v1/transfers", true, func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		jobs := s.exchange.Transfers(r.Context(), u.Caller())
		if jobs == nil {
			jobs = []exchange.JobStatus{}
		}
		writeJSON(w, http.StatusOK, jobs)
	})
	s.handle("GET /v1/transfers/{id}", true, func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		job, ok := s.exchange.Transfer(r.Context(), u.Caller(), r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "no transfer "+r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, job)
	})
	// The verified file of a finished transfer, for the CLI to write where
	// the researcher asked. Each download is an audit record.
	s.handle("GET /v1/transfers/{id}/content", true, func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		job, f, err := s.exchange.OpenTransfer(r.Context(), u.Caller(), r.PathValue("id"))
		switch {
		case errors.Is(err, exchange.ErrNotFound):
			writeError(w, http.StatusNotFound, "no finished transfer "+r.PathValue("id"))
			return
		case errors.Is(err, exchange.ErrAuditUnavailable):
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Xborder-Sha256", job.SHA256)
		http.ServeContent(w, r, "", job.FinishedAt, f)
	})
	s.handle("GET /v1/grants", true, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.exchange.Grants(r.Context()))
	})
}

// writeExchangeError: a policy denial is 403 with its reasons; the
// caller's own mistake (an invalid ID, a request to this node itself, a
// fetch without a purpose or a grant) 400; an audit trail that cannot be
// written (here or at the owner) 503; a refusal by the owner 403; a
// transfer of the same dataset already running 409; an unknown member 404;
// an integrity failure or an owner that could not be reached 502.
func writeExchangeError(w http.ResponseWriter, err error) {
	var denied *policy.DeniedError
	var refused *exchange.RefusedError
	var integrity *exchange.IntegrityError
	var invalid *exchange.ValidationError
	switch {
	case errors.As(err, &denied):
		writeJSON(w, http.StatusForbidden, Error{Error: err.Error(), Code: http.StatusForbidden, Denied: true,
			Reasons: denied.Decision.Reasons, Rules: denied.Decision.Rules})
	case errors.As(err, &invalid), errors.Is(err, exchange.ErrBadName), errors.Is(err, exchange.ErrBadID):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, exchange.ErrAuditUnavailable):
		// This node's trail, or the owner's, cannot be written: nothing
		// was decided or moved; the same request may succeed later.
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.As(err, &refused):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.As(err, &integrity):
		writeError(w, http.StatusBadGateway, err.Error())
	case errors.Is(err, exchange.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, exchange.ErrTransferRunning):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusBadGateway, err.Error())
	}
}
