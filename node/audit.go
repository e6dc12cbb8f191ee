package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// Audit record types.
const (
	auditNodeStart        = "node.start"
	auditPolicyReload     = "policy.reload"
	auditPolicyRefused    = "policy.reload_refused"
	auditRegistryDecision = "registry.decision"
	auditRegistrySubmit   = "registry.submit"
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
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := n.audit.Head()
		if err != nil || head.Seq == last || head.Seq == 0 {
			continue
		}
		reg := n.registry.Load()
		if reg == nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = reg.Submit(actx, consensus.OpAnchorPut, consensus.AnchorArgs{Seq: head.Seq, Head: head.Hash})
		cancel()
		if err != nil {
			n.log.Debug("audit anchor not committed yet", "seq", head.Seq, "err", err)
			continue
		}
		last = head.Seq
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
// this node's key, and the anchor the registry holds for this node.
func (n *Node) VerifyAudit(context.Context) (audit.Report, error) {
	var anchors []audit.Anchor
	if reg := n.registry.Load(); reg != nil {
		a, err := reg.Anchor(n.cfg.Name)
		switch {
		case err == nil:
			anchors = append(anchors, audit.Anchor{Seq: a.Seq, Head: a.Head})
		case !errors.Is(err, consensus.ErrNotFound):
			return audit.Report{}, err
		}
	}
	rep, err := n.audit.Verify(n.id.PublicKey(), anchors)
	if errors.Is(err, audit.ErrBroken) {
		return rep, nil // the report says what is broken
	}
	return rep, err
}
