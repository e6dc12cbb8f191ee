package node

import (
	"context"
	"time"

	"github.com/xborder/xborder/consensus"
)

// policyLoop declares this node's active policy bundle in the registry,
// at start and after every reload, so that partners can see which rules
// decide their requests here. It retries until the declaration is
// committed (raft may have no leader yet).
func (n *Node) policyLoop(ctx context.Context, changed <-chan struct{}) {
	const retry = 2 * time.Second
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
		if !n.declarePolicy(ctx) {
			t.Reset(retry)
		}
	}
}

// declarePolicy commits the active bundle hash unless the registry already
// holds it; it reports whether the registry is up to date.
func (n *Node) declarePolicy(ctx context.Context) bool {
	reg := n.registry.Load()
	if reg == nil {
		return false
	}
	hash := n.policy.Info().Hash
	if p, err := reg.Policy(n.cfg.Name); err == nil && p.Hash == hash {
		return true
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := reg.Submit(sctx, consensus.OpPolicyPut, consensus.PolicyArgs{Hash: hash}); err != nil {
		n.log.Debug("policy declaration not committed yet", "hash", hash, "err", err)
		return false
	}
	n.log.Info("policy bundle declared in the registry", "hash", hash)
	return true
}
