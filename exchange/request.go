package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
)

// Audit record types written by the request side of the exchange.
const (
	RecordDecision       = "exchange.decision"
	RecordRequestRefused = "exchange.request.refused"
	RecordGrantIssued    = "exchange.grant.issued"
	RecordGrantReceived  = "exchange.grant.received"
	RecordRequestDenied  = "exchange.request.denied"
)

// Rules named by the denials the exchange gives without asking the policy.
const (
	ruleUnknownResource = "exchange.unknown_resource"
	ruleNoDecision      = "exchange.no_decision"
	// ruleHiddenResource is recorded at the owner only: the requester gets
	// the answer of ruleUnknownResource.
	ruleHiddenResource = "exchange.hidden_resource"
)

// Request asks owner for a dataset or model on behalf of researcher, who
// this node vouches for. The owner's decision comes back in the Answer.
//
// When the owner allows, the Answer carries a grant that has been checked
// (signed by the owner, for this node, for owner/id) and stored in
// exchange.db. When it denies, the Answer carries the decision and the
// error is a *policy.DeniedError with the same decision. When the owner
// could not verify the request, the error is a *RefusedError.
func (s *Service) Request(ctx context.Context, owner Member, id, purpose, project string, researcher policy.Researcher) (Answer, error) {
	if !s.begin() {
		return Answer{}, ErrServiceClosed
	}
	defer s.wg.Done()
	if !validName(owner.Name) || owner.PeerID == "" {
		return Answer{}, fmt.Errorf("request %s/%s: %w", owner.Name, id, ErrBadName)
	}
	if err := ValidateID(id); err != nil {
		return Answer{}, fmt.Errorf("request %s/%s: %w", owner.Name, id, err)
	}
	if owner.PeerID == s.self.PeerID {
		return Answer{}, &ValidationError{What: "request", Err: ErrOwnResource,
			Problems: []string{fmt.Sprintf("%s/%s is an entry of this node; a node requests only other members' entries", owner.Name, id)}}
	}
	if researcher.Sub == "" {
		return Answer{}, errors.New("request: the researcher has no subject")
	}
	resource := owner.Name + "/" + id
	now := s.now()
	token, err := signRequest(s.key, requestClaims{
		Issuer: s.self.PeerID.String(), Audience: owner.PeerID.String(), ID: newTokenID(),
		IssuedAt: now.Unix(), Expires: now.Add(s.cfg.RequestTTL).Unix(),
		Researcher: researcher, Resource: resource, Purpose: purpose, Project: project,
	})
	if err != nil {
		return Answer{}, fmt.Errorf("request %s: %w", resource, err)
	}
	var fr answerFrame
	if err := s.roundTrip(ctx, owner.PeerID, RequestProtocol, requestFrame{Token: token}, &fr); err != nil {
		return Answer{}, fmt.Errorf("request %s: %w", resource, err)
	}
	if fr.Code != "" {
		return Answer{}, &RefusedError{Code: fr.Code, Reason: fr.Reason}
	}
	ans := fr.Answer
	ans.Decision.MaxValidity = time.Duration(ans.Decision.MaxValiditySeconds) * time.Second
	subject := s.self.Name + " -> " + resource
	if !ans.Decision.Allow {
		// A grant next to a denial is the owner's bug; never keep it.
		ans.Grant, ans.GrantID, ans.ExpiresAt = "", "", time.Time{}
		// A denial is no action: it stands even if its record fails.
		_ = s.record(RecordRequestDenied, subject, deniedRecord{
			Owner: owner.Name, Reasons: ans.Decision.Reasons, Rules: ans.Decision.Rules, Bundle: ans.Decision.Bundle,
			Purpose: purpose, Project: project, Researcher: researcher.Sub,
		})
		return ans, &policy.DeniedError{Point: policy.ExchangeDecision, Decision: ans.Decision}
	}
	gc, err := checkGrantHeld(ans.Grant, owner, id, s.self.PeerID, s.now())
	if err == nil && gc.ID != ans.GrantID {
		err = fmt.Errorf("%w: grant ID %q, answer says %q", ErrInvalidGrant, gc.ID, ans.GrantID)
	}
	if err != nil {
		return Answer{}, fmt.Errorf("answer of %s: %w", owner.Name, err)
	}
	ans.ExpiresAt = gc.expiresAt().UTC()
	info := grantInfo(GrantHeld, gc, owner.Name, s.self.Name, ans.Grant)
	// The grant is kept (and so usable) only once its receipt is on record.
	if err := s.record(RecordGrantReceived, subject, grantRecord{
		GrantID: gc.ID, SHA256: gc.SHA256, Size: gc.Size, ExpiresAt: info.ExpiresAt,
		Obligations: gc.Obligations, Purpose: gc.Purpose, Project: gc.Project, Agreement: gc.Agreement,
	}); err != nil {
		return Answer{}, fmt.Errorf("request %s: grant %s not kept: %w", resource, gc.ID, err)
	}
	if err := s.db.putGrant(info); err != nil {
		return ans, fmt.Errorf("store grant %s: %w", gc.ID, err)
	}
	return ans, nil
}

