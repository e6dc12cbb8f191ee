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
	"slices"
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
	outOffer        = "offer"        // provider → consumer: ContractOfferMessage
	outTermination  = "termination"  // either way: ContractNegotiationTerminationMessage
	outSuspension   = "suspension"   // either way: TransferSuspensionMessage
	outCompletion   = "completion"   // either way: TransferCompletionMessage
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

// handleContractRequest is a consumer's initial request for an offer.
// The provider answers at once with the negotiation (REQUESTED) and
// reacts afterwards, at the consumer's callback address: an agreement
// when the owner's exchange decision grants one of its offers, a
// termination with the policy's reasons when it refuses, or, when the
// consumer asked for terms this provider does not offer, its own offer.
// Only a request that cannot start a negotiation (no such dataset, a bad
// message) is refused with a ContractNegotiationError.
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
		fail(refuse(http.StatusBadRequest, CodeBadMessage, "An initial ContractRequestMessage needs a callbackAddress: the provider's answer is sent there."))
		return
	}
	if err := checkCallback(p, msg.CallbackAddress); err != nil {
		fail(err)
		return
	}
	e, ok := s.offeredEntry(r.Context(), p, msg.Offer)
	if !ok {
		fail(refuse(http.StatusBadRequest, CodeUnknownOffer, fmt.Sprintf("Offer %s names no dataset this provider offers to %s; request the catalogue for the current offers.", quote(msg.Offer.ID), p.ID)))
		return
	}
	now := s.now().UTC()
	n := &Negotiation{
		Role: RoleProvider, ProviderPID: newPID(), ConsumerPID: msg.ConsumerPID, Participant: p.ID,
		PeerAddress: strings.TrimSuffix(msg.CallbackAddress, "/"), Dataset: e.ID, Offer: msg.Offer, State: NegRequested,
		Created: now, Updated: now,
	}
	if err := s.react(r.Context(), p, e, n, msg.Offer, true); err != nil {
		fail(err)
		return
	}
	if err := s.store.createNegotiation(n); err != nil {
		fail(err)
		return
	}
	s.recordNegotiation(n, "")
	w.Header().Set("Location", s.cfg.BasePath+"/negotiations/"+n.ProviderPID)
	writeJSON(w, http.StatusCreated, NewNegotiation(n.ProviderPID, n.ConsumerPID, n.State))
	flush(w)
	s.kickNegotiation(n.Key())
}

// offeredEntry finds the dataset a consumer's offer targets (or that one
// of this provider's offer IDs names), if p may see it.
func (s *Service) offeredEntry(ctx context.Context, p Participant, o Offer) (Entry, bool) {
	id := o.Target
	if id == "" && strings.HasPrefix(o.ID, offerPrefix) {
		rest := strings.TrimPrefix(o.ID, offerPrefix)
		if i := strings.LastIndexByte(rest, ':'); i > 0 {
			id = rest[:i]
		}
	}
	if id == "" {
		return Entry{}, false
	}
	e, ok := s.d.Catalogue.Entry(ctx, id)
	if !ok || !s.visible(ctx, p, e) {
		return Entry{}, false
	}
	return e, true
}

// react decides the provider's answer to a request for offer asked on
// negotiation n (in REQUESTED or ACCEPTED) and sets what n owes the
// consumer: an agreement, a termination with the policy's reasons, or
// (counter is true and the consumer asked for terms this provider does
// not offer) this provider's offer. The decision is recorded first; a
// decision that cannot be recorded is not taken.
func (s *Service) react(ctx context.Context, p Participant, e Entry, n *Negotiation, asked Offer, counter bool) error {
	if s.held(n.State, n.Dataset, "negotiation") {
		return nil
	}
	terms, err := s.offers(ctx, p, e)
	if err != nil {
		return refuse(http.StatusServiceUnavailable, CodePolicyFailed, "The provider's policy could not derive the offers: "+err.Error())
	}
	var chosen *offerTerms
	for i := range terms {
		if terms[i].Offer.ID == asked.ID {
			chosen = &terms[i]
		}
	}
	if chosen == nil {
		granted := slices.IndexFunc(terms, func(t offerTerms) bool { return t.Purpose != "" })
		if counter && granted >= 0 {
			// Terms this provider does not offer: it answers with the offer it
			// would agree to, and the consumer accepts it or not.
			o := terms[granted].Offer
			o.Target = e.ID
			n.Offer, n.Outbox = o, outOffer
			return nil
		}
		if len(terms) == 0 {
			n.Outbox, n.Code, n.Reasons = outTermination, CodeUnknownOffer, []string{"This provider makes no offer for " + e.ID + "."}
			return nil
		}
		chosen = &terms[0]
		if granted >= 0 {
			n.Outbox, n.Code = outTermination, CodeUnknownOffer
			n.Reasons = []string{fmt.Sprintf("Offer %s is not one this provider makes; it agrees only to the offers of its catalogue, such as %s.", quote(asked.ID), chosen.Offer.ID)}
			return nil
		}
	}
	d, purpose, inputSum, err := s.decideRequest(ctx, p, e, *chosen, asked)
	if err != nil {
		return refuse(http.StatusServiceUnavailable, CodePolicyFailed, "The provider's policy could not decide: "+err.Error())
	}
	if err := s.d.Recorder.Record("dsp.negotiation.decision", p.ID+" -> "+e.ID, map[string]any{
		"participant": p.ID, "dataset": e.ID, "offer": chosen.Offer.ID, "purpose": purpose, "allow": d.Allow,
		"reasons": d.Reasons, "rules": d.Rules, "bundle": d.Bundle, "input_sha256": inputSum,
		"provider_pid": n.ProviderPID, "consumer_pid": n.ConsumerPID,
	}); err != nil {
		return refuse(http.StatusServiceUnavailable, CodeAuditFailed, "The provider could not write its audit record, so it does not decide: "+err.Error())
	}
	o := chosen.Offer
	o.Target = e.ID
	n.Offer, n.Purpose = o, purpose
	if !d.Allow {
		n.Outbox, n.Code, n.Reasons = outTermination, CodeDenied, d.Reasons
		return nil
	}
	now := s.now().UTC()
	ag := Agreement{
		ID: newPID(), Type: TypeAgreement, Target: e.ID, Assigner: s.cfg.ParticipantID, Assignee: p.ID,
		Timestamp: now.Format(time.RFC3339), Permission: o.Permission, Prohibition: o.Prohibition, Obligation: o.Obligation,
	}
	sig, err := s.signAgreement(ag)
	if err != nil {
		return refuse(http.StatusServiceUnavailable, CodeStoreFailed, err.Error())
	}
	n.Agreement, n.AgreementJWS, n.Outbox = &ag, sig, outAgreement
	validity := d.MaxValidity
	if validity <= 0 {
		validity = time.Duration(d.MaxValiditySeconds) * time.Second
	}
	if validity > 0 {
		n.ValidUntil = now.Add(validity)
	}
	return nil
}

