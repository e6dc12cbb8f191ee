package node

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

// memberTag protects member connections from the connection manager.
const memberTag = "xborder-member"

// dialTimeout bounds one attempt to reach a member.
const dialTimeout = 10 * time.Second

// pingEvery is how often connected members are pinged for their RTT.
const pingEvery = 15 * time.Second

// peerFinder finds the addresses of a member that nobody gave us
// (the private DHT implements it).
type peerFinder interface {
	FindPeer(context.Context, peer.ID) (peer.AddrInfo, error)
}

// mesh keeps this node connected to every other member: it dials members
// from their genesis addresses (or the DHT, or mDNS), redials with
// exponential backoff, verifies that each connected member runs the same
// federation, and pings members for their round-trip time.
//
// A dial succeeds when the member is verified, not when the connection is
// up: a member that refuses this node (its gater refuses a candidate not
// yet voted in, or a node with another genesis) lets the security
// handshake finish and closes the connection about 200 ms later, so
// host.Connect returns nil. Such a refusal counts as a failure: the member
// is redialled with backoff up to refusedMax (minutes), and the gater holds
// every dial to it (raft, DHT, catalogue) until the next attempt is due,
// instead of a handshake in a tight loop that costs the member a fifth of
// a core.
type mesh struct {
	host     host.Host
	self     peer.ID
	members  []peer.ID
	fedID    string
	finder   peerFinder // nil when the DHT is off
	gater    *gater
	log      *slog.Logger
	metrics  *metrics
	min, max time.Duration
	// refusedMax bounds the backoff for a member that refused this node
	// and has not admitted it since.
	refusedMax time.Duration

	wake chan struct{}

	// onVerified is called once a member's connection is verified (the
	// catalogue catches up with it); guarded by mu.
	onVerified func(peer.ID)

	mu       sync.Mutex
	verified map[peer.ID]bool
	state    map[peer.ID]*dialState

	wg sync.WaitGroup
}

type dialState struct {
	backoff  time.Duration
	next     time.Time
	inflight bool
	// refusals counts the connections the member closed before they could
	// be verified, since it was last verified.
	refusals int
}

// ceiling is the largest backoff for the member: refusedMax once it has
// refused this node, max otherwise.
func (m *mesh) ceiling(st *dialState) time.Duration {
	if st.refusals > 0 {
		return m.refusedMax
	}
	return m.max
}

func newMesh(h host.Host, members []peer.ID, fedID string, g *gater, log *slog.Logger, m *metrics, min, max, refusedMax time.Duration) *mesh {
	if refusedMax < max {
		refusedMax = max
	}
	ms := &mesh{
		host: h, self: h.ID(), fedID: fedID, gater: g, log: log, metrics: m, min: min, max: max, refusedMax: refusedMax,
		wake:     make(chan struct{}, 1),
		verified: map[peer.ID]bool{},
		state:    map[peer.ID]*dialState{},
	}
	for _, p := range members {
		if p != ms.self {
			ms.members = append(ms.members, p)
			ms.state[p] = &dialState{backoff: min}
		}
	}
	return ms
}

// start subscribes to connection events and starts the dial loop. The
// subscription is made before returning so that no identification of an
// early connection is missed.
func (m *mesh) start(ctx context.Context) error {
	sub, err := m.host.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtPeerConnectednessChanged),
	})
	if err != nil {
		return err
	}
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		defer sub.Close()
		m.catchUp(ctx)
		m.watch(ctx, sub)
	}()
	go func() {
		defer m.wg.Done()
		m.dialLoop(ctx)
	}()
	return nil
}

// wait blocks until every goroutine of the mesh has returned; the caller
// cancels the context given to start first.
func (m *mesh) wait() { m.wg.Wait() }

func (m *mesh) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mesh) isMember(p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.state[p]
	return ok
}

// memberList returns the other members.
func (m *mesh) memberList() []peer.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.members)
}

// setOnVerified installs the callback for newly verified members.
func (m *mesh) setOnVerified(fn func(peer.ID)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onVerified = fn
}