// roundTrip sends one frame on a new stream to p and reads one back,
// within StreamTimeout and ctx; cancelling ctx or closing the service
// resets the stream.
func (s *Service) roundTrip(ctx context.Context, p peer.ID, proto protocol.ID, req, resp any) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StreamTimeout)
	defer cancel()
	// Close must not wait for a dial in progress.
	stopOnClose := context.AfterFunc(s.ctx, cancel)
	defer stopOnClose()
	st, err := s.host.NewStream(ctx, p, proto)
	if err != nil {
		if s.ctx.Err() != nil {
			return ErrServiceClosed
		}
		return fmt.Errorf("open %s stream: %w", proto, err)
	}
	if !s.track(st) {
		_ = st.Reset()
		return ErrServiceClosed
	}
	defer s.untrack(st)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(streamDeadline(ctx, s.now(), s.cfg.StreamTimeout))
	err = frame.Write(st, s.cfg.MaxMessage, req)
	if err == nil {
		_ = st.CloseWrite()
		err = frame.Read(st, s.cfg.MaxMessage, resp)
	}
	if err != nil {
		_ = st.Reset()
		switch {
		case s.ctx.Err() != nil:
			return ErrServiceClosed
		case ctx.Err() != nil:
			return ctx.Err()
		}
		return err
	}
	_ = st.Close()
	return nil
}

// handleRequest answers one request stream (owner side).
func (s *Service) handleRequest(st network.Stream) {
	serveOne(s, st, "request", func(ctx context.Context, remote peer.ID, req requestFrame) answerFrame {
		return s.answerRequest(ctx, remote, req.Token)
	})
}

