package node

import (
	"context"

	"github.com/xborder/xborder/consensus"
)

// WaitApplied implements api.Registry: a blocking read waits on the local
// replica's apply signal.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	w := n.appliedWaiter()
	if w == nil {
		return consensus.ErrClosed
	}
	return w.WaitApplied(ctx, index)
}
