package exchange

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/agreement"
	"github.com/xborder/xborder/policy"
)

// agreementFrame is a request on AgreementProtocol: an offer (the text,
// no signature) or a party's signature for the proposer.
type agreementFrame struct {
	Offer     *agreement.Signed `json:"offer,omitempty"`
	Signature *signatureFrame   `json:"signature,omitempty"`
}

type signatureFrame struct {
	ID        string              `json:"id"`
	Payload   string              `json:"payload"`
	Signature agreement.Signature `json:"signature"`
}

// agreementReply answers a frame: the party's decision on an offer, or
// the signatures the proposer holds after a signature; Code and Reason
// when the frame was refused.
type agreementReply struct {
	Decision  *policy.Decision `json:"decision,omitempty"`
	Signed    []string         `json:"signed,omitempty"`
	Committed bool             `json:"committed,omitempty"`
	Code      RefusalCode      `json:"code,omitempty"`
	Reason    string           `json:"reason,omitempty"`
}

func (g *Agreements) handle(st network.Stream) {
	serveOne(g.s, st, "agreement", func(ctx context.Context, remote peer.ID, f agreementFrame) agreementReply {
		reply := g.answer(ctx, remote, f)
		if reply.Code != "" {
			g.s.log.Info("agreement frame refused", "peer", remote, "code", reply.Code, "reason", reply.Reason)
		}
		return reply
	})
}

func refuseFrame(code RefusalCode, format string, args ...any) agreementReply {
	return agreementReply{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// answer handles one frame from remote.
func (g *Agreements) answer(ctx context.Context, remote peer.ID, f agreementFrame) agreementReply {
	m, ok := g.reg.MemberByPeer(remote)
	if !ok {
		return refuseFrame(RefusalNotMember, "peer %s is not a member of the federation", remote)
	}
	switch {
	case f.Offer != nil && f.Signature == nil:
		return g.answerOffer(ctx, m, *f.Offer)
	case f.Signature != nil && f.Offer == nil:
		draft, err := g.addSignature(ctx, f.Signature.ID, f.Signature.Payload, m.Name, f.Signature.Signature)
		if err != nil {
			return refuseFrame(RefusalBadToken, "%v", err)
		}
		reply := agreementReply{Committed: draft.Committed, Signed: []string{}}
		for _, p := range draft.Parties {
			if p.Signed {
				reply.Signed = append(reply.Signed, p.Member)
			}
		}
		return reply
	}
	return refuseFrame(RefusalBadToken, "a frame carries either an offer or a signature")
}

// answerOffer decides an offer from its proposer and keeps it as a draft.
func (g *Agreements) answerOffer(ctx context.Context, from Member, doc agreement.Signed) agreementReply {
	a, err := doc.Agreement()
	if err == nil {
		err = a.Validate()
	}
	if probs := agreementDateProblems(a); err == nil && len(probs) > 0 {
		err = errors.New(strings.Join(probs, "; "))
	}
	switch {
	case err != nil:
		return refuseFrame(RefusalBadToken, "the offered agreement is malformed: %v", err)
	case len(doc.Signatures) > 0:
		return refuseFrame(RefusalBadToken, "an offer carries no signature")
	case a.CreatedBy != from.Name:
		return refuseFrame(RefusalBadToken, "agreement %s was proposed by %s, not by %s", a.ID, a.CreatedBy, from.Name)
	case !a.HasParty(g.s.self.Name):
		return refuseFrame(RefusalBadToken, "this node %s is not a party to agreement %s", g.s.self.Name, a.ID)
	}
	if _, err := g.reg.CommittedAgreement(a.ID); err == nil {
		return refuseFrame(RefusalBadToken, "agreement %s already exists in the registry", a.ID)
	}
	d, err := g.decide(ctx, a)
	if err != nil {
		g.s.log.Error("agreements policy", "agreement", a.ID, "err", err)
		return refuseFrame(RefusalInternal, "this node could not evaluate its agreements policy")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok, _ := g.load(a.ID); ok && old.Document.Payload != doc.Payload && !old.Committed && len(old.Refusals()) == 0 && old.Role == RoleProposer {
		return refuseFrame(RefusalBadToken, "this node is negotiating another agreement %s", a.ID)
	}
	draft := Draft{Agreement: a, Document: agreement.NewSigned(a), Role: RoleParty}
	for _, p := range a.Parties {
		draft.Parties = append(draft.Parties, PartyState{Member: p})
	}
	draft.party(g.s.self.Name).Decision = &d
	if err := g.store(&draft); err != nil {
		g.s.log.Error("store agreement draft", "agreement", a.ID, "err", err)
		return refuseFrame(RefusalInternal, "this node could not store the draft")
	}
	return agreementReply{Decision: &d}
}

// memberKey is the Ed25519 key embedded in a member's peer ID.
func memberKey(p peer.ID) (ed25519.PublicKey, error) {
	pub, err := p.ExtractPublicKey()
	if err != nil || pub.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("peer %s has no Ed25519 key", p)
	}
	raw, err := pub.Raw()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}
