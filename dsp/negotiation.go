package dsp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/xborder/xborder/policy"
)

// Outbox entries: the message a process still owes the other party.
const (
	outAgreement    = "agreement"    // provider → consumer: ContractAgreementMessage
	outFinalized    = "finalized"    // provider → consumer: event FINALIZED
	outVerification = "verification" // consumer → provider: ContractAgreementVerificationMessage
	outStart        = "start"        // provider → consumer: TransferStartMessage
)

// TypeAgreementJWS is the JWS type of the provider's signature over an
// agreement.
const TypeAgreementJWS = "xborder-dsp-agreement+jws"

// negotiationNext says which states a negotiation may move to from each.
var negotiationNext = map[NegotiationState][]NegotiationState{
	NegRequested: {NegOffered, NegAgreed, NegTerminated},
	NegOffered:   {NegRequested, NegAccepted, NegTerminated},
	NegAccepted:  {NegAgreed, NegTerminated},
	NegAgreed:    {NegVerified, NegTerminated},
	NegVerified:  {NegFinalized, NegTerminated},
}

func negotiationMay(from, to NegotiationState) bool {
	for _, s := range negotiationNext[from] {
		if s == to {
			return true
		}
	}
	return false
}

func invalidNegotiationState(n *Negotiation, to NegotiationState, msg string) *protoError {
	return refuse(http.StatusBadRequest, CodeInvalidState,
		fmt.Sprintf("Negotiation %s is %s; a %s (which moves it to %s) is not accepted in that state.", n.Key(), n.State, msg, to))
}

// newPID returns a fresh process ID.
func newPID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// checkCallback refuses a callback address that is not an absolute
// http(s) URL, or not under the participant's configured address.
func checkCallback(p Participant, cb string) error {
	u, err := url.Parse(cb)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return refuse(http.StatusBadRequest, CodeBadMessage, fmt.Sprintf("callbackAddress %s must be an absolute http(s) URL without credentials, query or fragment.", quote(cb)))
	}
	if p.Address != "" && !sameOrigin(p.Address, u) {
		return refuse(http.StatusBadRequest, CodeBadMessage, fmt.Sprintf("callbackAddress %s is not at %s, the address this provider knows %s by.", quote(cb), p.Address, p.ID))
	}
	return nil
}

func sameOrigin(base string, u *url.URL) bool {
	b, err := url.Parse(base)
	return err == nil && strings.EqualFold(b.Scheme, u.Scheme) && strings.EqualFold(b.Host, u.Host)
}

// findOffer resolves the offer a consumer asks for: the dataset it
// targets (or that its ID names), visible to p, and one of the offers
// p is made for it now. The consumer's copy of the terms is not trusted:
// the agreement carries this node's own.
func (s *Service) findOffer(ctx context.Context, p Participant, o Offer) (Entry, offerTerms, error) {
	id := o.Target
	if id == "" && strings.HasPrefix(o.ID, offerPrefix) {
		rest := strings.TrimPrefix(o.ID, offerPrefix)
		if i := strings.LastIndexByte(rest, ':'); i > 0 {
			id = rest[:i]
		}
	}
	unknown := refuse(http.StatusBadRequest, CodeUnknownOffer,
		fmt.Sprintf("Offer %s is not an offer this provider makes to %s; request the catalogue for the current offers.", quote(o.ID), p.ID))
	if id == "" {
		return Entry{}, offerTerms{}, unknown
	}
	e, ok := s.d.Catalogue.Entry(ctx, id)
	if !ok || !s.visible(ctx, p, e) {
		return Entry{}, offerTerms{}, unknown
	}
	terms, err := s.offers(ctx, p, e)
	if err != nil {
		return Entry{}, offerTerms{}, refuse(http.StatusServiceUnavailable, CodePolicyFailed, "The provider's policy could not derive the offers: "+err.Error())
	}
	for _, t := range terms {
		if t.Offer.ID == o.ID {
			t.Offer.Target = e.ID
			return e, t, nil
		}
	}
	return Entry{}, offerTerms{}, unknown
}

