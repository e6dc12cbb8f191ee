package node

import (
	"context"
	"errors"
	"time"

	"github.com/xborder/xborder/agreement"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// AppliedIndex implements exchange.AgreementRegistry.
func (r exchangeRegistry) AppliedIndex() (uint64, error) {
	reg := r.n.registry.Load()
	if reg == nil {
		return 0, consensus.ErrClosed
	}
	return reg.AppliedIndex(), nil
}

// CommittedAgreement implements exchange.AgreementRegistry.
func (r exchangeRegistry) CommittedAgreement(id string) (exchange.RegisteredAgreement, error) {
	reg := r.n.registry.Load()
	if reg == nil {
		return exchange.RegisteredAgreement{}, consensus.ErrClosed
	}
	a, err := reg.Agreement(id)
	if errors.Is(err, consensus.ErrNotFound) {
		// The exchange names the agreement itself.
		return exchange.RegisteredAgreement{}, consensus.ErrNotFound
	}
	if err != nil {
		return exchange.RegisteredAgreement{}, err
	}
	return registeredAgreement(a, r.n.now()), nil
}

// CommittedAgreements implements exchange.AgreementRegistry.
func (r exchangeRegistry) CommittedAgreements() ([]exchange.RegisteredAgreement, error) {
	reg := r.n.registry.Load()
	if reg == nil {
		return nil, consensus.ErrClosed
	}
	all, err := reg.Agreements()
	if err != nil {
		return nil, err
	}
	now := r.n.now()
	out := make([]exchange.RegisteredAgreement, len(all))
	for i, a := range all {
		out[i] = registeredAgreement(a, now)
	}
	return out, nil
}

// registeredAgreement is a registry record as the exchange reads it, with
// the status a reader reports at now.
func registeredAgreement(r consensus.AgreementRecord, now time.Time) exchange.RegisteredAgreement {
	out := exchange.RegisteredAgreement{Agreement: r.Agreement, Document: r.Document, Status: r.StatusAt(now),
		CommittedBy: r.CommittedBy, Committed: time.UnixMilli(r.Committed).UTC()}
	if r.Status == consensus.AgreementRevoked {
		out.Revoked, out.RevokedBy, out.RevokedAt, out.RevokeReason = true, r.RevokedBy, time.UnixMilli(r.Revoked).UTC(), r.Reason
	}
	return out
}

// CommitAgreement implements exchange.AgreementRegistry: the fully signed
// document goes through this node's registry policy like any command.
func (r exchangeRegistry) CommitAgreement(ctx context.Context, doc agreement.Signed) error {
	_, err := r.n.clerk.Submit(ctx, consensus.OpAgreementCommit, consensus.AgreementCommit{Document: doc})
	var na *consensus.NotAppliedError
	if errors.As(err, &na) || errors.Is(err, consensus.ErrExists) {
		// Committed: every replica, this one too in a while, holds it.
		return nil
	}
	return err
}

// RevokeAgreement implements exchange.AgreementRegistry.
func (r exchangeRegistry) RevokeAgreement(ctx context.Context, id, reason string) error {
	_, err := r.n.clerk.Submit(ctx, consensus.OpAgreementRevoke, consensus.AgreementRevocation{ID: id, Reason: reason})
	return err
}

// Agreements implements exchange.Registry: the committed agreements for a
// model (owner/id), as the exchange policy reads them. A revoked
// agreement stays in the list with its status, so that the policy can say
// why it no longer authorises.
func (r exchangeRegistry) Agreements(ref string) []policy.Agreement {
	reg := r.n.registry.Load()
	if reg == nil {
		return nil
	}
	all, err := reg.Agreements()
	if err != nil {
		return nil
	}
	var out []policy.Agreement
	for _, a := range all {
		if a.Model != ref {
			continue
		}
		out = append(out, policy.Agreement{ID: a.ID, Model: a.Model, Parties: a.Parties, Purposes: a.Purposes,
			ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil, Status: a.Status})
	}
	return out
}
