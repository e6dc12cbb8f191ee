package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/agreement"
	"github.com/xborder/xborder/policy"
)

// AgreementProtocol carries model-sharing agreement negotiation: the
// proposer offers the text to every party, each party's policy answers,
// and each party's signature travels back to the proposer, who commits the
// fully signed document to the registry. Frames as on RequestProtocol.
const AgreementProtocol = "/xborder/agreement/1.0.0"

// Audit record types of the negotiation.
const (
	RecordAgreementDecision = "agreement.decision"
	RecordAgreementSigned   = "agreement.signed"
)

// Roles a node plays in a negotiation.
const (
	RoleProposer = "proposer"
	RoleParty    = "party"
)

// AgreementPolicy is the node's policy engine, as the negotiation asks it
// whether to sign.
type AgreementPolicy interface {
	Agreement(ctx context.Context, in policy.AgreementInput) (policy.Decision, error)
}

// AgreementRegistry is what the negotiation and the agreement views need
// from the registry.
type AgreementRegistry interface {
	MemberByPeer(p peer.ID) (Member, bool)
	MemberByName(name string) (Member, bool)
	// AppliedIndex is the registry index that reads reflect; it fails
	// when the registry is closed.
	AppliedIndex() (uint64, error)
	// CommittedAgreement returns an agreement in the registry; the error
	// says why there is none (the registry's not-found error when it holds
	// no agreement id).
	CommittedAgreement(id string) (RegisteredAgreement, error)
	// CommittedAgreements lists the agreements in the registry.
	CommittedAgreements() ([]RegisteredAgreement, error)
	// CommitAgreement has a fully signed document committed; nil when it
	// is committed already.
	CommitAgreement(ctx context.Context, doc agreement.Signed) error
	// RevokeAgreement has a party's revocation committed.
	RevokeAgreement(ctx context.Context, id, reason string) error
}

// RegisteredAgreement is an agreement as the registry holds it, every
// party's signature in Document.
type RegisteredAgreement struct {
	agreement.Agreement
	Document agreement.Signed
	// Status is what a reader reports when it was read: active, pending,
	// expired or revoked.
	Status      string
	CommittedBy string
	Committed   time.Time
	// Revoked is set once a party revoked it, with who, when and why.
	Revoked      bool
	RevokedBy    string
	RevokedAt    time.Time
	RevokeReason string
}

// Errors of the negotiation.
var (
	ErrAgreementExists = errors.New("an agreement with this id already exists")
	ErrNoDraft         = errors.New("no agreement with this id awaits this node")
	ErrUnreachable     = errors.New("the party could not be reached")
	// ErrAgreementRefused is wrapped when a party signs an agreement that
	// another party refused: it can never be completed.
	ErrAgreementRefused = errors.New("an agreement a party refused cannot be signed")
)

// Agreements negotiates model-sharing agreements on behalf of this node.
// It shares the exchange service's host, key, streams and exchange.db.
type Agreements struct {
	s   *Service
	cat *Catalogue
	pol AgreementPolicy
	reg AgreementRegistry
	mu  sync.Mutex // serialises read-modify-write of drafts
}

var exchangeAgreements = []byte("agreement_drafts")

// AgreementsDeps are the negotiation's collaborators.
type AgreementsDeps struct {
	// Service lends its host, key, streams, audit trail and exchange.db.
	Service *Service
	// Catalogue tells the model and its training datasets.
	Catalogue *Catalogue
	Policy    AgreementPolicy
	Registry  AgreementRegistry
}

// NewAgreements registers AgreementProtocol on the service's host. It has
// no configuration of its own: it runs on the service's.
func NewAgreements(d AgreementsDeps) (*Agreements, error) {
	s, cat, pol, reg := d.Service, d.Catalogue, d.Policy, d.Registry
	if s == nil || cat == nil || pol == nil || reg == nil {
		return nil, errors.New("agreements: service, catalogue, policy and registry are required")
	}
	if err := s.db.db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(exchangeAgreements)
		return err
	}); err != nil {
		return nil, fmt.Errorf("agreements: %w", err)
	}
	g := &Agreements{s: s, cat: cat, pol: pol, reg: reg}
	s.host.SetStreamHandler(AgreementProtocol, g.handle)
	return g, nil
}

// Close removes the stream handler; the service's Close ends the streams.
func (g *Agreements) Close() { g.s.host.RemoveStreamHandler(AgreementProtocol) }

