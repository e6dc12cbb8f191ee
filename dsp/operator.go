package dsp

import (
	"context"
	"fmt"
	"net/http"
)

// What an operator (or the node's API on a user's behalf) does to a
// process this node holds: each moves the process at once and sends the
// other party the message, retried in the background.

// OperatorCode is the code of a termination or suspension an operator
// decided.
const OperatorCode = "operator"

func reasonsOf(reason string, dflt string) []string {
	if reason == "" {
		reason = dflt
	}
	return []string{reason}
}

// TerminateNegotiation ends a negotiation this node holds, in either
// role, and tells the other party why.
func (s *Service) TerminateNegotiation(_ context.Context, pid, reason string) (*Negotiation, error) {
	n, err := s.store.negotiation(pid)
	if err != nil {
		return nil, err
	}
	if !negotiationMay(n.State, NegTerminated) {
		return nil, invalidNegotiationState(n, NegTerminated, "termination")
	}
	n, err = s.store.updateNegotiation(pid, func(n *Negotiation) error {
		if !negotiationMay(n.State, NegTerminated) {
			return invalidNegotiationState(n, NegTerminated, "termination")
		}
		n.Outbox, n.Attempts, n.Code, n.Reasons = outTermination, 0, OperatorCode, reasonsOf(reason, "Terminated by "+s.cfg.ParticipantID+"'s operator.")
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.kickNegotiation(pid)
	return n, nil
}

// transferAction sets a transfer's owed message after checking the
// protocol allows the move from its state and this node's role.
func (s *Service) transferAction(pid string, to TransferState, outbox string, provider bool, change func(t *Transfer)) (*Transfer, error) {
	t, err := s.store.updateTransfer(pid, func(t *Transfer) error {
		if provider && t.Role != RoleProvider {
			return refuse(http.StatusConflict, CodeInvalidState, fmt.Sprintf("Transfer %s is one this node consumes; only its provider may %s it.", pid, outbox))
		}
		if !transferMay(t.State, to) {
			return invalidTransferState(t, to, outbox)
		}
		t.Outbox, t.Attempts = outbox, 0
		if change != nil {
			change(t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.kickTransfer(pid)
	return t, nil
}

// TerminateTransfer ends a transfer this node holds, in either role.
func (s *Service) TerminateTransfer(_ context.Context, pid, reason string) (*Transfer, error) {
	return s.transferAction(pid, TPTerminated, outTermination, false, func(t *Transfer) {
		t.Code, t.Reasons = OperatorCode, reasonsOf(reason, "Terminated by "+s.cfg.ParticipantID+"'s operator.")
	})
}

// SuspendTransfer suspends a started transfer this node provides: its
// data-plane token stops working until ResumeTransfer.
func (s *Service) SuspendTransfer(_ context.Context, pid, reason string) (*Transfer, error) {
	return s.transferAction(pid, TPSuspended, outSuspension, true, func(t *Transfer) {
		t.Code, t.Reasons = OperatorCode, reasonsOf(reason, "Suspended by "+s.cfg.ParticipantID+"'s operator.")
	})
}

// ResumeTransfer starts a suspended transfer this node provides again,
// with a new data address and token.
func (s *Service) ResumeTransfer(_ context.Context, pid string) (*Transfer, error) {
	return s.transferAction(pid, TPStarted, outStart, true, nil)
}

// CompleteTransfer completes a started transfer this node provides.
func (s *Service) CompleteTransfer(_ context.Context, pid string) (*Transfer, error) {
	return s.transferAction(pid, TPCompleted, outCompletion, true, nil)
}

// Changed returns a channel closed at the next change of a process this
// node holds (by its own PID), for a caller that follows it.
func (s *Service) Changed(pid string) <-chan struct{} { return s.next(pid) }
