package node

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// Audit record types.
const (
	auditNodeStart        = "node.start"
	auditNodeStop         = "node.stop"
	auditDisclosure       = "audit.disclosure"
	auditPolicyReload     = "policy.reload"
	auditPolicyRefused    = "policy.reload_refused"
	auditRegistryDecision = consensus.AuditDecision
	auditRegistrySubmit   = consensus.AuditSubmit
)

// record appends to the audit trail. A failure is logged, turns the node
// not ready, and is returned wrapping exchange.ErrAuditUnavailable: a
// caller about to act refuses instead.
func (n *Node) record(typ, subject string, details any) error {
	if err := n.appendAudit(typ, subject, details); err != nil {
		n.log.Error("audit append failed", "type", typ, "err", err)
		return fmt.Errorf("%w: %v", exchange.ErrAuditUnavailable, err)
	}
	return nil
}

// digest is the hex SHA-256 of a value's JSON: records name inputs without
// copying them.
func digest(v any) string {
	raw, _ := json.Marshal(v)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func (n *Node) recordDecision(typ, subject string, input any, d policy.Decision) error {
	return n.record(typ, subject, map[string]any{
		"allow": d.Allow, "reasons": d.Reasons, "rules": d.Rules, "obligations": d.Obligations,
		"bundle": d.Bundle, "input_sha256": digest(input),
	})
}

// anchorLoop commits the audit head to the registry whenever it moved, so
// that partners can tell if this node later rewrites its history.
func (n *Node) anchorLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.AuditAnchorInterval.Std())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := n.anchor(actx); err != nil {
			n.log.Debug("audit anchor not committed yet", "err", err)
		}
		cancel()
	}
}

// anchor commits the audit head to the registry when it moved past the
// latest anchor, extending this node's chain of anchors. One anchor at a
// time: the periodic loop and the one at shutdown must not race to extend
// the same anchor.
func (n *Node) anchor(ctx context.Context) error {
	n.anchorMu.Lock()
	defer n.anchorMu.Unlock()
	reg := n.registry.Load()
	if reg == nil {
		return consensus.ErrClosed
	}
	head, err := n.audit.Head()
	if err != nil || head.Seq == 0 {
		return err
	}
	latest, err := reg.Anchor(n.cfg.Name)
	switch {
	case errors.Is(err, consensus.ErrNotFound):
		latest = consensus.Anchor{}
	case err != nil:
		return err
	}
	if head.Seq <= latest.Seq {
		return nil
	}
	idx, err := reg.Submit(ctx, consensus.OpAnchorPut, consensus.AnchorArgs{Seq: head.Seq, Head: head.Hash, Prev: latest.ID})
	if err != nil {
		return fmt.Errorf("anchor seq %d: %w", head.Seq, err)
	}
	// The next anchor names this one: wait until the local replica has it.
	return reg.WaitApplied(ctx, idx)
}

// finalAnchor records the stop and anchors the trail at a clean shutdown,
// so that the records written since the last periodic anchor are covered.
func (n *Node) finalAnchor() {
	if n.audit == nil || n.registry.Load() == nil {
		return
	}
	_ = n.record(auditNodeStop, n.cfg.Name, map[string]any{"peer_id": n.id.PeerID.String()})
	if n.registry.Load().Status().Leader == "" {
		// Nothing can commit now (the federation is stopping too): the
		// next start anchors these records.
		n.log.Info("no registry leader: the audit trail is anchored at the next start")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(3*time.Second, n.cfg.ShutdownTimeout.Std()/2))
	defer cancel()
	if err := n.anchor(ctx); err != nil {
		n.log.Warn("the audit trail was not anchored at shutdown; the next start anchors it", "err", err)
	}
}

// AuditRecords implements api.Audit.
func (n *Node) AuditRecords(_ context.Context, f audit.Filter) ([]audit.Record, audit.Head, error) {
	recs, err := n.audit.List(f)
	if err != nil {
		return nil, audit.Head{}, err
	}
	head, err := n.audit.Head()
	return recs, head, err
}

