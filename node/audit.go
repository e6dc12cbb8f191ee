package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// Audit record types the node writes (the audit service writes its own).
const (
	auditNodeStart        = "node.start"
	auditPolicyReload     = "policy.reload"
	auditPolicyRefused    = "policy.reload_refused"
	auditRegistryDecision = consensus.AuditDecision
	auditRegistrySubmit   = consensus.AuditSubmit
)

// record appends to the audit trail. A failure is logged, turns the node
// not ready, and is returned wrapping exchange.ErrAuditUnavailable (which
// the API answers with 503): a caller about to act refuses instead.
func (n *Node) record(typ, subject string, details any) error {
	return n.auditUnavailable(typ, n.appendAudit(typ, subject, details))
}

func (n *Node) recordDecision(typ, subject string, input any, d policy.Decision) error {
	if n.audit == nil {
		return n.auditUnavailable(typ, errAuditNotOpen)
	}
	return n.auditUnavailable(typ, n.audit.RecordDecision(typ, subject, input, d))
}

func (n *Node) auditUnavailable(typ string, err error) error {
	if err == nil {
		return nil
	}
	n.log.Error("audit append failed", "type", typ, "err", err)
	return fmt.Errorf("%w: %v", exchange.ErrAuditUnavailable, err)
}

// auditRegistry is the registry as the audit service anchors in it.
type auditRegistry struct{ n *Node }

func (r auditRegistry) LatestAnchor(member string) (string, uint64, error) {
	reg := r.n.registry.Load()
	if reg == nil {
		return "", 0, consensus.ErrClosed
	}
	latest, err := reg.Anchor(member)
	switch {
	case errors.Is(err, consensus.ErrNotFound):
		return "", 0, nil
	case err != nil:
		return "", 0, err
	}
	return latest.ID, latest.Seq, nil
}

func (r auditRegistry) CommitAnchor(ctx context.Context, seq uint64, head, prev string) error {
	reg := r.n.registry.Load()
	if reg == nil {
		return consensus.ErrClosed
	}
	idx, err := reg.Submit(ctx, consensus.OpAnchorPut, consensus.AnchorArgs{Seq: seq, Head: head, Prev: prev})
	if err != nil {
		return err
	}
	return reg.WaitApplied(ctx, idx)
}

// AnchorChain returns a member's chain of anchors from the local replica,
// after checking that it is one chain.
func (r auditRegistry) AnchorChain(member string) ([]audit.Anchor, error) {
	reg := r.n.registry.Load()
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

func (r auditRegistry) State() (open, leader bool) {
	reg := r.n.registry.Load()
	if reg == nil {
		return false, false
	}
	return true, reg.Status().Leader != ""
}

// auditMembers resolves partners for the audit service.
type auditMembers struct{ n *Node }

func (m auditMembers) MemberByName(name string) (audit.Member, error) {
	reg := m.n.registry.Load()
	if reg == nil {
		return audit.Member{}, consensus.ErrClosed
	}
	members, err := reg.Members()
	if err != nil {
		return audit.Member{}, err
	}
	i := slices.IndexFunc(members, func(m consensus.Member) bool { return m.Name == name })
	if i < 0 {
		return audit.Member{}, fmt.Errorf("%w: %q is not a member of the federation", api.ErrUnknownPeer, name)
	}
	pid, err := peer.Decode(members[i].PeerID)
	if err != nil {
		return audit.Member{}, err
	}
	// The keys re-key votes replaced: the member's trail verifies with
	// them up to where its current key takes over.
	former := make([]peer.ID, 0, len(members[i].FormerKeys))
	for _, k := range members[i].FormerKeys {
		fp, err := peer.Decode(k.PeerID)
		if err != nil {
			return audit.Member{}, err
		}
		former = append(former, fp)
	}
	return audit.Member{Name: members[i].Name, Country: members[i].Country, Org: members[i].Org, PeerID: pid, FormerKeys: former}, nil
}

func (m auditMembers) MemberByPeer(p peer.ID) (audit.Member, bool) {
	e, ok := exchangeRegistry(m).MemberByPeer(p)
	return audit.Member{Name: e.Name, Country: e.Country, Org: e.Org, PeerID: e.PeerID}, ok
}

// auditConfig is the audit service's configuration from the node's, for
// the trail in dataDir.
func (c *Config) auditConfig(dataDir string) audit.Config {
	a := audit.DefaultConfig(filepath.Join(dataDir, "audit.db"))
	a.Name, a.Country, a.Org = c.Name, c.Country, c.Org
	a.AnchorInterval = c.AuditAnchorInterval.Std()
	a.FinalAnchorTimeout = min(a.FinalAnchorTimeout, c.ShutdownTimeout.Std()/2)
	return a
}
