package dsp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// transferNext says which states a transfer may move to from each.
var transferNext = map[TransferState][]TransferState{
	TPRequested: {TPStarted, TPTerminated},
	TPStarted:   {TPSuspended, TPCompleted, TPTerminated},
	TPSuspended: {TPStarted, TPTerminated},
}

func transferMay(from, to TransferState) bool {
	for _, s := range transferNext[from] {
		if s == to {
			return true
		}
	}
	return false
}

func invalidTransferState(t *Transfer, to TransferState, msg string) *protoError {
	return refuse(http.StatusBadRequest, CodeInvalidState,
		fmt.Sprintf("Transfer %s is %s; a %s (which moves it to %s) is not accepted in that state.", t.Key(), t.State, msg, to))
}

// pullFormats are the format names consumers use for HTTP-pull.
func isPullFormat(f string) bool {
	switch strings.ToLower(f) {
	case "httpdata-pull", "http_pull", "http-pull", "httppull", "dspace:http_pull":
		return true
	}
	return false
}

// agreementFor is a finalised agreement this node provided to p, still in
// force.
func (s *Service) agreementFor(p Participant, id string) (*Negotiation, error) {
	n, err := s.store.agreement(RoleProvider, id)
	if errors.Is(err, ErrNotFound) || (err == nil && (n.Role != RoleProvider || n.Participant != p.ID)) {
		return nil, refuse(http.StatusBadRequest, CodeAgreement, fmt.Sprintf("Agreement %s is not one this provider made with %s.", quote(id), p.ID))
	}
	if err != nil {
		return nil, err
	}
	if n.State != NegFinalized {
		return nil, refuse(http.StatusBadRequest, CodeAgreement, fmt.Sprintf("Agreement %s belongs to a negotiation that is %s, not FINALIZED.", quote(id), n.State))
	}
	if !n.ValidUntil.IsZero() && !s.now().Before(n.ValidUntil) {
		return nil, refuse(http.StatusBadRequest, CodeAgreement, fmt.Sprintf("Agreement %s expired at %s.", quote(id), n.ValidUntil.UTC().Format(time.RFC3339)))
	}
	return n, nil
}

// handleTransferRequest is a consumer's request to transfer a dataset
// under a finalised agreement. The owner's policy decides again (it may
// have changed since the agreement); the data address follows in a
// TransferStartMessage to the callback address.
func (s *Service) handleTransferRequest(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeTransferError, "", "", err)
		return
	}
	var msg TransferRequestMessage
	if err := Decode(r.Body, TypeTransferRequest, &msg); err != nil {
		writeError(w, TypeTransferError, "", "", err)
		return
	}
	fail := func(err error) { writeError(w, TypeTransferError, "", msg.ConsumerPID, err) }
	if !isPullFormat(msg.Format) || msg.DataAddress != nil {
		fail(refuse(http.StatusBadRequest, CodeUnsupported, fmt.Sprintf("Format %s is not served: this provider offers HTTP-pull (%s) only, without a consumer data address.", quote(msg.Format), FormatHTTPPull)))
		return
	}
	if err := checkCallback(p, msg.CallbackAddress); err != nil {
		fail(err)
		return
	}
	n, err := s.agreementFor(p, msg.AgreementID)
	if err != nil {
		fail(err)
		return
	}
	e, ok := s.d.Catalogue.Entry(r.Context(), n.Dataset)
	if !ok || !s.visible(r.Context(), p, e) {
		fail(refuse(http.StatusBadRequest, CodeAgreement, fmt.Sprintf("Dataset %s of agreement %s is no longer offered (withdrawn or hidden).", quote(n.Dataset), quote(msg.AgreementID))))
		return
	}
	in := s.exchangeInput(p, e, n.Purpose, s.now())
	d, err := s.d.Policy.Exchange(r.Context(), in)
	if err != nil {
		fail(refuse(http.StatusServiceUnavailable, CodePolicyFailed, "The provider's policy could not decide: "+err.Error()))
		return
	}
	now := s.now().UTC()
	t := &Transfer{
		Role: RoleProvider, ProviderPID: newPID(), ConsumerPID: msg.ConsumerPID, Participant: p.ID,
		PeerAddress: strings.TrimSuffix(msg.CallbackAddress, "/"), AgreementID: msg.AgreementID, Dataset: e.ID,
		Format: FormatHTTPPull, SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType, State: TPRequested,
		Created: now, Updated: now,
	}
	if err := s.d.Recorder.Record("dsp.transfer.decision", p.ID+" -> "+e.ID, map[string]any{
		"participant": p.ID, "dataset": e.ID, "agreement": msg.AgreementID, "purpose": n.Purpose, "allow": d.Allow,
		"reasons": d.Reasons, "rules": d.Rules, "bundle": d.Bundle, "provider_pid": t.ProviderPID, "consumer_pid": t.ConsumerPID,
	}); err != nil {
		fail(refuse(http.StatusServiceUnavailable, CodeAuditFailed, "The provider could not write its audit record, so it does not transfer: "+err.Error()))
		return
	}
	if !d.Allow {
		writeError(w, TypeTransferError, t.ProviderPID, t.ConsumerPID, refuse(http.StatusBadRequest, CodeDenied, d.Reasons...))
		return
	}
	if s.d.Hold == nil || !s.d.Hold(Hold{Kind: "transfer", Dataset: e.ID, State: string(TPRequested)}) {
		t.Outbox = outStart
	}
	if err := s.store.createTransfer(t); err != nil {
		fail(err)
		return
	}
	s.recordTransfer(t, "")
	w.Header().Set("Location", s.cfg.BasePath+"/transfers/"+t.ProviderPID)
	writeJSON(w, http.StatusCreated, NewTransferProcess(t.ProviderPID, t.ConsumerPID, t.State))
	flush(w)
	s.kickTransfer(t.Key())
}

