package dsp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Error codes of the error objects this node answers. The reasons say in
// words what was wrong; the code is for programs.
const (
	CodeBadMessage     = "bad_message"
	CodeUnauthorized   = "unauthorized"
	CodeNotFound       = "not_found"
	CodeInvalidState   = "invalid_state"
	CodeDenied         = "denied"
	CodeUnknownOffer   = "unknown_offer"
	CodeUnsupported    = "unsupported_format"
	CodeAgreement      = "agreement_not_valid"
	CodeAuditFailed    = "audit_unavailable"
	CodePolicyFailed   = "policy_unavailable"
	CodeStoreFailed    = "store_unavailable"
	CodeDeliveryFailed = "delivery_failed"
)

// protoError is a refusal: the HTTP status, the code and the reasons.
type protoError struct {
	status  int
	code    string
	reasons []string
}

func (e *protoError) Error() string { return e.code + ": " + strings.Join(e.reasons, "; ") }

func refuse(status int, code string, reasons ...string) *protoError {
	return &protoError{status: status, code: code, reasons: reasons}
}

// asProtoError turns any error into a refusal: a bad message is a 400, an
// authentication failure a 401, anything else a 503 naming what failed
// (the store, the audit trail), never a bare 500.
func asProtoError(err error) *protoError {
	var pe *protoError
	if errors.As(err, &pe) {
		return pe
	}
	var me *MessageError
	if errors.As(err, &me) {
		return refuse(http.StatusBadRequest, CodeBadMessage, me.Error())
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return refuse(http.StatusUnauthorized, CodeUnauthorized, ae.Error())
	}
	if errors.Is(err, ErrNotFound) {
		return refuse(http.StatusNotFound, CodeNotFound, "No such process is held for this participant.")
	}
	return refuse(http.StatusServiceUnavailable, CodeStoreFailed, "The node could not complete the request: "+err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers err as the error object of the endpoint's kind
// (CatalogError, ContractNegotiationError or TransferError).
func writeError(w http.ResponseWriter, typ, providerPID, consumerPID string, err error) {
	pe := asProtoError(err)
	if pe.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dataspace"`)
	}
	body := NewError(typ, providerPID, consumerPID, pe.code, pe.reasons...)
	if typ != TypeCatalogError {
		// ContractNegotiationError and TransferError must name both
		// processes, even when one is not known (no omitempty).
		writeJSON(w, pe.status, struct {
			Header
			ProviderPID string   `json:"providerPid"`
			ConsumerPID string   `json:"consumerPid"`
			Code        string   `json:"code,omitempty"`
			Reason      []string `json:"reason,omitempty"`
		}{body.Header, providerPID, consumerPID, body.Code, body.Reason})
		return
	}
	writeJSON(w, pe.status, body)
}

// Handler serves the protocol under BasePath, for the node's listener.
// Every endpoint authenticates its caller; the version document is
// served by WellKnown, without authentication.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	b := s.cfg.BasePath
	// Catalogue (provider).
	mux.HandleFunc("POST "+b+"/catalog/request", s.handleCatalogRequest)
	mux.HandleFunc("GET "+b+"/catalog/datasets/{id}", s.handleDataset)
	// Negotiation: provider endpoints and consumer callbacks share the
	// tree; the stored process says which role this node has.
	mux.HandleFunc("GET "+b+"/negotiations/{pid}", s.handleGetNegotiation)
	mux.HandleFunc("POST "+b+"/negotiations/request", s.handleContractRequest)
	mux.HandleFunc("POST "+b+"/negotiations/offers", s.handleInitialOffer)
	mux.HandleFunc("POST "+b+"/negotiations/{pid}/request", s.handleCounterRequest)
	mux.HandleFunc("POST "+b+"/negotiations/{pid}/offers", s.handleOffer)
	mux.HandleFunc("POST "+b+"/negotiations/{pid}/agreement", s.handleAgreement)
	mux.HandleFunc("POST "+b+"/negotiations/{pid}/agreement/verification", s.handleVerification)
	mux.HandleFunc("POST "+b+"/negotiations/{pid}/events", s.handleNegotiationEvent)
	mux.HandleFunc("POST "+b+"/negotiations/{pid}/termination", s.handleNegotiationTermination)
	// Transfer.
	mux.HandleFunc("GET "+b+"/transfers/{pid}", s.handleGetTransfer)
	mux.HandleFunc("POST "+b+"/transfers/request", s.handleTransferRequest)
	mux.HandleFunc("POST "+b+"/transfers/{pid}/start", s.handleTransferStart)
	mux.HandleFunc("POST "+b+"/transfers/{pid}/completion", s.handleTransferCompletion)
	mux.HandleFunc("POST "+b+"/transfers/{pid}/suspension", s.handleTransferSuspension)
	mux.HandleFunc("POST "+b+"/transfers/{pid}/termination", s.handleTransferTermination)
	// Data plane (HTTP-pull), authorised by the transfer's token.
	mux.HandleFunc("GET "+b+"/data/{pid}", s.handleData)
	mux.HandleFunc("HEAD "+b+"/data/{pid}", s.handleData)
	mux.HandleFunc(b+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, TypeCatalogError, "", "", refuse(http.StatusNotFound, CodeNotFound,
			r.Method+" "+r.URL.Path+" is not an endpoint of the Dataspace Protocol 2025-1 served here."))
	})
	return mux
}

// WellKnown serves /.well-known/dspace-version.
func (s *Service) WellKnown() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		writeJSON(w, http.StatusOK, s.Versions())
	})
}

// Versions is the version document this node serves.
func (s *Service) Versions() VersionResponse {
	return VersionResponse{ProtocolVersions: []ProtocolVersion{{
		Version: Version, Path: s.cfg.BasePath, Binding: Binding, ServiceID: s.cfg.ParticipantID,
	}}}
}

// authenticate returns the caller of a protocol request.
func (s *Service) authenticate(r *http.Request) (Participant, error) {
	p, err := s.d.Verifier.Verify(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		var ae *AuthError
		if !errors.As(err, &ae) {
			err = &AuthError{Code: "unauthenticated", Reason: err.Error()}
		}
		return Participant{}, err
	}
	return p, nil
}
