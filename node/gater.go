package node

import (
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
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

// gater admits only federation members. A stranger is refused as soon as its
// peer ID is authenticated (InterceptSecured), before any protocol runs.
type gater struct {
	members MemberSet
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time

	mu         sync.Mutex
	refused    map[peer.ID]time.Time // refused until
	lastLogged map[peer.ID]time.Time
}

func newGater(members MemberSet, log *slog.Logger, m *metrics) *gater {
	return &gater{
		members: members, log: log, metrics: m, now: time.Now,
		refused: map[peer.ID]time.Time{}, lastLogged: map[peer.ID]time.Time{},
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
	if g.admitted(p) {
		return true
	}
	g.metrics.gaterRejections.WithLabelValues("dial").Inc()
	return false
}

func (g *gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *gater) InterceptSecured(dir network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	if g.admitted(p) {
		return true
	}
	g.metrics.gaterRejections.WithLabelValues("secured").Inc()
	g.logRejection(p, c.RemoteMultiaddr(), dir)
	return false
}

func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