// setMembers replaces the set of other members after a membership vote:
// new members are dialled at once, former ones are forgotten and
// disconnected.
func (m *mesh) setMembers(ids []peer.ID) {
	want := map[peer.ID]bool{}
	for _, p := range ids {
		if p != m.self {
			want[p] = true
		}
	}
	var gone []peer.ID
	m.mu.Lock()
	for _, p := range m.members {
		if !want[p] {
			gone = append(gone, p)
			delete(m.state, p)
			delete(m.verified, p)
		}
	}
	m.members = m.members[:0]
	for p := range want {
		m.members = append(m.members, p)
		if m.state[p] == nil {
			m.state[p] = &dialState{backoff: m.min}
		}
	}
	slices.SortFunc(m.members, func(a, b peer.ID) int { return strings.Compare(string(a), string(b)) })
	m.mu.Unlock()
	for _, p := range gone {
		m.host.ConnManager().Unprotect(p, memberTag)
		_ = m.host.Network().ClosePeer(p)
	}
	m.updateGauge()
	m.poke()
}

// watch verifies identified members and tracks disconnections.
func (m *mesh) watch(ctx context.Context, sub event.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			switch e := e.(type) {
			case event.EvtPeerIdentificationCompleted:
				m.identified(ctx, e)
			case event.EvtPeerConnectednessChanged:
				if e.Connectedness != network.Connected && m.isMember(e.Peer) {
					m.mu.Lock()
					wasVerified := m.verified[e.Peer]
					delete(m.verified, e.Peer)
					m.mu.Unlock()
					m.host.ConnManager().Unprotect(e.Peer, memberTag)
					if wasVerified {
						m.log.Info("member disconnected", "peer", e.Peer)
					} else {
						m.refusedBy(e.Peer)
					}
					m.updateGauge()
					m.poke()
				}
			}
		}
	}
}

func (m *mesh) identified(ctx context.Context, e event.EvtPeerIdentificationCompleted) {
	m.verify(ctx, e.Peer, e.ProtocolVersion, e.Conn.RemoteMultiaddr())
}

// catchUp verifies the members that connected and were identified before
// the mesh subscribed to identification events: an inbound connection can
// complete while the node is still starting, and its event would be lost.
// A member identified twice (here and by its event) is verified once.
func (m *mesh) catchUp(ctx context.Context) {
	for _, p := range m.host.Network().Peers() {
		if !m.isMember(p) {
			continue
		}
		v, err := m.host.Peerstore().Get(p, "ProtocolVersion")
		pv, _ := v.(string)
		conns := m.host.Network().ConnsToPeer(p)
		if err != nil || pv == "" || len(conns) == 0 {
			continue // not identified yet: its event will come
		}
		m.verify(ctx, p, pv, conns[0].RemoteMultiaddr())
	}
}

// verify admits an identified member of this federation to the mesh, or
// disconnects one that runs another federation's genesis.
func (m *mesh) verify(ctx context.Context, p peer.ID, protocolVersion string, addr ma.Multiaddr) {
	if !m.isMember(p) {
		return
	}
	theirs, ok := federationOf(protocolVersion)
	if !ok || theirs != m.fedID {
		m.metrics.federationRefusals.Inc()
		m.gater.refuse(p)
		m.log.Warn("disconnecting member: it runs another federation's genesis",
			"peer", p, "their_federation", theirs, "our_federation", m.fedID,
			"retry_after", refusalPeriod)
		_ = m.host.Network().ClosePeer(p)
		return
	}
	m.mu.Lock()
	first := !m.verified[p]
	m.verified[p] = true
	if st := m.state[p]; st != nil {
		st.backoff, st.next, st.refusals = m.min, time.Time{}, 0
	}
	m.mu.Unlock()
	if !first {
		return
	}
	m.gater.releaseDials(p)
	m.host.ConnManager().Protect(p, memberTag)
	m.log.Info("member connected", "peer", p, "addr", addr)
	m.updateGauge()
	m.mu.Lock()
	fn := m.onVerified
	m.mu.Unlock()
	if fn != nil {
		fn(p)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.pingOnce(ctx, p)
	}()
}

func (m *mesh) updateGauge() {
	m.mu.Lock()
	n := len(m.verified)
	m.mu.Unlock()
	m.metrics.peersConnected.Set(float64(n))
}

// connected reports whether p is connected and verified as a member of
// this federation.
func (m *mesh) connected(p peer.ID) bool {
	m.mu.Lock()
	v := m.verified[p]
	m.mu.Unlock()
	return v && m.host.Network().Connectedness(p) == network.Connected
}

// connectedCount is the number of other members connected and verified.
func (m *mesh) connectedCount() int {
	n := 0
	for _, p := range m.memberList() {
		if m.connected(p) {
			n++
		}
	}
	return n
}