// answerRequest verifies a request from remote, decides it and, when the
// policy allows, issues a grant. Verification failures become refusals;
// a denial is an answer like an allowance.
func (s *Service) answerRequest(ctx context.Context, remote peer.ID, token string) answerFrame {
	now := s.now()
	member, ok := s.reg.MemberByPeer(remote)
	if !ok {
		return s.refuseRequest(remote.String(), remote, refusef(RefusalNotMember, "peer %s is not a member of the federation", remote))
	}
	c, err := verifyRequestToken(token, remote, s.self.PeerID, now)
	if err != nil {
		return s.refuseRequest(member.Name, remote, err)
	}
	if err := s.db.useNonce(remote.String(), c.ID, c.nonceExpiry(), now); err != nil {
		if errors.Is(err, ErrReplay) {
			return s.refuseRequest(member.Name, remote, refusef(RefusalReplay, "request %s was already received", c.ID))
		}
		s.log.Error("record request nonce", "err", err)
		return s.refuseRequest(member.Name, remote, refusef(RefusalInternal, "the owner could not record the request"))
	}
	subject := member.Name + " -> " + c.Resource
	if err := s.reg.Current(); err != nil {
		return s.refuseRequest(member.Name, remote, refusef(RefusalRegistryBehind,
			"the owner's copy of the federation registry is catching up after a restart (%v); it decides nothing until it has, try again shortly", err))
	}
	dd, err := s.decide(ctx, member, c, now)
	if err != nil {
		s.log.Error("evaluate exchange policy", "subject", subject, "err", err)
		return s.refuseRequest(member.Name, remote, refusef(RefusalInternal, "the owner could not evaluate its policy"))
	}
	d, e := dd.reply, dd.entry
	// No decision leaves this node unless it is on record.
	if err := s.record(RecordDecision, subject, decisionRecord{
		Allow: dd.record.Allow, Reasons: dd.record.Reasons, Rules: dd.record.Rules, Bundle: dd.record.Bundle, InputSHA256: dd.inputSum,
		RequestID: c.ID, Requester: remote.String(), Researcher: c.Researcher.Sub,
		Purpose: c.Purpose, Project: c.Project,
	}); err != nil {
		return s.refuseRequest(member.Name, remote, auditRefusal("decide requests"))
	}
	if !d.Allow {
		return answerFrame{Answer: Answer{Decision: d}}
	}
	validity := grantValidity(d.MaxValiditySeconds)
	if validity == 0 {
		s.log.Error("the exchange policy allowed without max_validity_s; no grant issued", "subject", subject, "bundle", d.Bundle)
		return s.refuseRequest(member.Name, remote, refusef(RefusalInternal, "the owner's policy allowed the request without a validity; no grant was issued"))
	}
	gc := grantClaims{
		Issuer: s.self.PeerID.String(), Audience: remote.String(), Subject: c.Resource, ID: newTokenID(),
		IssuedAt: now.Unix(), Expires: now.Add(validity).Unix(),
		SHA256: e.SHA256, Size: e.Size, Obligations: nonNil(d.Obligations), Purpose: c.Purpose, Project: c.Project,
		Agreement: d.Agreement,
	}
	grant, err := nodejws.Sign(s.key, s.self.PeerID, grantTokenType, gc)
	if err != nil {
		s.log.Error("issue grant", "subject", subject, "err", err)
		return s.refuseRequest(member.Name, remote, refusef(RefusalInternal, "the owner could not issue the grant"))
	}
	// A grant is issued only once it is in the audit trail and in
	// exchange.db; a grant the trail does not know is never stored or sent.
	if err := s.record(RecordGrantIssued, subject, grantRecord{
		GrantID: gc.ID, SHA256: gc.SHA256, Size: gc.Size, ExpiresAt: gc.expiresAt().UTC(),
		Obligations: gc.Obligations, Purpose: gc.Purpose, Project: gc.Project, Agreement: gc.Agreement, Holder: remote.String(),
	}); err != nil {
		return s.refuseRequest(member.Name, remote, auditRefusal("issue grants"))
	}
	if err := s.db.putGrant(grantInfo(GrantIssued, gc, s.self.Name, member.Name, "")); err != nil {
		s.log.Error("store issued grant", "subject", subject, "err", err)
		return s.refuseRequest(member.Name, remote, refusef(RefusalInternal, "the owner could not issue the grant"))
	}
	return answerFrame{Answer: Answer{Decision: d, Grant: grant, GrantID: gc.ID, ExpiresAt: gc.expiresAt().UTC()}}
}

// decision is the owner's answer to a verified request: what the
// requester is told, and what the owner's audit trail records. They differ
// only for an entry the catalogue policy hides from the requester.
type decision struct {
	reply    policy.Decision
	record   policy.Decision
	entry    Entry
	inputSum string // SHA-256 of the exchange policy's input, when it was asked
}