// decideRequest asks the exchange decision whether p may have e under
// the offer's terms. For the on-request offer the purpose is the one the
// consumer's copy states, or else each of the vocabulary in turn.
func (s *Service) decideRequest(ctx context.Context, p Participant, e Entry, t offerTerms, asked Offer) (policy.Decision, string, string, error) {
	purposes := []string{t.Purpose}
	if t.Purpose == "" {
		purposes = t.Purposes
		if sp := statedPurpose(asked); sp != "" {
			purposes = []string{sp}
		}
	}
	var first policy.Decision
	var firstPurpose, firstSum string
	for i, purpose := range purposes {
		in := s.exchangeInput(p, e, purpose, s.now())
		raw, _ := json.Marshal(in)
		sum := sha256.Sum256(raw)
		d, err := s.d.Policy.Exchange(ctx, in)
		if errors.Is(err, policy.ErrNoDecision) {
			d, err = policy.Decision{Reasons: []string{"The owner's policy gave no decision for this request, so it is denied."}, Rules: []string{"no_decision"}}, nil
		}
		if err != nil {
			return policy.Decision{}, "", "", err
		}
		if d.Allow {
			return d, purpose, hex.EncodeToString(sum[:]), nil
		}
		if i == 0 {
			first, firstPurpose, firstSum = d, purpose, hex.EncodeToString(sum[:])
		}
	}
	return first, firstPurpose, firstSum, nil
}

// signAgreement signs an agreement's JSON with the node key.
func (s *Service) signAgreement(a Agreement) (string, error) {
	payload, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, TypeAgreementJWS); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.KeyIDKey, s.cfg.ParticipantID); err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA(), s.d.Key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("sign agreement: %w", err)
	}
	return string(signed), nil
}

// handleContractRequest is a consumer's initial request for an offer:
// decided at once by the owner's exchange decision. A refusal is a
// ContractNegotiationError with the policy's reasons; an agreement is
// sent to the consumer's callback address.
func (s *Service) handleContractRequest(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeNegotiationError, "", "", err)
		return
	}
	var msg ContractRequestMessage
	if err := Decode(r.Body, TypeContractRequest, &msg); err != nil {
		writeError(w, TypeNegotiationError, "", "", err)
		return
	}
	fail := func(err error) { writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err) }
	switch {
	case msg.ProviderPID != "":
		fail(refuse(http.StatusBadRequest, CodeBadMessage, "An initial ContractRequestMessage has no providerPid; a counter-request goes to /negotiations/{providerPid}/request."))
		return
	case msg.CallbackAddress == "":
		fail(refuse(http.StatusBadRequest, CodeBadMessage, "An initial ContractRequestMessage needs a callbackAddress: the agreement is sent there."))
		return
	}
	if err := checkCallback(p, msg.CallbackAddress); err != nil {
		fail(err)
		return
	}
	e, terms, err := s.findOffer(r.Context(), p, msg.Offer)
	if err != nil {
		fail(err)
		return
	}
	d, purpose, inputSum, err := s.decideRequest(r.Context(), p, e, terms, msg.Offer)
	if err != nil {
		fail(refuse(http.StatusServiceUnavailable, CodePolicyFailed, "The provider's policy could not decide: "+err.Error()))
		return
	}
	now := s.now().UTC()
	n := &Negotiation{
		Role: RoleProvider, ProviderPID: newPID(), ConsumerPID: msg.ConsumerPID, Participant: p.ID,
		PeerAddress: strings.TrimSuffix(msg.CallbackAddress, "/"), Dataset: e.ID, Offer: terms.Offer, Purpose: purpose,
		Created: now, Updated: now,
	}
	if err := s.d.Recorder.Record("dsp.negotiation.decision", p.ID+" -> "+e.ID, map[string]any{
		"participant": p.ID, "dataset": e.ID, "offer": terms.Offer.ID, "purpose": purpose, "allow": d.Allow,
		"reasons": d.Reasons, "rules": d.Rules, "bundle": d.Bundle, "input_sha256": inputSum,
		"provider_pid": n.ProviderPID, "consumer_pid": n.ConsumerPID,
	}); err != nil {
		fail(refuse(http.StatusServiceUnavailable, CodeAuditFailed, "The provider could not write its audit record, so it does not decide: "+err.Error()))
		return
	}
	if !d.Allow {
		n.State, n.Code, n.Reasons = NegTerminated, CodeDenied, d.Reasons
		if err := s.store.createNegotiation(n); err != nil {
			s.log.Error("storing a refused negotiation", "pid", n.ProviderPID, "err", err)
		}
		writeError(w, TypeNegotiationError, n.ProviderPID, n.ConsumerPID, refuse(http.StatusBadRequest, CodeDenied, d.Reasons...))
		return
	}
	validity := d.MaxValidity
	if validity <= 0 {
		validity = time.Duration(d.MaxValiditySeconds) * time.Second
	}
	ag := Agreement{
		ID: newPID(), Type: TypeAgreement, Target: e.ID, Assigner: s.cfg.ParticipantID, Assignee: p.ID,
		Timestamp: now.Format(time.RFC3339), Permission: terms.Offer.Permission, Prohibition: terms.Offer.Prohibition,
		Obligation: terms.Offer.Obligation,
	}
	sig, err := s.signAgreement(ag)
	if err != nil {
		fail(refuse(http.StatusServiceUnavailable, CodeStoreFailed, err.Error()))
		return
	}
	n.State, n.Agreement, n.AgreementJWS, n.Outbox = NegRequested, &ag, sig, outAgreement
	if validity > 0 {
		n.ValidUntil = now.Add(validity)
	}
	if err := s.store.createNegotiation(n); err != nil {
		fail(err)
		return
	}
	s.recordNegotiation(n, "")
	w.Header().Set("Location", s.cfg.BasePath+"/negotiations/"+n.ProviderPID)
	writeJSON(w, http.StatusCreated, NewNegotiation(n.ProviderPID, n.ConsumerPID, n.State))
	s.kickNegotiation(n.Key())
}