// Propose sends a new agreement to every party after this node's own
// policy accepted it. The proposer is this node. It returns the draft
// with each party's answer; an *AgreementRefusedError when any party
// refused, or a *policy.DeniedError when this node's own policy did.
func (g *Agreements) Propose(ctx context.Context, a agreement.Agreement) (Draft, error) {
	a.CreatedBy = g.s.self.Name
	if a.Created.IsZero() {
		a.Created = g.s.now()
	}
	a = a.Normalize()
	if probs := agreementDateProblems(a); len(probs) > 0 {
		return Draft{}, &ValidationError{What: "agreement", Problems: probs}
	}
	if err := a.Validate(); err != nil {
		return Draft{}, &ValidationError{What: "agreement", Problems: []string{err.Error()}}
	}
	if _, _, err := ParseRef(a.Model); err != nil {
		return Draft{}, &ValidationError{What: "agreement", Problems: []string{"model: " + err.Error()}, Err: ErrBadID}
	}
	var unknown []string
	for _, p := range a.Parties {
		if _, ok := g.reg.MemberByName(p); !ok {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		return Draft{}, &ValidationError{What: "agreement", Problems: []string{"parties: not members of the federation: " + strings.Join(unknown, ", ")}}
	}
	if _, err := g.reg.CommittedAgreement(a.ID); err == nil {
		return Draft{}, fmt.Errorf("agreement %s: %w in the registry", a.ID, ErrAgreementExists)
	}
	if old, ok, err := g.load(a.ID); err != nil {
		return Draft{}, err
	} else if ok && len(old.Refusals()) == 0 {
		return Draft{}, fmt.Errorf("agreement %s: %w on this node (%s)", a.ID, ErrAgreementExists, old.Role)
	}

	d, err := g.decide(ctx, a)
	if err != nil {
		return Draft{}, err
	}
	draft := Draft{Agreement: a, Document: agreement.NewSigned(a), Role: RoleProposer}
	for _, p := range a.Parties {
		draft.Parties = append(draft.Parties, PartyState{Member: p})
	}
	draft.party(g.s.self.Name).Decision = &d
	if !d.Allow {
		return Draft{}, &policy.DeniedError{Point: policy.AgreementDecision, Decision: d}
	}
	var wg sync.WaitGroup
	for i := range draft.Parties {
		p := &draft.Parties[i]
		if p.Member == g.s.self.Name {
			continue
		}
		wg.Go(func() {
			d, err := g.offer(ctx, p.Member, draft.Document)
			if err != nil {
				p.Error = err.Error()
				return
			}
			p.Decision = &d
		})
	}
	wg.Wait()
	g.mu.Lock()
	err = g.store(&draft)
	g.mu.Unlock()
	if err != nil {
		return Draft{}, err
	}
	if len(draft.Refusals()) > 0 {
		return draft, &AgreementRefusedError{Draft: draft}
	}
	return draft, nil
}

// Agreement dates must fall in [EarliestAgreementDate, LatestAgreementDate):
// the policies judge them with Rego's time built-ins, which count
// nanoseconds since 1970 in an int64 and so end in April 2262.
var (
	EarliestAgreementDate = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	LatestAgreementDate   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// agreementDateProblems words what is wrong with an agreement's validity
// dates, for the person who proposed them. The registry's own check
// (agreement.Agreement.Validate) stays as it is: every replica applies it.
func agreementDateProblems(a agreement.Agreement) []string {
	var probs []string
	inRange := func(field string, t time.Time) bool {
		if t.Before(EarliestAgreementDate) || !t.Before(LatestAgreementDate) {
			probs = append(probs, fmt.Sprintf("%s %s: date out of range; agreement dates run from %s to %s", field,
				t.Format(time.DateOnly), EarliestAgreementDate.Format(time.DateOnly), LatestAgreementDate.AddDate(0, 0, -1).Format(time.DateOnly)))
			return false
		}
		return true
	}
	if a.ValidFrom.IsZero() || a.ValidUntil.IsZero() {
		return []string{"valid_from and valid_until (--from, --until) are required"}
	}
	fromOK, untilOK := inRange("valid_from", a.ValidFrom), inRange("valid_until", a.ValidUntil)
	if fromOK && untilOK && !a.ValidUntil.After(a.ValidFrom) {
		probs = append(probs, fmt.Sprintf("valid_until %s must be after valid_from %s", a.ValidUntil.Format(time.RFC3339), a.ValidFrom.Format(time.RFC3339)))
	}
	return probs
}

// offer sends the text to one party and returns its policy's answer.
func (g *Agreements) offer(ctx context.Context, party string, doc agreement.Signed) (policy.Decision, error) {
	m, ok := g.reg.MemberByName(party)
	if !ok {
		return policy.Decision{}, fmt.Errorf("%s is not a member", party)
	}
	var reply agreementReply
	if err := g.s.roundTrip(ctx, m.PeerID, AgreementProtocol, agreementFrame{Offer: &doc}, &reply); err != nil {
		return policy.Decision{}, err
	}
	if reply.Code != "" {
		return policy.Decision{}, &RefusedError{Code: reply.Code, Reason: reply.Reason}
	}
	if reply.Decision == nil {
		return policy.Decision{}, errors.New("the party answered without a decision")
	}
	return *reply.Decision, nil
}

// Sign adds this node's signature to a draft it accepted, after asking
// its policy again (the policy may have changed since the proposal). At
// the proposer the signature is kept; at another party it is sent to the
// proposer. When the last party signs, the proposer commits the document.
func (g *Agreements) Sign(ctx context.Context, id string) (Draft, error) {
	draft, ok, err := g.load(id)
	if err != nil {
		return Draft{}, err
	}
	if !ok {
		if _, err := g.reg.CommittedAgreement(id); err == nil {
			return Draft{}, fmt.Errorf("agreement %s: %w in the registry, signed by every party", id, ErrAgreementExists)
		}
		return Draft{}, fmt.Errorf("agreement %s: %w (a party receives an agreement when it is proposed)", id, ErrNoDraft)
	}
	if draft.Committed {
		return draft, fmt.Errorf("agreement %s: %w in the registry, signed by every party", id, ErrAgreementExists)
	}
	a := draft.Agreement
	d, err := g.decide(ctx, a)
	if err != nil {
		return Draft{}, err
	}
	if !d.Allow {
		return Draft{}, &policy.DeniedError{Point: policy.AgreementDecision, Decision: d}
	}
	sig, err := agreement.Sign(a, g.s.self.Name, g.s.key)
	if err != nil {
		return Draft{}, err
	}
	// A signature leaves this node only once it is on record.
	if err := g.s.record(RecordAgreementSigned, a.ID, map[string]any{"model": a.Model, "parties": a.Parties, "proposer": a.CreatedBy}); err != nil {
		return Draft{}, fmt.Errorf("sign agreement %s: %w", a.ID, err)
	}
	if draft.Role == RoleProposer {
		return g.addSignature(ctx, a.ID, draft.Document.Payload, g.s.self.Name, sig)
	}
	proposer, ok := g.reg.MemberByName(a.CreatedBy)
	if !ok {
		return Draft{}, fmt.Errorf("the proposer %s is no longer a member", a.CreatedBy)
	}
	var reply agreementReply
	frame := agreementFrame{Signature: &signatureFrame{ID: a.ID, Payload: draft.Document.Payload, Signature: sig}}
	if err := g.s.roundTrip(ctx, proposer.PeerID, AgreementProtocol, frame, &reply); err != nil {
		return Draft{}, fmt.Errorf("send the signature to the proposer %s: %w: %w", a.CreatedBy, ErrUnreachable, err)
	}
	if reply.Code != "" {
		return Draft{}, fmt.Errorf("the proposer %s refused the signature: %w", a.CreatedBy, &RefusedError{Code: reply.Code, Reason: reply.Reason})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	draft, _, err = g.load(id)
	if err != nil {
		return Draft{}, err
	}
	draft.Document = draft.Document.Add(sig)
	for _, name := range reply.Signed {
		if p := draft.party(name); p != nil {
			p.Signed = true
		}
	}
	draft.Committed = reply.Committed
	return draft, g.store(&draft)
}

// addSignature records a verified signature at the proposer and commits
// the document once every party signed. It returns the updated draft.
func (g *Agreements) addSignature(ctx context.Context, id, payload, signer string, sig agreement.Signature) (Draft, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	draft, ok, err := g.load(id)
	if err != nil {
		return Draft{}, err
	}
	if !ok || draft.Role != RoleProposer {
		return Draft{}, fmt.Errorf("agreement %s: %w as its proposer", id, ErrNoDraft)
	}
	if rs := draft.Refusals(); len(rs) > 0 {
		names := make([]string, len(rs))
		for i, r := range rs {
			names[i] = r.Member
		}
		return Draft{}, fmt.Errorf("agreement %s was refused by %s; %w (propose a new one)", id, strings.Join(names, ", "), ErrAgreementRefused)
	}
	if draft.Document.Payload != payload {
		return Draft{}, fmt.Errorf("the signature is over another text than agreement %s as proposed", id)
	}
	if who, err := sig.Signer(); err != nil || who != signer {
		return Draft{}, fmt.Errorf("the signature is not by %s", signer)
	}
	p := draft.party(signer)
	if p == nil {
		return Draft{}, fmt.Errorf("%s is not a party to agreement %s", signer, id)
	}
	if !p.Signed {
		m, ok := g.reg.MemberByName(signer)
		if !ok {
			return Draft{}, fmt.Errorf("%s is not a member", signer)
		}
		pub, err := memberKey(m.PeerID)
		if err != nil {
			return Draft{}, err
		}
		if err := sig.Verify(payload, pub); err != nil {
			return Draft{}, fmt.Errorf("the signature of %s does not verify: %w", signer, err)
		}
		draft.Document = draft.Document.Add(sig)
		p.Signed = true
	}
	if !draft.Committed && slices.IndexFunc(draft.Parties, func(p PartyState) bool { return !p.Signed }) < 0 {
		if err := g.reg.CommitAgreement(ctx, draft.Document); err != nil {
			_ = g.store(&draft)
			return draft, fmt.Errorf("every party signed agreement %s, but the registry did not commit it: %w", id, err)
		}
		draft.Committed = true
	}
	return draft, g.store(&draft)
}

// decide asks this node's policy whether it signs a, from what this node
// knows of the model and the parties.
func (g *Agreements) decide(ctx context.Context, a agreement.Agreement) (policy.Decision, error) {
	owner, id, _ := strings.Cut(a.Model, "/")
	model, err := g.cat.Get(owner, id)
	if err != nil || model.Kind != KindModel {
		d := policy.Decision{Rules: []string{"model_unknown"}, Reasons: []string{fmt.Sprintf(
			"This node does not know a model %s in the federation catalogue, so it cannot judge agreement %s; the model's owner must publish it (visible to this node) first.", a.Model, a.ID)}}
		if err := g.recordDecision(a, d); err != nil {
			return policy.Decision{}, err
		}
		return d, nil
	}
	in := policy.AgreementInput{
		Agreement: policy.AgreementDraft{ID: a.ID, Purposes: a.Purposes, ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil,
			Conditions: a.Conditions, Model: policy.ModelRef{Owner: owner, ID: id, PersonalData: model.PersonalData, Theme: model.Theme}},
		Self: g.node(g.s.self.Name),
		Time: g.s.now().UTC(),
	}
	in.Proposer = g.node(a.CreatedBy)
	for _, p := range a.Parties {
		in.Agreement.Parties = append(in.Agreement.Parties, g.node(p))
	}
	if model.Model != nil {
		for _, ref := range model.Model.TrainingDatasets {
			o, did, _ := strings.Cut(ref, "/")
			// A training dataset this node cannot see counts as personal
			// data: the stricter rules apply to what cannot be checked.
			ds := policy.DatasetRef{Owner: o, ID: did, PersonalData: true}
			if l, err := g.cat.Get(o, did); err == nil {
				ds.PersonalData = l.PersonalData
			}
			in.Agreement.Model.TrainingDatasets = append(in.Agreement.Model.TrainingDatasets, ds)
		}
	}
	d, err := g.pol.Agreement(ctx, in)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("agreements policy: %w", err)
	}
	if err := g.recordDecision(a, d); err != nil {
		return policy.Decision{}, err
	}
	return d, nil
}

// recordDecision keeps the decision in the audit trail; a decision that
// cannot be kept is not used.
func (g *Agreements) recordDecision(a agreement.Agreement, d policy.Decision) error {
	return g.s.record(RecordAgreementDecision, a.ID, map[string]any{"model": a.Model, "proposer": a.CreatedBy,
		"allow": d.Allow, "reasons": d.Reasons, "rules": d.Rules, "bundle": d.Bundle})
}

func (g *Agreements) node(name string) policy.Node {
	m, _ := g.reg.MemberByName(name)
	return policy.Node{Node: name, Country: m.Country, Org: m.Org, PeerID: m.PeerID.String()}
}