// held asks the steering hook (a test playing the provider's operator)
// whether the provider's reaction waits.
func (s *Service) held(state NegotiationState, dataset, kind string) bool {
	return s.d.Hold != nil && s.d.Hold(Hold{Kind: kind, Dataset: dataset, State: string(state)})
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
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

// handleCounterRequest is a consumer's request on a negotiation this
// provider offered: an offer of the catalogue is decided as a first
// request is; other terms end the negotiation (this provider agrees only
// to its own offers).
func (s *Service) handleCounterRequest(w http.ResponseWriter, r *http.Request) {
	p, msg, n, ok := negotiationMessage(s, w, r, TypeContractRequest, func(m *ContractRequestMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	fail := func(err error) { writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err) }
	if n.Role != RoleProvider {
		fail(invalidNegotiationState(n, NegRequested, "ContractRequestMessage to a consumer"))
		return
	}
	s.respond(w, r, p, n, NegRequested, "ContractRequestMessage", msg.Offer, fail)
}

// respond moves a provider's negotiation to state (REQUESTED after a
// counter-request, ACCEPTED after the consumer accepted the offer) and
// decides its reaction in the same step, answering the consumer with 200.
func (s *Service) respond(w http.ResponseWriter, r *http.Request, p Participant, n *Negotiation, state NegotiationState, what string, asked Offer, fail func(error)) {
	if !negotiationMay(n.State, state) {
		fail(invalidNegotiationState(n, state, what))
		return
	}
	e, ok := s.offeredEntry(r.Context(), p, Offer{ID: asked.ID, Target: n.Dataset})
	next := *n
	// The reaction in the new state replaces whatever was owed in the old
	// one: an offer still being sent is finished by its sender, and n's
	// copy of the outbox (read before that sender cleared it) must not
	// come back when the reaction is held.
	next.State, next.Outbox, next.Code, next.Reasons = state, "", "", nil
	switch {
	case !ok:
		next.Outbox, next.Code, next.Reasons = outTermination, CodeUnknownOffer, []string{fmt.Sprintf("Dataset %s is no longer offered to %s.", quote(n.Dataset), p.ID)}
	default:
		if err := s.react(r.Context(), p, e, &next, asked, false); err != nil {
			fail(err)
			return
		}
	}
	if _, err := s.transitionNegotiation(n.Key(), state, what, func(m *Negotiation) {
		m.Offer, m.Purpose, m.Agreement, m.AgreementJWS, m.ValidUntil = next.Offer, next.Purpose, next.Agreement, next.AgreementJWS, next.ValidUntil
		m.Outbox, m.Code, m.Reasons = next.Outbox, next.Code, next.Reasons
	}); err != nil {
		fail(err)
		return
	}
	writeJSON(w, http.StatusOK, NewNegotiation(n.ProviderPID, n.ConsumerPID, state))
	flush(w)
	s.kickNegotiation(n.Key())
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
	held := s.held(NegVerified, n.Dataset, "negotiation")
	if _, err := s.transitionNegotiation(n.Key(), NegVerified, "ContractAgreementVerificationMessage", func(n *Negotiation) {
		if !held {
			n.Outbox = outFinalized
		}
	}); err != nil {
		writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err)
		return
	}
	w.WriteHeader(http.StatusOK)
	s.kickNegotiation(n.Key())
}

// handleNegotiationEvent: FINALIZED from a provider (this node consumes);
// ACCEPTED from a consumer is out of order (this provider never offers).
func (s *Service) handleNegotiationEvent(w http.ResponseWriter, r *http.Request) {
	p, msg, n, ok := negotiationMessage(s, w, r, TypeNegotiationEvent, func(m *ContractNegotiationEventMessage) (string, string) { return m.ProviderPID, m.ConsumerPID })
	if !ok {
		return
	}
	var to NegotiationState
	switch {
	case msg.EventType == EventFinalized && n.Role == RoleConsumer:
		to = NegFinalized
	case msg.EventType == EventAccepted && n.Role == RoleProvider:
		// The consumer accepted this provider's offer: decided now.
		s.respond(w, r, p, n, NegAccepted, "ContractNegotiationEventMessage ACCEPTED", n.Offer,
			func(err error) { writeError(w, TypeNegotiationError, msg.ProviderPID, msg.ConsumerPID, err) })
		return
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
