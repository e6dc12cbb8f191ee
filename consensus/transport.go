package consensus

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"
)

// RaftProtocol carries raft RPCs between members.
const RaftProtocol = "/xborder/raft/1.0.0"

// defaultDialTimeout replaces a zero timeout from raft, which must not
// become a context that is already expired.
const defaultDialTimeout = 10 * time.Second

// streamLayer is raft's transport over libp2p streams: authenticated by the
// members' keys and admitted by the same membership gater as everything
// else. Server IDs and addresses are peer IDs.
type streamLayer struct {
	host host.Host
	ln   net.Listener
	// ctx ends when the registry closes: raft's shutdown waits for its
	// replication goroutines, which must not sit out a dial to a member
	// that has stopped too.
	ctx context.Context
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(ctx context.Context, h host.Host) (*streamLayer, error) {
	ln, err := gostream.Listen(h, RaftProtocol)
	if err != nil {
		return nil, fmt.Errorf("listen for raft: %w", err)
	}
	return &streamLayer{host: h, ln: ln, ctx: ctx}, nil
}

func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }

func (s *streamLayer) Close() error { return s.ln.Close() }

// Addr's String() is the local peer ID: raft carries it in every RPC and
// reports it as the leader's address.
func (s *streamLayer) Addr() net.Addr { return s.ln.Addr() }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	pid, err := peer.Decode(string(address))
	if err != nil {
		return nil, fmt.Errorf("raft address %q is not a peer ID: %w", address, err)
	}
	if timeout <= 0 {
		timeout = defaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	// After a member restarts, the swarm's dial backoff would delay its
	// catch-up by seconds; raft paces its own retries.
	ctx = network.WithForceDirectDial(ctx, "raft")
	return gostream.Dial(ctx, s.host, pid, RaftProtocol)
}
