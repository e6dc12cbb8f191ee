package consensus

import (
	"context"
	"crypto/rand"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// Closing the registry ends raft's dials in flight: raft's shutdown waits
// for its replication goroutines, and a dial to a member that stopped at
// the same time (a QUIC address that no longer answers, a peer that never
// completes the handshake) would otherwise hold the node's shutdown for the
// whole dial timeout.
func TestClosingTheStreamLayerEndsItsDials(t *testing.T) {
	// The swarm's own dial timeouts are raised above the test's deadline,
	// so only the close can end the dial in time.
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics(),
		libp2p.WithDialTimeout(time.Hour), libp2p.SwarmOpts(swarm.WithDialTimeoutLocal(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	// A member that accepts connections and never says a word.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/" + strconv.Itoa(silent.Addr().(*net.TCPAddr).Port))
	h.Peerstore().AddAddrs(pid, []ma.Multiaddr{addr}, peerstore.PermanentAddrTTL)

	ctx, cancel := context.WithCancel(context.Background())
	layer, err := newStreamLayer(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Close()
	const dialTimeout = time.Minute
	done := make(chan error, 1)
	go func() {
		_, err := layer.Dial(raft.ServerAddress(pid.String()), dialTimeout)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the dial to a silent member returned before the close: %v", err)
	case <-time.After(100 * time.Millisecond): // the dial is under way
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a dial to a silent member succeeded")
		}
	case <-time.After(dialTimeout / 4):
		t.Fatal("the dial outlived the close of the stream layer")
	}
}
