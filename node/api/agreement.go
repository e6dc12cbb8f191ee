package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/xborder/xborder/agreement"
	"github.com/xborder/xborder/exchange"
)

// Agreements are the node's model-sharing agreements: negotiated over
// /xborder/agreement/1.0.0, committed to the registry once every party
// signed.
type Agreements interface {
	ProposeAgreement(ctx context.Context, a agreement.Agreement) (AgreementView, error)
	SignAgreement(ctx context.Context, id string) (AgreementView, error)
	RevokeAgreement(ctx context.Context, id, reason string) (AgreementView, error)
	Agreements(ctx context.Context) ([]AgreementView, uint64, error)
	Agreement(ctx context.Context, id string) (AgreementView, uint64, error)
}

// Statuses of an agreement as a node shows it, besides the registry's
// active, revoked, expired and pending (committed, not in force yet).
const (
	AgreementNegotiating = exchange.AgreementNegotiating
	AgreementRefused     = exchange.AgreementRefused
)

// AgreementView is an agreement as this node knows it: its text, where the
// negotiation stands for each party, and what the registry says. The
// exchange builds it.
type AgreementView = exchange.AgreementView

// AgreementProposal is the body of POST /v1/agreements.
type AgreementProposal struct {
	ID         string    `json:"id"`
	Model      string    `json:"model"` // owner/id
	Parties    []string  `json:"parties"`
	Purposes   []string  `json:"purposes"`
	Conditions string    `json:"conditions"`
	ValidFrom  time.Time `json:"valid_from,omitzero"` // default: now
	ValidUntil time.Time `json:"valid_until"`
}

// AgreementList is the answer of GET /v1/agreements.
type AgreementList struct {
	Agreements   []AgreementView `json:"agreements"`
	AppliedIndex uint64          `json:"applied_index"`
}

// AgreementAnswer is the answer of GET /v1/agreements/{id}.
type AgreementAnswer struct {
	Agreement    AgreementView `json:"agreement"`
	AppliedIndex uint64        `json:"applied_index"`
}

// RevokeRequest is the body of POST /v1/agreements/{id}/revoke.
type RevokeRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) routeAgreements() {
	s.handle("GET /v1/agreements", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		list, idx, err := s.agreements.Agreements(r.Context())
		if err != nil {
			writeAgreementError(w, err)
			return
		}
		if list == nil {
			list = []AgreementView{}
		}
		writeJSON(w, http.StatusOK, AgreementList{Agreements: list, AppliedIndex: idx})
	})
	s.handle("GET /v1/agreements/{id}", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		a, idx, err := s.agreements.Agreement(r.Context(), r.PathValue("id"))
		if err != nil {
			writeAgreementError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, AgreementAnswer{Agreement: a, AppliedIndex: idx})
	})
	s.handle("POST /v1/agreements", true, func(w http.ResponseWriter, r *http.Request) {
		var p AgreementProposal
		if code, err := decodeBody(w, r, &p); err != nil {
			writeError(w, code, err.Error())
			return
		}
		if p.ValidFrom.IsZero() {
			p.ValidFrom = time.Now()
		}
		a := agreement.Agreement{ID: p.ID, Model: p.Model, Parties: p.Parties, Purposes: p.Purposes,
			Conditions: p.Conditions, ValidFrom: p.ValidFrom, ValidUntil: p.ValidUntil}
		v, err := s.agreements.ProposeAgreement(r.Context(), a)
		var refused *exchange.AgreementRefusedError
		if errors.As(err, &refused) {
			// Which party refused, and why: the body is the agreement with
			// every party's answer. A party that could not be asked is not a
			// policy refusal: 502, unless another party refused.
			code, denied := http.StatusBadGateway, false
			for _, p := range refused.Draft.Refusals() {
				if p.Error == "" {
					code, denied = http.StatusForbidden, true
				}
			}
			writeJSON(w, code, AgreementRefusal{Error: Error{Error: err.Error(), Code: code,
				Denied: denied, Reasons: refusalReasons(refused.Draft)}, Agreement: v})
			return
		}
		if err != nil {
			writeAgreementError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, v)
	})
	s.handle("POST /v1/agreements/{id}/sign", true, func(w http.ResponseWriter, r *http.Request) {
		v, err := s.agreements.SignAgreement(r.Context(), r.PathValue("id"))
		if err != nil {
			writeAgreementError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	s.handle("POST /v1/agreements/{id}/revoke", true, func(w http.ResponseWriter, r *http.Request) {
		var req RevokeRequest
		if r.ContentLength != 0 {
			if code, err := decodeBody(w, r, &req); err != nil {
				writeError(w, code, err.Error())
				return
			}
		}
		v, err := s.agreements.RevokeAgreement(r.Context(), r.PathValue("id"), req.Reason)
		if err != nil {
			writeAgreementError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// AgreementRefusal is the 403 answer of a proposal some party refused.
type AgreementRefusal struct {
	Error
	Agreement AgreementView `json:"agreement"`
}

// refusalReasons names each refusing party in front of its reasons.
func refusalReasons(d exchange.Draft) []string {
	var out []string
	for _, p := range d.Refusals() {
		if p.Error != "" {
			out = append(out, p.Member+" could not be asked: "+p.Error)
			continue
		}
		for _, r := range p.Decision.Reasons {
			out = append(out, p.Member+": "+r)
		}
	}
	return out
}

// writeAgreementError maps negotiation errors to HTTP answers, and
// registry and policy errors as for other registry writes.
func writeAgreementError(w http.ResponseWriter, err error) {
	var invalid *exchange.ValidationError
	switch {
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, exchange.ErrAgreementExists), errors.Is(err, exchange.ErrAgreementRefused):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, exchange.ErrNoDraft):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, exchange.ErrRefused), errors.Is(err, exchange.ErrUnreachable):
		writeError(w, http.StatusBadGateway, err.Error())
	default:
		writeRegistryError(w, err)
	}
}