// negotiationFor loads a process of the caller's, by this node's PID. A
// process of another participant is answered as unknown.
func (s *Service) negotiationFor(p Participant, pid string) (*Negotiation, error) {
	n, err := s.store.negotiation(pid)
	if err != nil {
		return nil, err
	}
	if n.Participant != p.ID {
		return nil, ErrNotFound
	}
	return n, nil
}

func (s *Service) handleGetNegotiation(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeNegotiationError, pid, "", err)
		return
	}
	n, err := s.negotiationFor(p, pid)
	if err != nil {
		writeError(w, TypeNegotiationError, pid, "", err)
		return
	}
	writeJSON(w, http.StatusOK, NewNegotiation(n.ProviderPID, n.ConsumerPID, n.State))
}

// negotiationMessage is the common part of every message on an existing
// negotiation: authenticate, decode, check the PIDs, load the process.
func negotiationMessage[T any](s *Service, w http.ResponseWriter, r *http.Request, typ string, pids func(*T) (string, string)) (Participant, *T, *Negotiation, bool) {
	pid := r.PathValue("pid")
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeNegotiationError, pid, "", err)
		return p, nil, nil, false
	}
	var msg T
	if err := Decode(r.Body, typ, &msg); err != nil {
		writeError(w, TypeNegotiationError, pid, "", err)
		return p, nil, nil, false
	}
	prov, cons := pids(&msg)
	n, err := s.negotiationFor(p, pid)
	if err != nil {
		writeError(w, TypeNegotiationError, prov, cons, err)
		return p, nil, nil, false
	}
	own, other := n.ProviderPID, cons
	if n.Role == RoleConsumer {
		own, other = n.ConsumerPID, prov
	}
	ownField := "providerPid"
	if n.Role == RoleConsumer {
		ownField = "consumerPid"
	}
	if (n.Role == RoleProvider && prov != own) || (n.Role == RoleConsumer && cons != own) {
		writeError(w, TypeNegotiationError, prov, cons, refuse(http.StatusBadRequest, CodeBadMessage,
			fmt.Sprintf("The message's %s %s is not the negotiation %s addressed in the path.", ownField, quote(own), quote(pid))))
		return p, nil, nil, false
	}
	theirs := n.ConsumerPID
	if n.Role == RoleConsumer {
		theirs = n.ProviderPID
	}
	if theirs != "" && other != theirs {
		writeError(w, TypeNegotiationError, prov, cons, refuse(http.StatusBadRequest, CodeBadMessage,
			fmt.Sprintf("The message names %s as the other party's process; this negotiation's is %s.", quote(other), quote(theirs))))
		return p, nil, nil, false
	}
	return p, &msg, n, true
}