func (s *Service) transferFor(p Participant, pid string) (*Transfer, error) {
	t, err := s.store.transfer(pid)
	if err != nil {
		return nil, err
	}
	if t.Participant != p.ID {
		return nil, ErrNotFound
	}
	return t, nil
}

func (s *Service) handleGetTransfer(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeTransferError, pid, "", err)
		return
	}
	t, err := s.transferFor(p, pid)
	if err != nil {
		writeError(w, TypeTransferError, pid, "", err)
		return
	}
	writeJSON(w, http.StatusOK, NewTransferProcess(t.ProviderPID, t.ConsumerPID, t.State))
}

// transferMessage authenticates, decodes and loads the transfer a
// message addresses, and checks the PIDs it names.
func transferMessage[T any](s *Service, w http.ResponseWriter, r *http.Request, typ string, pids func(*T) (string, string)) (*T, *Transfer, bool) {
	pid := r.PathValue("pid")
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeTransferError, pid, "", err)
		return nil, nil, false
	}
	var msg T
	if err := Decode(r.Body, typ, &msg); err != nil {
		writeError(w, TypeTransferError, pid, "", err)
		return nil, nil, false
	}
	prov, cons := pids(&msg)
	t, err := s.transferFor(p, pid)
	if err != nil {
		writeError(w, TypeTransferError, prov, cons, err)
		return nil, nil, false
	}
	own, theirs, ownGot, theirsGot := t.ProviderPID, t.ConsumerPID, prov, cons
	if t.Role == RoleConsumer {
		own, theirs, ownGot, theirsGot = t.ConsumerPID, t.ProviderPID, cons, prov
	}
	if ownGot != own || (theirs != "" && theirsGot != theirs) {
		writeError(w, TypeTransferError, prov, cons, refuse(http.StatusBadRequest, CodeBadMessage,
			fmt.Sprintf("The message names processes %s (provider) and %s (consumer); transfer %s is %s and %s.", quote(prov), quote(cons), quote(pid), quote(t.ProviderPID), quote(t.ConsumerPID))))
		return nil, nil, false
	}
	return &msg, t, true
}