// VerifyAudit implements api.Audit: the chain, the signatures against
// this node's key, and every anchor the registry holds for this node.
func (n *Node) VerifyAudit(context.Context) (audit.Report, error) {
	anchors, err := n.anchorsOf(n.cfg.Name)
	if err != nil {
		return audit.Report{}, err
	}
	rep, err := n.audit.Verify(n.id.PublicKey(), anchors)
	if errors.Is(err, audit.ErrBroken) {
		return rep, nil // the report says what is broken
	}
	return rep, err
}

// anchorsOf returns a member's chain of anchors from the local replica,
// after checking that it is one chain.
func (n *Node) anchorsOf(member string) ([]audit.Anchor, error) {
	reg := n.registry.Load()
	if reg == nil {
		return nil, nil
	}
	chain, err := reg.Anchors(member)
	if err != nil {
		return nil, err
	}
	if err := consensus.VerifyAnchorChain(chain); err != nil {
		return nil, fmt.Errorf("the registry's anchors of %s: %w", member, err)
	}
	out := make([]audit.Anchor, 0, len(chain))
	for _, a := range chain {
		out = append(out, audit.Anchor{Seq: a.Seq, Head: a.Head})
	}
	return out, nil
}

// VerifyPeerAudit implements api.Audit: partner name's trail, fetched over
// audit.Protocol with the detail its policy discloses, verified against
// its key (its peer ID) and every anchor the registry holds for it.
func (n *Node) VerifyPeerAudit(ctx context.Context, name string, detail audit.Detail) (audit.Report, error) {
	reg := n.registry.Load()
	if reg == nil {
		return audit.Report{}, consensus.ErrClosed
	}
	members, err := reg.Members()
	if err != nil {
		return audit.Report{}, err
	}
	i := slices.IndexFunc(members, func(m consensus.Member) bool { return m.Name == name })
	if i < 0 {
		return audit.Report{}, fmt.Errorf("%w: %q is not a member of the federation", api.ErrUnknownPeer, name)
	}
	pid, err := peer.Decode(members[i].PeerID)
	if err != nil {
		return audit.Report{}, err
	}
	if pid == n.id.PeerID {
		return n.VerifyAudit(ctx)
	}
	pub, err := pid.ExtractPublicKey()
	if err != nil {
		return audit.Report{}, err
	}
	raw, err := pub.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return audit.Report{}, fmt.Errorf("the peer ID of %s holds no Ed25519 key", name)
	}
	anchors, err := n.anchorsOf(name)
	if err != nil {
		return audit.Report{}, err
	}
	rep, err := audit.FetchAndVerify(ctx, n.host, pid, ed25519.PublicKey(raw), anchors, detail)
	if errors.Is(err, audit.ErrBroken) {
		err = nil // the report says what is broken
	}
	if err == nil {
		n.record(auditDisclosure, name, map[string]any{"verified": name, "detail": detail, "ok": rep.OK, "records": rep.Records, "head": rep.Head})
	}
	return rep, err
}

// DiscloseAudit implements audit.Discloser: this node's audit policy
// decides whether a partner may verify its trail, and with what detail;
// the decision is itself an audit record.
func (n *Node) DiscloseAudit(ctx context.Context, requester peer.ID, detail audit.Detail) (bool, []string, error) {
	in := policy.AuditInput{Self: policy.Node{Node: n.cfg.Name, PeerID: n.id.PeerID.String(), Country: n.cfg.Country, Org: n.cfg.Org},
		Requester: policy.Node{PeerID: requester.String()}, Detail: string(detail)}
	if m, ok := (exchangeRegistry{n}).MemberByPeer(requester); ok {
		in.Requester.Node, in.Requester.Country, in.Requester.Org = m.Name, m.Country, m.Org
	}
	d, err := n.policy.Audit(ctx, in)
	if err != nil {
		return false, nil, err
	}
	if err := n.recordDecision(auditDisclosure, in.Requester.Node, in, d); err != nil {
		return false, nil, err // fail closed: nothing disclosed without its record
	}
	return d.Allow, d.Reasons, nil
}