func (m *mesh) pingOnce(ctx context.Context, p peer.ID) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// ping.Ping records the RTT in the peerstore.
	if res := <-ping.Ping(ctx, m.host, p); res.Error != nil {
		m.log.Debug("ping failed", "peer", p, "err", res.Error)
	}
}

func (m *mesh) dialLoop(ctx context.Context) {
	tick := time.NewTicker(m.min)
	defer tick.Stop()
	pings := time.NewTicker(pingEvery)
	defer pings.Stop()
	for {
		m.dialDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-m.wake:
		case <-pings.C:
			for _, p := range m.memberList() {
				if m.connected(p) {
					m.pingOnce(ctx, p)
				}
			}
		}
	}
}

// dialDue starts a dial to every member that is neither connected nor
// waiting out its backoff.
func (m *mesh) dialDue(ctx context.Context) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.members {
		st := m.state[p]
		if m.host.Network().Connectedness(p) == network.Connected {
			continue // verified resets the backoff; a refusal grows it
		}
		if st.inflight || now.Before(st.next) {
			continue
		}
		st.inflight = true
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			err := m.dial(ctx, p)
			m.mu.Lock()
			defer m.mu.Unlock()
			st.inflight = false
			if err == nil || ctx.Err() != nil {
				// Connected: verification resets the backoff, a refusal
				// (the connection closing unverified) grows it.
				return
			}
			held := m.backOff(st)
			m.log.Debug("member unreachable", "peer", p, "err", err, "retry_in", time.Until(st.next).Round(time.Millisecond))
			if held {
				m.gater.holdDials(p, st.next)
			}
		}()
	}
}

func (m *mesh) dial(ctx context.Context, p peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	// Our own backoff paces the retries; the swarm's dial backoff would add
	// seconds to minutes after a member restarts.
	ctx = network.WithForceDirectDial(ctx, "xborder member redial")
	ai := peer.AddrInfo{ID: p}
	if len(m.host.Peerstore().Addrs(p)) == 0 {
		if m.finder == nil {
			return errNoAddress
		}
		found, err := m.finder.FindPeer(ctx, p)
		if err != nil {
			m.metrics.dials.WithLabelValues("error").Inc()
			return err
		}
		ai = found
	}
	err := m.host.Connect(ctx, ai)
	if err != nil {
		m.metrics.dials.WithLabelValues("error").Inc()
		return err
	}
	m.metrics.dials.WithLabelValues("ok").Inc()
	return nil
}

// backOff schedules the next dial to a member after a failure and grows
// its backoff; m.mu is held. It reports whether the member has refused
// this node, whose dials the gater then holds until the next one is due.
func (m *mesh) backOff(st *dialState) bool {
	// Full jitter keeps five nodes that restart together from dialling
	// each other in lockstep.
	st.next = time.Now().Add(st.backoff/2 + rand.N(st.backoff/2+1))
	st.backoff = min(2*st.backoff, m.ceiling(st))
	return st.refusals > 0
}

// refusedBy handles a member's connection that closed before it could be
// verified: the member refused this node. The next dial waits out a
// backoff that grows up to refusedMax, and the gater holds every other
// dial to the member until then.
func (m *mesh) refusedBy(p peer.ID) {
	m.mu.Lock()
	st := m.state[p]
	if st == nil {
		m.mu.Unlock()
		return
	}
	st.refusals++
	m.backOff(st)
	next, refusals := st.next, st.refusals
	m.mu.Unlock()
	m.gater.holdDials(p, next)
	m.metrics.dials.WithLabelValues("refused").Inc()
	m.log.Info("member closed the connection before it was verified (this node is not admitted, or runs another genesis); backing off",
		"peer", p, "refusals", refusals, "retry_in", time.Until(next).Round(time.Millisecond))
}

// HandlePeerFound is the mDNS callback: a member seen on the LAN gets its
// addresses recorded and is dialled at once.
func (m *mesh) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == m.self || !m.isMember(ai.ID) {
		return
	}
	m.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.RecentlyConnectedAddrTTL)
	m.mu.Lock()
	if st := m.state[ai.ID]; st != nil && st.refusals == 0 {
		// A member that refused this node is not dialled sooner for
		// being seen on the LAN.
		st.next = time.Time{}
	}
	m.mu.Unlock()
	m.poke()
}

// errNoAddress: the member has no known address and the DHT is off.
var errNoAddress = errors.New("no address known for this member and the DHT is disabled")