// transitionTransfer moves a stored transfer to a new state if the
// protocol allows it; leaving STARTED revokes the data-plane token.
func (s *Service) transitionTransfer(key string, to TransferState, msg string, change func(t *Transfer)) (*Transfer, error) {
	var from TransferState
	t, err := s.store.updateTransfer(key, func(t *Transfer) error {
		from = t.State
		if !transferMay(t.State, to) {
			return invalidTransferState(t, to, msg)
		}
		t.State, t.Updated = to, s.now().UTC()
		if to != TPStarted {
			t.TokenSHA256, t.TokenExpires = "", time.Time{}
		}
		if change != nil {
			change(t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.recordTransfer(t, from)
	s.changed(key)
	return t, nil
}

func (s *Service) recordTransfer(t *Transfer, from TransferState) {
	details := map[string]any{"role": t.Role, "provider_pid": t.ProviderPID, "consumer_pid": t.ConsumerPID,
		"participant": t.Participant, "dataset": t.Dataset, "agreement": t.AgreementID, "from": from, "to": t.State}
	if t.Code != "" || len(t.Reasons) > 0 {
		details["code"], details["reasons"] = t.Code, t.Reasons
	}
	if t.BytesServed > 0 {
		details["bytes_served"] = t.BytesServed
	}
	if t.SHA256 != "" {
		details["sha256"] = t.SHA256
	}
	if err := s.d.Recorder.Record("dsp.transfer.state", t.Key(), details); err != nil {
		s.log.Error("audit record of a transfer's state failed", "pid", t.Key(), "err", err)
	}
}

// handleTransferStart: from a provider, the start of a transfer this node
// consumes (with the data address to pull from); from a consumer, the
// restart of a suspended transfer this node provides, answered with a
// fresh data address.
func (s *Service) handleTransferStart(w http.ResponseWriter, r *http.Request) {
	msg, t, ok := transferMessage(s, w, r, TypeTransferStart, func(m *TransferStartMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	var err error
	if t.Role == RoleConsumer {
		if msg.DataAddress == nil || msg.DataAddress.Endpoint == "" {
			writeError(w, TypeTransferError, msg.ProviderPID, msg.ConsumerPID, refuse(http.StatusBadRequest, CodeBadMessage,
				"A TransferStartMessage of an HTTP-pull transfer must carry a dataAddress with an endpoint."))
			return
		}
		_, err = s.transitionTransfer(t.Key(), TPStarted, "TransferStartMessage", func(t *Transfer) {
			t.ProviderPID, t.DataAddress = msg.ProviderPID, msg.DataAddress
		})
	} else {
		if t.State != TPSuspended {
			err = invalidTransferState(t, TPStarted, "TransferStartMessage from the consumer")
		} else {
			_, err = s.store.updateTransfer(t.Key(), func(t *Transfer) error { t.Outbox = outStart; return nil })
		}
	}
	if err != nil {
		writeError(w, TypeTransferError, msg.ProviderPID, msg.ConsumerPID, err)
		return
	}
	w.WriteHeader(http.StatusOK)
	if t.Role == RoleProvider {
		s.kickTransfer(t.Key())
	}
}

func codeMessageHandler(s *Service, typ string, to TransferState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		msg, t, ok := transferMessage(s, w, r, typ, func(m *TransferCodeMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
		if !ok {
			return
		}
		if _, err := s.transitionTransfer(t.Key(), to, typ, func(t *Transfer) {
			t.Code, t.Reasons, t.Outbox = msg.Code, msg.Reason, ""
		}); err != nil {
			writeError(w, TypeTransferError, msg.ProviderPID, msg.ConsumerPID, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Service) handleTransferCompletion(w http.ResponseWriter, r *http.Request) {
	codeMessageHandler(s, TypeTransferCompletion, TPCompleted)(w, r)
}

func (s *Service) handleTransferSuspension(w http.ResponseWriter, r *http.Request) {
	codeMessageHandler(s, TypeTransferSuspension, TPSuspended)(w, r)
}

func (s *Service) handleTransferTermination(w http.ResponseWriter, r *http.Request) {
	codeMessageHandler(s, TypeTransferTermination, TPTerminated)(w, r)
}

// newToken returns a data-plane token and its digest, the only form
// stored.
func newToken() (token, digest string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}

func tokenMatches(token, digest string) bool {
	sum := sha256.Sum256([]byte(token))
	got := hex.EncodeToString(sum[:])
	return digest != "" && subtle.ConstantTimeCompare([]byte(got), []byte(digest)) == 1
}

// deliverTransfer sends what a transfer owes the other party: its state
// moves first, then the message goes, again after a failure (the other
// party may not expect it yet) until DeliveryAttempts. A start carries a
// fresh data-plane token each time it is sent.
func (s *Service) deliverTransfer(key string) {
	graced := false
	for {
		t, err := s.store.transfer(key)
		if err != nil || t.Outbox == "" {
			return
		}
		if t.State == TPRequested && t.Attempts == 0 && !graced {
			graced = true // see answerGrace
			if !s.wait(answerGrace) {
				return
			}
			continue
		}
		to, path, msg := s.transferOutbox(t)
		if to == "" {
			s.log.Error("unknown outbox entry; cleared", "pid", key, "outbox", t.Outbox)
			_, _ = s.store.updateTransfer(key, func(t *Transfer) error { t.Outbox = ""; return nil })
			s.changed(key)
			return
		}
		var change func(t *Transfer)
		if to == TPStarted {
			token, digest := newToken()
			expires := s.now().Add(s.cfg.DataTokenTTL).UTC()
			change = func(t *Transfer) { t.TokenSHA256, t.TokenExpires = digest, expires }
			msg = s.startMessage(t, token, expires)
		}
		if t.State == to {
			if change != nil {
				t, err = s.store.updateTransfer(key, func(t *Transfer) error { change(t); return nil })
			}
		} else {
			t, err = s.transitionTransfer(key, to, t.Outbox, change)
		}
		if err != nil {
			s.log.Warn("transfer moved on before its message was sent; not sent", "pid", key, "err", err)
			_, _ = s.store.updateTransfer(key, func(t *Transfer) error { t.Outbox = ""; return nil })
			s.changed(key)
			return
		}
		sent := t.Outbox
		err = s.post(s.ctx, t.Participant, path, msg, nil)
		if err == nil {
			_, _ = s.store.updateTransfer(key, func(t *Transfer) error {
				if t.Outbox == sent {
					t.Outbox, t.Attempts = "", 0
				}
				return nil
			})
			s.changed(key)
			continue // a message set meanwhile goes next
		}
		if s.ctx.Err() != nil {
			return
		}
		t, _ = s.store.updateTransfer(key, func(t *Transfer) error { t.Attempts++; return nil })
		if t == nil || t.Attempts >= s.cfg.DeliveryAttempts {
			s.log.Warn("transfer message not delivered; transfer terminated", "pid", key, "err", err)
			_, _ = s.store.updateTransfer(key, func(t *Transfer) error {
				if t.State != TPTerminated && t.State != TPCompleted {
					t.State, t.Code, t.Reasons = TPTerminated, CodeDeliveryFailed, []string{"The " + t.Outbox + " message could not be delivered: " + err.Error()}
					t.TokenSHA256, t.TokenExpires = "", time.Time{}
				}
				t.Outbox = ""
				return nil
			})
			s.changed(key)
			return
		}
		s.log.Info("transfer message not delivered; trying again", "pid", key, "attempt", t.Attempts, "err", err)
		if !s.wait(backoff(t.Attempts)) {
			return
		}
	}
}

// transferOutbox is the message a transfer owes: the state it moves to,
// where the message goes and the message (a start is built with its
// token by the caller).
func (s *Service) transferOutbox(t *Transfer) (TransferState, string, any) {
	theirs := t.PeerAddress + "/transfers/" + t.ConsumerPID
	if t.Role == RoleConsumer {
		theirs = t.PeerAddress + "/transfers/" + t.ProviderPID
	}
	code := TransferCodeMessage{ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID, Code: t.Code, Reason: t.Reasons}
	switch t.Outbox {
	case outStart:
		return TPStarted, theirs + "/start", nil
	case outSuspension:
		code.Header = header(TypeTransferSuspension)
		return TPSuspended, theirs + "/suspension", code
	case outCompletion:
		code.Header, code.Code, code.Reason = header(TypeTransferCompletion), "", nil
		return TPCompleted, theirs + "/completion", code
	case outTermination:
		code.Header = header(TypeTransferTermination)
		return TPTerminated, theirs + "/termination", code
	}
	return "", "", nil
}

// startMessage is a provider's TransferStartMessage with the HTTP-pull
// data address and its token, as EDC reads it (endpoint, and the
// authorization and authType properties).
func (s *Service) startMessage(t *Transfer, token string, expires time.Time) TransferStartMessage {
	return TransferStartMessage{Header: header(TypeTransferStart), ProviderPID: t.ProviderPID, ConsumerPID: t.ConsumerPID,
		DataAddress: &DataAddress{Type: TypeDataAddress, EndpointType: HTTPEndpointType, Endpoint: s.cfg.BaseURL() + "/data/" + t.ProviderPID,
			EndpointProperties: []EndpointProperty{
				{Type: TypeEndpointProperty, Name: "authorization", Value: token},
				{Type: TypeEndpointProperty, Name: "authType", Value: "bearer"},
				{Type: TypeEndpointProperty, Name: "expiresAt", Value: expires.Format(time.RFC3339)},
				{Type: TypeEndpointProperty, Name: "sha256", Value: t.SHA256},
			}}}
}
