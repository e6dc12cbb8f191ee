package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/policy"
)

// ErrUnavailable is wrapped when a record the Service must write before it
// acts cannot be written: it refuses to act instead.
var ErrUnavailable = errors.New("the audit trail cannot be written; the node refuses to act until it can")

// record writes a record the Service acts on; a failure is logged and
// returned wrapping ErrUnavailable.
func (s *Service) record(typ, subject string, details any) error {
	return s.unavailable(typ, s.Record(typ, subject, details))
}

// unavailable logs a record that was not written and wraps ErrUnavailable
// around its error (nil stays nil).
func (s *Service) unavailable(typ string, err error) error {
	if err == nil {
		return nil
	}
	s.log.Error("audit append failed", "type", typ, "err", err)
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// VerifyPeerAudit verifies partner name's trail, fetched over Protocol
// with the detail its policy discloses, against its keys (its peer ID,
// and the keys re-key votes replaced) and every anchor the registry holds
// for it. The verification is recorded.
func (s *Service) VerifyPeerAudit(ctx context.Context, name string, detail Detail) (Report, error) {
	m, err := s.deps.Members.MemberByName(name)
	if err != nil {
		return Report{}, err
	}
	if m.PeerID == s.self {
		return s.VerifyAudit(ctx)
	}
	// A member re-keyed since it wrote its first records verifies with
	// its former keys up to where its current key takes over.
	keys, ids, err := m.Keys()
	if err != nil {
		return Report{}, err
	}
	anchors, err := s.deps.Registry.AnchorChain(name)
	if err != nil {
		return Report{}, err
	}
	rep, err := FetchAndVerifyKeys(ctx, s.deps.Host, m.PeerID, keys, anchors, detail)
	namePeers(&rep, ids)
	if errors.Is(err, ErrBroken) {
		err = nil // the report says what is broken
	}
	if err == nil {
		_ = s.record(TypeDisclosure, name, map[string]any{"verified": name, "detail": detail, "ok": rep.OK, "records": rep.Records, "head": rep.Head})
	}
	return rep, err
}

// DiscloseAudit implements Discloser: this node's audit policy decides
// whether a partner may verify its trail, and with what detail; the
// decision is itself a record, and nothing is disclosed without it.
func (s *Service) DiscloseAudit(ctx context.Context, requester peer.ID, detail Detail) (bool, []string, error) {
	in := policy.AuditInput{Self: policy.Node{Node: s.cfg.Name, PeerID: s.self.String(), Country: s.cfg.Country, Org: s.cfg.Org},
		Requester: policy.Node{PeerID: requester.String()}, Detail: string(detail)}
	if m, ok := s.deps.Members.MemberByPeer(requester); ok {
		in.Requester.Node, in.Requester.Country, in.Requester.Org = m.Name, m.Country, m.Org
	}
	d, err := s.deps.Policy.Audit(ctx, in)
	if err != nil {
		return false, nil, err
	}
	if err := s.unavailable(TypeDisclosure, s.RecordDecision(TypeDisclosure, in.Requester.Node, in, d)); err != nil {
		return false, nil, err // fail closed: nothing disclosed without its record
	}
	return d.Allow, d.Reasons, nil
}
