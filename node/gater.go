package node

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// MemberSet tells whether a peer belongs to the federation. The genesis
// answers it today; the replicated registry will once membership can change.
type MemberSet interface {
	IsMember(peer.ID) bool
}

// refusalPeriod is how long a peer caught with another federation's genesis
// is kept out before it may try again (it may have been reconfigured).
const refusalPeriod = time.Minute

// logEvery bounds how often the gater logs the same stranger, so a peer
// that redials in a loop cannot flood the log.
const logEvery = time.Minute

// A stranger's connection costs a member a TLS or Noise handshake before
// InterceptSecured learns its peer ID and refuses it; a stranger that
// redials in a loop (an xborder node with another genesis, a candidate not
// yet voted in, an older node without backoff) cost a member about a fifth
// of a core. So the gater remembers the remote endpoint (IP, transport,
// port) of each refused connection: after freeRefusals handshakes, further
// connections from that endpoint are dropped before the handshake
// (InterceptAccept for TCP, the resource manager's OpenConnection for QUIC,
// whose InterceptAccept comes after the handshake) for a period that
// doubles with each refusal, from endpointBlockMin to endpointBlockMax.
// libp2p dials from its listening port (TCP reuseport, QUIC's one socket),
// so a node's endpoint is stable across its attempts; an endpoint is never
// blocked for longer than endpointBlockMax, and not at all once the peer
// refused there becomes a member.
const (
	freeRefusals     = 2
	endpointBlockMin = time.Second
	endpointBlockMax = 5 * time.Minute
	// endpointForget drops the memory of an endpoint that stayed away.
	endpointForget = 2 * endpointBlockMax
	// maxEndpoints bounds that memory against a scan from many addresses.
	maxEndpoints = 4096
)

// errEndpointBlocked refuses a connection from a blocked endpoint in the
// resource manager.
var errEndpointBlocked = errors.New("connection from a recently refused endpoint dropped before the handshake")

// endpointRefusal is what the gater remembers of one remote endpoint.
type endpointRefusal struct {
	peer     peer.ID   // the peer last refused from it
	refusals int       // consecutive refusals
	until    time.Time // connections are dropped before the handshake until then
	last     time.Time // last refusal
}

// gater admits only federation members. A stranger is refused as soon as its
// peer ID is authenticated (InterceptSecured), before any protocol runs, and
// a stranger that keeps coming back is refused before the handshake.
type gater struct {
	members MemberSet
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time

	mu         sync.Mutex
	refused    map[peer.ID]time.Time // refused until
	lastLogged map[peer.ID]time.Time
	endpoints  map[string]*endpointRefusal
	// dialsHeld are peers whose connections closed before they could be
	// verified (they refuse this node): no dial to them, by any service,
	// until the time held; set by the mesh's backoff.
	dialsHeld map[peer.ID]time.Time
}

func newGater(members MemberSet, log *slog.Logger, m *metrics) *gater {
	return &gater{
		members: members, log: log, metrics: m, now: time.Now,
		refused: map[peer.ID]time.Time{}, lastLogged: map[peer.ID]time.Time{},
		endpoints: map[string]*endpointRefusal{}, dialsHeld: map[peer.ID]time.Time{},
	}
}

// refuse keeps a member out for refusalPeriod.
func (g *gater) refuse(p peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refused[p] = g.now().Add(refusalPeriod)
}

func (g *gater) admitted(p peer.ID) bool {
	if !g.members.IsMember(p) {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.refused[p]
	if ok && g.now().After(until) {
		delete(g.refused, p)
		return true
	}
	return !ok
}

// holdDials refuses every dial to p until the given time.
func (g *gater) holdDials(p peer.ID, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dialsHeld[p] = until
}

// releaseDials lets dials to p through again.
func (g *gater) releaseDials(p peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.dialsHeld, p)
}

func (g *gater) dialsHeldFor(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.dialsHeld[p]
	if ok && !g.now().Before(until) {
		delete(g.dialsHeld, p)
		return false
	}
	return ok
}

// endpointKey names a connection's remote endpoint: IP, transport, port.
func endpointKey(a ma.Multiaddr) (string, bool) {
	if a == nil {
		return "", false
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return "", false
	}
	if port, err := a.ValueForProtocol(ma.P_TCP); err == nil {
		return "tcp " + net.JoinHostPort(ip.String(), port), true
	}
	if port, err := a.ValueForProtocol(ma.P_UDP); err == nil {
		return "udp " + net.JoinHostPort(ip.String(), port), true
	}
	return "", false
}

