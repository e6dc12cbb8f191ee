package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// MemberByName implements exchange.AgreementRegistry.
func (r exchangeRegistry) MemberByName(name string) (exchange.Member, bool) {
	for _, m := range r.n.registryMembers() {
		if m.Name == name {
			pid, err := peer.Decode(m.PeerID)
			if err != nil {
				return exchange.Member{}, false
			}
			return exchange.Member{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: pid}, true
		}
	}
	return exchange.Member{}, false
}

// CommittedAgreement implements exchange.AgreementRegistry.
func (r exchangeRegistry) CommittedAgreement(id string) (consensus.AgreementRecord, bool) {
	reg := r.n.registry.Load()
	if reg == nil {
		return consensus.AgreementRecord{}, false
	}
	a, err := reg.Agreement(id)
	return a, err == nil
}

// CommitAgreement implements exchange.AgreementRegistry: the fully signed
// document goes through this node's registry policy like any command.
func (r exchangeRegistry) CommitAgreement(ctx context.Context, doc consensus.SignedAgreement) error {
	_, err := r.n.clerk.Submit(ctx, consensus.OpAgreementCommit, consensus.AgreementCommit{Document: doc})
	var na *consensus.NotAppliedError
	if errors.As(err, &na) {
		// Committed: every replica, this one too in a while, holds it.
		return nil
	}
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

// ProposeAgreement implements api.Agreements.
func (n *Node) ProposeAgreement(ctx context.Context, a consensus.Agreement) (api.AgreementView, error) {
	d, err := n.agreements.Propose(ctx, a)
	var refused *exchange.AgreementRefusedError
	if err != nil && !errors.As(err, &refused) {
		return api.AgreementView{}, err
	}
	return n.agreementView(d.Agreement.ID, &d), err
}

// SignAgreement implements api.Agreements.
func (n *Node) SignAgreement(ctx context.Context, id string) (api.AgreementView, error) {
	d, err := n.agreements.Sign(ctx, id)
	if err != nil {
		return api.AgreementView{}, err
	}
	return n.agreementView(id, &d), nil
}

// RevokeAgreement implements api.Agreements: a party ends the agreement in
// the registry; from the commit on, no member issues a grant under it and
// owners refuse transfers under grants that name it.
func (n *Node) RevokeAgreement(ctx context.Context, id, reason string) (api.AgreementView, error) {
	if _, err := n.clerk.Submit(ctx, consensus.OpAgreementRevoke, consensus.AgreementRevocation{ID: id, Reason: reason}); err != nil {
		return api.AgreementView{}, err
	}
	return n.agreementView(id, nil), nil
}

// Agreements implements api.Agreements: the committed ones and those under
// negotiation on this node, by id.
func (n *Node) Agreements(context.Context) ([]api.AgreementView, uint64, error) {
	reg := n.registry.Load()
	if reg == nil {
		return nil, 0, consensus.ErrClosed
	}
	idx := reg.AppliedIndex()
	ids := map[string]bool{}
	committed, err := reg.Agreements()
	if err != nil {
		return nil, 0, err
	}
	for _, a := range committed {
		ids[a.ID] = true
	}
	drafts, err := n.agreements.Drafts()
	if err != nil {
		return nil, 0, err
	}
	for _, d := range drafts {
		ids[d.Agreement.ID] = true
	}
	out := make([]api.AgreementView, 0, len(ids))
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range ids {
			if !yield(id) {
				return
			}
		}
	}) {
		out = append(out, n.agreementView(id, nil))
	}
	return out, idx, nil
}

// Agreement implements api.Agreements.
func (n *Node) Agreement(_ context.Context, id string) (api.AgreementView, uint64, error) {
	reg := n.registry.Load()
	if reg == nil {
		return api.AgreementView{}, 0, consensus.ErrClosed
	}
	idx := reg.AppliedIndex()
	v := n.agreementView(id, nil)
	if v.Status == "" {
		return api.AgreementView{}, idx, fmt.Errorf("agreement %q: %w", id, consensus.ErrNotFound)
	}
	return v, idx, nil
}

// agreementView merges what the registry holds about an agreement with the
// negotiation state this node keeps (draft, when given, is fresher than
// the stored one). Status is empty when neither knows the id.
func (n *Node) agreementView(id string, draft *exchange.Draft) api.AgreementView {
	if draft == nil {
		if d, ok, err := n.agreements.Draft(id); err == nil && ok {
			draft = &d
		}
	}
	var v api.AgreementView
	if draft != nil {
		v.Agreement, v.Role, v.Document = draft.Agreement, draft.Role, draft.Document
		v.PartyStates = draft.Parties
		v.Status = api.AgreementNegotiating
		if len(draft.Refusals()) > 0 {
			v.Status = api.AgreementRefused
		}
	}
	reg := n.registry.Load()
	if reg == nil {
		return v
	}
	r, err := reg.Agreement(id)
	if err != nil {
		return v
	}
	v.Agreement, v.Document = r.Agreement, r.Document
	v.InRegistry = true
	v.Status = r.StatusAt(time.Now())
	v.CommittedBy, v.Committed = r.CommittedBy, time.UnixMilli(r.Committed).UTC()
	if r.Status == consensus.AgreementRevoked {
		v.RevokedBy, v.Revoked, v.RevokeReason = r.RevokedBy, time.UnixMilli(r.Revoked).UTC(), r.Reason
	}
	// Every party signed what the registry holds.
	states := make([]exchange.PartyState, 0, len(r.Parties))
	for _, p := range r.Parties {
		s := exchange.PartyState{Member: p, Signed: true}
		for _, known := range v.PartyStates {
			if known.Member == p {
				s.Decision = known.Decision
			}
		}
		states = append(states, s)
	}
	v.PartyStates = states
	return v
}

// agreementAuthorises reports whether the registry holds agreement id as
// in force at t and not revoked.
func (n *Node) agreementAuthorises(id string, t time.Time) bool {
	reg := n.registry.Load()
	if reg == nil {
		return false
	}
	a, err := reg.Agreement(id)
	return err == nil && a.Authorises(t)
}
