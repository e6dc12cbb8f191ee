package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xborder/xborder/agreement"
)

// Statuses of an agreement not (yet) in the registry; an agreement in the
// registry has the status the registry reports (active, pending, expired
// or revoked).
const (
	AgreementNegotiating = "negotiating" // proposed, not signed by every party yet
	AgreementRefused     = "refused"     // a party's policy refused it
)

// AgreementView is an agreement as this node shows it: what the registry
// holds merged with the negotiation this node took part in.
type AgreementView struct {
	agreement.Agreement
	Status      string       `json:"status"`
	Role        string       `json:"role,omitempty"` // this node's part in the negotiation
	PartyStates []PartyState `json:"party_states"`
	InRegistry  bool         `json:"in_registry"`
	CommittedBy string       `json:"committed_by,omitempty"`
	Committed   time.Time    `json:"committed_at,omitzero"`
	RevokedBy   string       `json:"revoked_by,omitempty"`
	Revoked     time.Time    `json:"revoked_at,omitzero"`
	// RevokeReason is the revoking party's reason.
	RevokeReason string           `json:"revoke_reason,omitempty"`
	Document     agreement.Signed `json:"document"`
}

// ProposeAgreement proposes a and shows the result. When a party refused
// (*AgreementRefusedError), the view shows every party's answer.
func (g *Agreements) ProposeAgreement(ctx context.Context, a agreement.Agreement) (AgreementView, error) {
	d, err := g.Propose(ctx, a)
	var refused *AgreementRefusedError
	if err != nil && !errors.As(err, &refused) {
		return AgreementView{}, err
	}
	return g.view(d.Agreement.ID, &d), err
}

// SignAgreement signs a draft and shows the result.
func (g *Agreements) SignAgreement(ctx context.Context, id string) (AgreementView, error) {
	d, err := g.Sign(ctx, id)
	if err != nil {
		return AgreementView{}, err
	}
	return g.view(id, &d), nil
}

// RevokeAgreement has this node, a party, end the agreement in the
// registry; from the commit on, no member issues a grant under it and
// owners refuse transfers under grants that name it.
func (g *Agreements) RevokeAgreement(ctx context.Context, id, reason string) (AgreementView, error) {
	if err := g.reg.RevokeAgreement(ctx, id, reason); err != nil {
		return AgreementView{}, err
	}
	return g.view(id, nil), nil
}

// Agreements lists the committed agreements and those under negotiation
// on this node, by id, with the registry index they reflect.
func (g *Agreements) Agreements(context.Context) ([]AgreementView, uint64, error) {
	idx, err := g.reg.AppliedIndex()
	if err != nil {
		return nil, 0, err
	}
	ids := map[string]bool{}
	committed, err := g.reg.CommittedAgreements()
	if err != nil {
		return nil, 0, err
	}
	for _, a := range committed {
		ids[a.ID] = true
	}
	drafts, err := g.Drafts()
	if err != nil {
		return nil, 0, err
	}
	for _, d := range drafts {
		ids[d.Agreement.ID] = true
	}
	out := make([]AgreementView, 0, len(ids))
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range ids {
			if !yield(id) {
				return
			}
		}
	}) {
		out = append(out, g.view(id, nil))
	}
	return out, idx, nil
}

// Agreement shows one agreement, committed or under negotiation here.
func (g *Agreements) Agreement(_ context.Context, id string) (AgreementView, uint64, error) {
	idx, err := g.reg.AppliedIndex()
	if err != nil {
		return AgreementView{}, 0, err
	}
	v, regErr := g.viewErr(id, nil)
	if v.Status == "" {
		return AgreementView{}, idx, regErr
	}
	return v, idx, nil
}

func (g *Agreements) view(id string, draft *Draft) AgreementView {
	v, _ := g.viewErr(id, draft)
	return v
}

// viewErr merges what the registry holds about an agreement with the
// negotiation state this node keeps (draft, when given, is fresher than
// the stored one). Status is empty when neither knows the id; the error
// is then the registry's reason.
func (g *Agreements) viewErr(id string, draft *Draft) (AgreementView, error) {
	if draft == nil {
		if d, ok, err := g.Draft(id); err == nil && ok {
			draft = &d
		}
	}
	var v AgreementView
	if draft != nil {
		v.Agreement, v.Role, v.Document = draft.Agreement, draft.Role, draft.Document
		v.PartyStates = draft.Parties
		v.Status = AgreementNegotiating
		if len(draft.Refusals()) > 0 {
			v.Status = AgreementRefused
		}
	}
	r, err := g.reg.CommittedAgreement(id)
	if err != nil {
		return v, fmt.Errorf("agreement %q: %w", id, err)
	}
	v.Agreement, v.Document = r.Agreement, r.Document
	v.InRegistry = true
	v.Status = r.Status
	v.CommittedBy, v.Committed = r.CommittedBy, r.Committed
	if r.Revoked {
		v.RevokedBy, v.Revoked, v.RevokeReason = r.RevokedBy, r.RevokedAt, r.RevokeReason
	}
	// Every party signed what the registry holds.
	states := make([]PartyState, 0, len(r.Parties))
	for _, p := range r.Parties {
		s := PartyState{Member: p, Signed: true}
		for _, known := range v.PartyStates {
			if known.Member == p {
				s.Decision = known.Decision
			}
		}
		states = append(states, s)
	}
	v.PartyStates = states
	return v, nil
}