// noteRefusal remembers that the peer p, connecting from addr, was
// refused, and blocks the endpoint once it has used its free handshakes.
func (g *gater) noteRefusal(p peer.ID, addr ma.Multiaddr) {
	key, ok := endpointKey(addr)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	r := g.endpoints[key]
	if r == nil {
		if len(g.endpoints) >= maxEndpoints {
			g.forgetEndpoints(now)
		}
		if len(g.endpoints) >= maxEndpoints {
			return
		}
		r = &endpointRefusal{}
		g.endpoints[key] = r
	}
	if r.peer != p {
		r.peer, r.refusals = p, 0
	}
	r.refusals++
	r.last = now
	if n := r.refusals - freeRefusals; n >= 0 {
		r.until = now.Add(min(endpointBlockMin<<min(n, 20), endpointBlockMax))
	}
}

// forgetEndpoints drops endpoints whose last refusal is old; g.mu is held.
func (g *gater) forgetEndpoints(now time.Time) {
	for k, r := range g.endpoints {
		if now.Sub(r.last) > endpointForget {
			delete(g.endpoints, k)
		}
	}
}

// acceptFrom tells whether a connection from addr may go on to its
// handshake: not while the endpoint is blocked, unless the peer refused
// there has become a member since.
func (g *gater) acceptFrom(addr ma.Multiaddr) bool {
	key, ok := endpointKey(addr)
	if !ok {
		return true
	}
	g.mu.Lock()
	r := g.endpoints[key]
	if r == nil || !g.now().Before(r.until) {
		g.mu.Unlock()
		return true
	}
	p := r.peer
	g.mu.Unlock()
	if g.members.IsMember(p) {
		g.mu.Lock()
		delete(g.endpoints, key)
		g.mu.Unlock()
		return true
	}
	g.metrics.gaterRejections.WithLabelValues("accept").Inc()
	return false
}

func (g *gater) logRejection(p peer.ID, addr ma.Multiaddr, dir network.Direction) {
	g.mu.Lock()
	last := g.lastLogged[p]
	now := g.now()
	quiet := now.Sub(last) < logEvery
	if !quiet {
		g.lastLogged[p] = now
		// Forget old entries so a scan of random peer IDs cannot grow the map.
		for q, t := range g.lastLogged {
			if now.Sub(t) > logEvery {
				delete(g.lastLogged, q)
			}
		}
	}
	g.mu.Unlock()
	if !quiet {
		reason := "not a member of the federation"
		if g.members.IsMember(p) {
			reason = "runs another federation's genesis"
		}
		g.log.Warn("refused connection", "peer", p, "addr", addr, "direction", dir, "reason", reason)
	}
}

func (g *gater) InterceptPeerDial(p peer.ID) bool {
	if g.admitted(p) && !g.dialsHeldFor(p) {
		return true
	}
	g.metrics.gaterRejections.WithLabelValues("dial").Inc()
	return false
}

func (g *gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (g *gater) InterceptAccept(c network.ConnMultiaddrs) bool {
	return g.acceptFrom(c.RemoteMultiaddr())
}

func (g *gater) InterceptSecured(dir network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	if g.admitted(p) {
		return true
	}
	g.metrics.gaterRejections.WithLabelValues("secured").Inc()
	if dir == network.DirInbound {
		g.noteRefusal(p, c.RemoteMultiaddr())
	}
	g.logRejection(p, c.RemoteMultiaddr(), dir)
	return false
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// gatedResources is the resource manager with the gater's endpoint check
// in front of inbound connections: QUIC asks the resource manager before
// its handshake but the gater's InterceptAccept only after it.
type gatedResources struct {
	network.ResourceManager
	g *gater
}

func (r gatedResources) OpenConnection(dir network.Direction, useFD bool, endpoint ma.Multiaddr) (network.ConnManagementScope, error) {
	if dir == network.DirInbound && !r.g.acceptFrom(endpoint) {
		return nil, errEndpointBlocked
	}
	return r.ResourceManager.OpenConnection(dir, useFD, endpoint)
}
