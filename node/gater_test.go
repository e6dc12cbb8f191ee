package node

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/internal/testkit"
)

// stageCount reads one stage of xborder_gater_rejections_total.
func stageCount(t *testing.T, n *Node, stage string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "xborder_gater_rejections_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" && l.GetValue() == stage {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// quietWindow waits, until the deadline, for a window during which count
// grows by at most allowed: the cost of a stranger falls once the backoff
// on both sides has set in.
func quietWindow(t *testing.T, within, window time.Duration, allowed float64, what string, count func() float64) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last float64
	for time.Now().Before(deadline) {
		before := count()
		time.Sleep(window) // the window measured, not a wait for a condition
		if last = count() - before; last <= allowed {
			return
		}
	}
	t.Fatalf("not within %v: %s (last window of %v: %v, allowed %v)", within, what, window, last, allowed)
}

// An xborder node of another federation whose genesis lists a member used
// to redial it in a tight loop: each attempt a handshake the member paid
// for before refusing it (about 30 a second here, 135 a second and a fifth
// of a core on the probe's machine). Now the stranger backs off, and the
// member drops the stranger's endpoint before the handshake.
func TestStrangerCostsAMemberFewHandshakes(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "two members mesh", fullMesh(nodes))
	s := newTestFed(t, "intruders", []string{"xx-stranger"}, nil)
	s.gen.Members = append(s.gen.Members, f.gen.Members...)
	s.writeGenesis()
	stranger := s.start(0)

	member := nodes[0]
	testkit.Eventually(t, 30*time.Second, "the member refused the stranger", func() bool {
		return stageCount(t, member, "secured") >= 1
	})
	quietWindow(t, 60*time.Second, 5*time.Second, 1, "the member's handshakes with the stranger fall to at most one in 5 s", func() float64 {
		return stageCount(t, member, "secured")
	})
	if n := counterValue(t, stranger, "xborder_dials_total"); n > 40 {
		t.Errorf("the stranger dialled %v times", n)
	}
	if !fullMesh(nodes)() {
		t.Fatalf("the members lost each other:%s", meshReport(nodes))
	}
}

// refuseAll is a gater that refuses every peer after the handshake, as an
// xborder member does a stranger, and counts those handshakes.
type refuseAll struct{ secured atomic.Int64 }

func (*refuseAll) InterceptPeerDial(peer.ID) bool                                  { return true }
func (*refuseAll) InterceptAddrDial(peer.ID, ma.Multiaddr) bool                    { return true }
func (*refuseAll) InterceptAccept(network.ConnMultiaddrs) bool                     { return true }
func (*refuseAll) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
func (g *refuseAll) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	g.secured.Add(1)
	return false
}

// The dialler's side alone: a member that refuses after the handshake (as
// any member did before it dropped refused endpoints early) is redialled
// with a backoff that grows beyond redial_max, towards refused_redial_max,
// as a candidate waiting for its vote redials the members.
func TestDiallerBacksOffAMemberThatRefusesIt(t *testing.T) {
	g := &refuseAll{}
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"),
		libp2p.ConnectionGater(g), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	s := newTestFed(t, "grand-est-ai", []string{"nl-limburg"}, nil)
	var addrs []string
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String())
	}
	s.gen.Members = append(s.gen.Members, Card{Name: "fr-grandest", Country: "FR", Org: "Region fr-grandest",
		PeerID: h.ID().String(), Addrs: addrs})
	s.writeGenesis()
	s.cfgs[0].Discovery.DHT = false
	dialler := s.start(0)

	testkit.Eventually(t, 30*time.Second, "the member refused the dialler", func() bool { return g.secured.Load() >= 1 })
	quietWindow(t, 60*time.Second, 5*time.Second, 1, "the dialler's attempts fall to at most one in 5 s", func() float64 {
		return float64(g.secured.Load())
	})
	redialMax := s.cfgs[0].Discovery.RedialMax.Std()
	testkit.Eventually(t, 60*time.Second, "the backoff grows beyond redial_max", func() bool {
		dialler.mesh.mu.Lock()
		defer dialler.mesh.mu.Unlock()
		st := dialler.mesh.state[h.ID()]
		return st.refusals > 0 && st.backoff > 2*redialMax
	})
	if n := counterValue(t, dialler, "xborder_dials_total"); n > 30 {
		t.Errorf("the dialler dialled %v times", n)
	}
}

// dialLoop dials target as fast as it can, as an older or hostile node
// that ignores any backoff would, until attempts have been made.
func dialLoop(t *testing.T, h host.Host, target peer.AddrInfo, attempts int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < attempts; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d dials in 60 s", i)
		}
		_ = h.Network().ClosePeer(target.ID)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = h.Connect(network.WithForceDirectDial(ctx, "test"), target)
		cancel()
	}
}

// The member's side alone: a peer that keeps dialling without backoff is
// refused before the handshake once its endpoint was refused a few times.
func TestMemberDropsARefusedEndpointBeforeTheHandshake(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	member := f.startAll()[0]
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	target := peer.AddrInfo{ID: member.ID(), Addrs: member.host.Addrs()}

	const attempts = 60
	dialLoop(t, h, target, attempts)
	secured, accept := stageCount(t, member, "secured"), stageCount(t, member, "accept")
	// Two free handshakes per endpoint (TCP and QUIC), then one each time
	// a block expires (1 s, 2 s, 4 s, ...).
	if secured > 12 || accept < attempts/2 {
		t.Fatalf("%d dials cost %v handshakes (%v dropped before one)", attempts, secured, accept)
	}
	if member.host.Network().Connectedness(h.ID()) == network.Connected {
		t.Fatal("the stranger is connected")
	}
	t.Logf("%d dials: %v handshakes, %v dropped before the handshake", attempts, secured, accept)
}

// A stranger voted in becomes a member: its endpoint, blocked while it
// was refused, lets it in at once.
func TestEndpointBlockEndsWhenThePeerBecomesAMember(t *testing.T) {
	members := &memberSwitch{}
	g := newGater(members, testLogger(t, "gater"), newMetrics(prometheus.NewRegistry()))
	now := time.Now()
	g.now = func() time.Time { return now }
	p := peer.ID("stranger")
	addr := ma.StringCast("/ip4/192.0.2.7/tcp/7400")
	other := ma.StringCast("/ip4/192.0.2.7/tcp/7401")
	for range freeRefusals {
		if !g.acceptFrom(addr) {
			t.Fatal("refused before its free handshakes")
		}
		g.noteRefusal(p, addr)
	}
	if g.acceptFrom(addr) {
		t.Fatal("a refused endpoint is not blocked")
	}
	if !g.acceptFrom(other) {
		t.Fatal("another endpoint of the same IP is blocked")
	}
	now = now.Add(endpointBlockMin + time.Millisecond)
	if !g.acceptFrom(addr) {
		t.Fatal("still blocked after the block expired")
	}
	g.noteRefusal(p, addr)
	if g.acceptFrom(addr) {
		t.Fatal("not blocked again after another refusal")
	}
	now = now.Add(endpointBlockMin + time.Millisecond)
	if g.acceptFrom(addr) {
		t.Fatal("the second block is not longer than the first")
	}
	members.on.Store(true)
	if !g.acceptFrom(addr) {
		t.Fatal("a new member is kept out by its endpoint's block")
	}
}

type memberSwitch struct{ on atomic.Bool }

func (m *memberSwitch) IsMember(peer.ID) bool { return m.on.Load() }
