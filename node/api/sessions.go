package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/xborder/xborder/exchange"
)

// ConsoleSession is a web console session as operators see it. ID is the
// hash of the browser's token: it names the session, it does not open it.
type ConsoleSession struct {
	ID          string    `json:"id"`
	Subject     string    `json:"sub"`
	Role        string    `json:"role"`
	Org         string    `json:"org,omitempty"`
	Method      string    `json:"method"`          // how the user signed in: "code" or "oidc"
	Issuer      string    `json:"iss,omitempty"`   // the OpenID Connect issuer (method oidc)
	Email       string    `json:"email,omitempty"` // as the issuer said at sign-in (method oidc)
	Created     time.Time `json:"created"`
	LastSeen    time.Time `json:"last_seen"`
	Expires     time.Time `json:"expires"`      // the absolute end
	IdleExpires time.Time `json:"idle_expires"` // the end without activity
}

// ConsoleSessions is the console's session store as operators manage it
// (the node, which records each revocation in its audit trail).
type ConsoleSessions interface {
	ConsoleSessions(ctx context.Context) ([]ConsoleSession, error)
	// RevokeConsoleSession ends the session with this ID and returns it
	// as it was: ErrNoSession when none has it,
	// exchange.ErrAuditUnavailable when the trail cannot record it (then
	// it is not revoked).
	RevokeConsoleSession(ctx context.Context, id string) (ConsoleSession, error)
}

// ErrNoSession is returned for a session ID no live session has
// (answered 404).
var ErrNoSession = errors.New("no such console session")

// sessionID is the form of a session ID: a hex SHA-256.
var sessionID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// routeSessions serves GET /v1/sessions and DELETE /v1/sessions/{id}.
func (s *Server) routeSessions() {
	s.handle("GET /v1/sessions", true, func(w http.ResponseWriter, r *http.Request) {
		if s.sessions == nil {
			writeError(w, http.StatusNotImplemented, "this node keeps no console sessions")
			return
		}
		list, err := s.sessions.ConsoleSessions(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "the console session store failed: "+err.Error())
			return
		}
		if list == nil {
			list = []ConsoleSession{}
		}
		writeJSON(w, http.StatusOK, list)
	})
	s.handle("DELETE /v1/sessions/{id}", true, func(w http.ResponseWriter, r *http.Request) {
		if s.sessions == nil {
			writeError(w, http.StatusNotImplemented, "this node keeps no console sessions")
			return
		}
		id := r.PathValue("id")
		if !sessionID.MatchString(id) {
			writeError(w, http.StatusBadRequest, "a session ID is 64 lowercase hex digits (see GET /v1/sessions)")
			return
		}
		switch sess, err := s.sessions.RevokeConsoleSession(r.Context(), id); {
		case err == nil:
			writeJSON(w, http.StatusOK, sess)
		case errors.Is(err, ErrNoSession):
			writeError(w, http.StatusNotFound, "no console session has ID "+id+" (signed out, expired or revoked already)")
		case errors.Is(err, exchange.ErrAuditUnavailable):
			writeError(w, http.StatusServiceUnavailable, err.Error())
		default:
			writeError(w, http.StatusServiceUnavailable, "the console session store failed: "+err.Error())
		}
	})
}