// decide builds the policy input for a verified request and asks the
// Authorizer. A resource this node does not serve is denied here, with a
// reason, without a policy evaluation; so is an entry that
// data.xborder.catalogue.visible hides from the requester, with the very
// same answer: a refusal never reveals that an entry the requester cannot
// see exists. The audit record says which it was.
func (s *Service) decide(ctx context.Context, m Member, c requestClaims, now time.Time) (decision, error) {
	owner, id, ok := strings.Cut(c.Resource, "/")
	if !ok || owner != s.self.Name {
		d := denial(ruleUnknownResource, fmt.Sprintf("%q is not a resource of %s, which received the request.", c.Resource, s.self.Name))
		return decision{reply: d, record: d}, nil
	}
	unknown := denial(ruleUnknownResource, fmt.Sprintf("%s publishes no dataset or model %q (it may have been withdrawn).", s.self.Name, id))
	e, ok := s.src.Lookup(id)
	if !ok || e.Withdrawn {
		return decision{reply: unknown, record: unknown}, nil
	}
	visible, err := s.authz.CatalogueVisible(ctx, visibleInput(m, e))
	if err != nil || !visible {
		why := fmt.Sprintf("%s exists, but data.xborder.catalogue.visible hides it from %s, so the requester was told it is not published.", e.Ref(), m.Name)
		if err != nil {
			// Fail closed: an entry the policy cannot show stays hidden.
			s.log.Error("catalogue policy failed; the entry is treated as hidden", "entry", e.Ref(), "requester", m.Name, "err", err)
			why = fmt.Sprintf("%s exists, but the catalogue policy failed for %s (%v), so the entry stayed hidden and the requester was told it is not published.", e.Ref(), m.Name, err)
		}
		return decision{reply: unknown, record: denial(ruleHiddenResource, why)}, nil
	}
	in := policy.ExchangeInput{
		Requester: policy.Requester{
			Node:       policy.Node{Node: m.Name, PeerID: m.PeerID.String(), Country: m.Country, Org: m.Org},
			Researcher: c.Researcher,
		},
		Resource: policy.Resource{
			Kind: e.Kind, ID: e.ID, Owner: s.self.Name, Theme: e.Theme, Classification: e.Classification,
			PersonalData: e.PersonalData, License: e.License, RequiresProject: e.RequiresProject,
			Partners: nonNil(e.Partners),
		},
		Purpose:    c.Purpose,
		Agreements: nonNilAgreements(s.reg.Agreements(s.self.Name + "/" + id)),
		Self:       policy.Node{Node: s.self.Name, PeerID: s.self.PeerID.String(), Country: s.self.Country, Org: s.self.Org},
		Time:       now.UTC(),
	}
	if c.Project != "" {
		if p, ok := s.reg.Project(c.Project); ok {
			in.Project = &p
		}
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return decision{}, err
	}
	sum := sha256.Sum256(raw)
	d, err := s.authz.Exchange(ctx, in)
	if errors.Is(err, policy.ErrNoDecision) {
		d, err = denial(ruleNoDecision, "The owner's policy gave no decision for this request, so it is denied."), nil
	}
	if err != nil {
		return decision{}, err
	}
	return decision{reply: d, record: d, entry: e, inputSum: hex.EncodeToString(sum[:])}, nil
}

func denial(rule, reason string) policy.Decision {
	return policy.Decision{Reasons: []string{reason}, Rules: []string{rule}, Obligations: []string{}}
}

// refuseRequest records a refusal and turns it into the answer frame.
func (s *Service) refuseRequest(who string, remote peer.ID, err error) answerFrame {
	var r *RefusedError
	if !errors.As(err, &r) {
		r = refusef(RefusalInternal, "%v", err)
	}
	s.log.Info("request refused", "peer", remote, "code", r.Code, "reason", r.Reason)
	// A refusal is no action: it is sent even if its record fails.
	_ = s.record(RecordRequestRefused, who+" -> "+s.self.Name, refusalRecord{Peer: remote.String(), Code: r.Code, Reason: r.Reason})
	return answerFrame{Code: r.Code, Reason: r.Reason}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func nonNilAgreements(v []policy.Agreement) []policy.Agreement {
	if v == nil {
		return []policy.Agreement{}
	}
	return v
}

// Details of the audit records (JSON through the Recorder).
type (
	decisionRecord struct {
		Allow       bool     `json:"allow"`
		Reasons     []string `json:"reasons"`
		Rules       []string `json:"rules"`
		Bundle      string   `json:"bundle"`
		InputSHA256 string   `json:"input_sha256,omitempty"`
		RequestID   string   `json:"request_id"`
		Requester   string   `json:"requester"`
		Researcher  string   `json:"researcher"`
		Purpose     string   `json:"purpose"`
		Project     string   `json:"project,omitempty"`
	}
	deniedRecord struct {
		Owner      string   `json:"owner"`
		Reasons    []string `json:"reasons"`
		Rules      []string `json:"rules"`
		Bundle     string   `json:"bundle"`
		Researcher string   `json:"researcher"`
		Purpose    string   `json:"purpose"`
		Project    string   `json:"project,omitempty"`
	}
	refusalRecord struct {
		Peer   string      `json:"peer"`
		Code   RefusalCode `json:"code"`
		Reason string      `json:"reason"`
	}
	grantRecord struct {
		GrantID     string    `json:"grant_id"`
		SHA256      string    `json:"sha256"`
		Size        int64     `json:"size"`
		ExpiresAt   time.Time `json:"expires_at"`
		Obligations []string  `json:"obligations"`
		Purpose     string    `json:"purpose"`
		Project     string    `json:"project,omitempty"`
		Agreement   string    `json:"agreement,omitempty"`
		Holder      string    `json:"holder,omitempty"`
	}
)