// transitionNegotiation moves a stored negotiation to a new state if the
// protocol allows it from the state it is in now.
func (s *Service) transitionNegotiation(key string, to NegotiationState, msg string, change func(n *Negotiation)) (*Negotiation, error) {
	var from NegotiationState
	n, err := s.store.updateNegotiation(key, func(n *Negotiation) error {
		from = n.State
		if !negotiationMay(n.State, to) {
			return invalidNegotiationState(n, to, msg)
		}
		n.State, n.Updated = to, s.now().UTC()
		if change != nil {
			change(n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.recordNegotiation(n, from)
	s.changed(key)
	return n, nil
}

func (s *Service) recordNegotiation(n *Negotiation, from NegotiationState) {
	details := map[string]any{"role": n.Role, "provider_pid": n.ProviderPID, "consumer_pid": n.ConsumerPID,
		"participant": n.Participant, "dataset": n.Dataset, "from": from, "to": n.State}
	if n.Code != "" {
		details["code"], details["reasons"] = n.Code, n.Reasons
	}
	if n.State == NegFinalized && n.Agreement != nil {
		sum := sha256.Sum256([]byte(n.AgreementJWS))
		details["agreement"], details["agreement_jws_sha256"], details["valid_until"] = n.Agreement.ID, hex.EncodeToString(sum[:]), n.ValidUntil
	}
	if err := s.d.Recorder.Record("dsp.negotiation.state", n.Key(), details); err != nil {
		s.log.Error("audit record of a negotiation's state failed", "pid", n.Key(), "err", err)
	}
}

// handleCounterRequest: this provider makes no counter-offers, so a
// negotiation is never OFFERED and a counter-request is out of order.
func (s *Service) handleCounterRequest(w http.ResponseWriter, r *http.Request) {
	_, msg, n, ok := negotiationMessage(s, w, r, TypeContractRequest, func(m *ContractRequestMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, invalidNegotiationState(n, NegRequested, "ContractRequestMessage"))
}

// handleVerification is the consumer's verification of the agreement:
// VERIFIED, then FINALIZED is announced.
func (s *Service) handleVerification(w http.ResponseWriter, r *http.Request) {
	_, msg, n, ok := negotiationMessage(s, w, r, TypeAgreementVerification, func(m *ContractAgreementVerificationMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	if n.Role != RoleProvider {
		writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, invalidNegotiationState(n, NegVerified, "ContractAgreementVerificationMessage to a consumer"))
		return
	}
	if _, err := s.transitionNegotiation(n.Key(), NegVerified, "ContractAgreementVerificationMessage", func(n *Negotiation) { n.Outbox = outFinalized }); err != nil {
		writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err)
		return
	}
	w.WriteHeader(http.StatusOK)
	s.kickNegotiation(n.Key())
}

// handleNegotiationEvent: FINALIZED from a provider (this node consumes);
// ACCEPTED from a consumer is out of order (this provider never offers).
func (s *Service) handleNegotiationEvent(w http.ResponseWriter, r *http.Request) {
	_, msg, n, ok := negotiationMessage(s, w, r, TypeNegotiationEvent, func(m *ContractNegotiationEventMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	var to NegotiationState
	switch {
	case msg.EventType == EventFinalized && n.Role == RoleConsumer:
		to = NegFinalized
	case msg.EventType == EventAccepted && n.Role == RoleProvider:
		to = NegAccepted
	default:
		writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, refuse(http.StatusBadRequest, CodeInvalidState,
			fmt.Sprintf("Event %s is not one the %s of negotiation %s takes.", quote(msg.EventType), n.Role, n.Key())))
		return
	}
	if _, err := s.transitionNegotiation(n.Key(), to, "ContractNegotiationEventMessage "+msg.EventType, nil); err != nil {
		writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleNegotiationTermination ends a negotiation at the other party's
// request, in either role.
func (s *Service) handleNegotiationTermination(w http.ResponseWriter, r *http.Request) {
	_, msg, n, ok := negotiationMessage(s, w, r, TypeNegotiationTermination, func(m *ContractNegotiationTerminationMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	reasons := msg.Reason
	if len(reasons) == 0 {
		reasons = []string{"Terminated by " + n.Participant + "."}
	}
	if _, err := s.transitionNegotiation(n.Key(), NegTerminated, "ContractNegotiationTerminationMessage", func(n *Negotiation) {
		n.Code, n.Reasons, n.Outbox = msg.Code, reasons, ""
	}); err != nil {
		writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleInitialOffer: this node's consumer does not take offers a
// provider starts.
func (s *Service) handleInitialOffer(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r); err != nil {
		writeError(w, TypeNegotiationError, "", "", err)
		return
	}
	writeError(w, TypeNegotiationError, "", "", refuse(http.StatusBadRequest, CodeInvalidState,
		"This participant starts its negotiations itself; it takes no offer a provider starts."))
}

// handleOffer: a counter-offer to a negotiation this node consumes. Its
// researcher asked for an offer the provider made; another one is not
// what was decided, so the negotiation is refused as out of order.
func (s *Service) handleOffer(w http.ResponseWriter, r *http.Request) {
	_, msg, n, ok := negotiationMessage(s, w, r, TypeContractOffer, func(m *ContractOfferMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, invalidNegotiationState(n, NegOffered, "ContractOfferMessage (counter-offers are not taken)"))
}
