package dsp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// PeerError is the other party's refusal of a message: its HTTP status
// and the error object it answered, when it sent one.
type PeerError struct {
	URL     string
	Status  int
	Code    string
	Reasons []string
}

func (e *PeerError) Error() string {
	msg := fmt.Sprintf("%s answered %d", e.URL, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	for _, r := range e.Reasons {
		msg += ": " + r
	}
	return msg
}

// post sends a message to a participant and decodes its answer into out
// (when out is not nil and the answer has a body).
func (s *Service) post(ctx context.Context, participant, url string, msg, out any) error {
	return s.do(ctx, http.MethodPost, participant, url, msg, out)
}

func (s *Service) do(ctx context.Context, method, participant, url string, msg, out any) error {
	var body io.Reader
	if msg != nil {
		raw, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fmt.Errorf("dataspace: %s %s: %w", method, url, err)
	}
	auth, err := s.d.Tokens.Authorization(participant)
	if err != nil {
		return fmt.Errorf("dataspace: a token for %s: %w", participant, err)
	}
	req.Header.Set("Authorization", auth)
	if msg != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.d.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("dataspace: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxMessageBytes+1))
	if err != nil {
		return fmt.Errorf("dataspace: reading the answer of %s: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		pe := &PeerError{URL: url, Status: resp.StatusCode}
		var eb struct {
			Code   string   `json:"code"`
			Reason []string `json:"reason"`
		}
		if json.Unmarshal(raw, &eb) == nil {
			pe.Code, pe.Reasons = eb.Code, eb.Reason
		}
		return pe
	}
	if out == nil {
		return nil
	}
	// What the other party answers is decoded as strictly as what it
	// sends: its type, its schema.
	if err := DecodeBytes(raw, answerType(out), out); err != nil {
		return &PeerError{URL: url, Status: resp.StatusCode, Code: CodeBadMessage, Reasons: []string{"its answer is not a valid message: " + err.Error()}}
	}
	return nil
}

// answerGrace is how long the first message of a process waits (the one
// that moves it out of REQUESTED: an offer, an agreement, a start, a
// termination). The other party learns this node's process ID from the
// answer to its request, and the answer is written just before the
// message is sent: a consumer that reads the message first cannot place
// it (the compatibility kit's consumer fails the case; tck.md, correction
// 3). A refused message is tried again anyway; the grace makes that rare.
const answerGrace = 150 * time.Millisecond

// answerType is the @type of the answer decoded into out.
func answerType(out any) string {
	switch out.(type) {
	case *Catalog:
		return TypeCatalog
	case *Dataset:
		return TypeDataset
	case *ContractNegotiation:
		return TypeNegotiation
	case *TransferProcess:
		return TypeTransferProcess
	}
	panic(fmt.Sprintf("dsp: no message type for %T", out))
}

// backoff is the wait before delivery attempt n (from 1): doubling from
// half a second, at most 30 s.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 6)
	return min(d, 30*time.Second)
}

// kickNegotiation starts delivering a negotiation's owed message, unless
// a delivery of that process is already under way.
func (s *Service) kickNegotiation(key string) {
	if !s.claim("n:" + key) {
		return
	}
	s.goroutine(func() {
		s.deliverNegotiation(key)
		s.release("n:" + key)
		// A message set while this delivery was finishing is sent too.
		if n, err := s.store.negotiation(key); err == nil && n.Outbox != "" && s.ctx.Err() == nil {
			s.kickNegotiation(key)
		}
	})
}

func (s *Service) kickTransfer(key string) {
	if !s.claim("t:" + key) {
		return
	}
	s.goroutine(func() {
		s.deliverTransfer(key)
		s.release("t:" + key)
		if t, err := s.store.transfer(key); err == nil && t.Outbox != "" && s.ctx.Err() == nil {
			s.kickTransfer(key)
		}
	})
}

func (s *Service) claim(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sending[k] {
		return false
	}
	s.sending[k] = true
	return true
}

func (s *Service) release(k string) {
	s.mu.Lock()
	delete(s.sending, k)
	s.mu.Unlock()
}

// wait returns false when the service closes before d passes.
func (s *Service) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// deliverNegotiation sends what a negotiation owes: its state moves
// first (so the other party's prompt answer finds it), then the message
// goes, again after a failure until DeliveryAttempts; a refusal or the
// last failure terminates the negotiation.
func (s *Service) deliverNegotiation(key string) {
	graced := false
	for {
		n, err := s.store.negotiation(key)
		if err != nil || n.Outbox == "" {
			return
		}
		if n.State == NegRequested && n.Attempts == 0 && !graced {
			graced = true
			if !s.wait(answerGrace) {
				return
			}
			continue // what is owed may have changed meanwhile
		}
		to, url, msg, ok := s.negotiationOutbox(n)
		if !ok {
			s.log.Error("unknown outbox entry; cleared", "pid", key, "outbox", n.Outbox)
			_, _ = s.store.updateNegotiation(key, func(n *Negotiation) error { n.Outbox = ""; return nil })
			s.changed(key)
			return
		}
		if n.State != to {
			if _, err := s.transitionNegotiation(key, to, n.Outbox, nil); err != nil {
				s.log.Warn("negotiation moved on before its message was sent; not sent", "pid", key, "outbox", n.Outbox, "err", err)
				_, _ = s.store.updateNegotiation(key, func(n *Negotiation) error { n.Outbox = ""; return nil })
				s.changed(key)
				return
			}
		}
		sent := n.Outbox
		err = s.post(s.ctx, n.Participant, url, msg, nil)
		if err == nil {
			_, _ = s.store.updateNegotiation(key, func(n *Negotiation) error {
				if n.Outbox == sent {
					n.Outbox, n.Attempts = "", 0
				}
				return nil
			})
			s.changed(key)
			continue // a message set meanwhile goes next
		}
		if s.ctx.Err() != nil {
			return // closing: resumed at the next start
		}
		n, _ = s.store.updateNegotiation(key, func(n *Negotiation) error { n.Attempts++; return nil })
		if n == nil || n.Attempts >= s.cfg.DeliveryAttempts {
			s.log.Warn("negotiation message not delivered; negotiation terminated", "pid", key, "err", err)
			_, _ = s.store.updateNegotiation(key, func(n *Negotiation) error {
				if n.State != NegTerminated && n.State != NegFinalized {
					n.State, n.Code, n.Reasons = NegTerminated, CodeDeliveryFailed, []string{"The " + n.Outbox + " message could not be delivered: " + err.Error()}
				}
				n.Outbox = ""
				return nil
			})
			s.changed(key)
			return
		}
		s.log.Info("negotiation message not delivered; trying again", "pid", key, "outbox", n.Outbox, "attempt", n.Attempts, "err", err)
		if !s.wait(backoff(n.Attempts)) {
			return
		}
	}
}

// negotiationOutbox is the message a negotiation owes: the state it
// moves to, where the message goes and the message.
func (s *Service) negotiationOutbox(n *Negotiation) (NegotiationState, string, any, bool) {
	// The other party's process: the consumer's callbacks name the
	// consumerPid, the provider's endpoints the providerPid.
	theirs := n.PeerAddress + "/negotiations/" + n.ConsumerPID
	if n.Role == RoleConsumer {
		theirs = n.PeerAddress + "/negotiations/" + n.ProviderPID
	}
	switch n.Outbox {
	case outAgreement:
		return NegAgreed, theirs + "/agreement", ContractAgreementMessage{Header: header(TypeContractAgreement),
			ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, Agreement: *n.Agreement, CallbackAddress: s.cfg.BaseURL()}, true
	case outOffer:
		return NegOffered, theirs + "/offers", ContractOfferMessage{Header: header(TypeContractOffer),
			ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, Offer: n.Offer}, true
	case outFinalized:
		return NegFinalized, theirs + "/events", ContractNegotiationEventMessage{Header: header(TypeNegotiationEvent),
			ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, EventType: EventFinalized}, true
	case outVerification:
		return NegVerified, theirs + "/agreement/verification", ContractAgreementVerificationMessage{Header: header(TypeAgreementVerification),
			ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID}, true
	case outTermination:
		return NegTerminated, theirs + "/termination", ContractNegotiationTerminationMessage{Header: header(TypeNegotiationTermination),
			ProviderPID: n.ProviderPID, ConsumerPID: n.ConsumerPID, Code: n.Code, Reason: n.Reasons}, true
	}
	return "", "", nil, false
}

// resume restarts every delivery a previous run left owed.
func (s *Service) resume() error {
	ns, err := s.store.negotiations()
	if err != nil {
		return err
	}
	for _, n := range ns {
		if n.Outbox != "" {
			s.kickNegotiation(n.Key())
		}
	}
	ts, err := s.store.transfers()
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.Outbox != "" {
			s.kickTransfer(t.Key())
		}
	}
	return nil
}
