package consensus

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/xborder/xborder/internal/testkit"
)

// A registry closed while an entry was committed but not yet applied
// leaves one goroutine waiting on raft's future (see Registry.wait).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/xborder/xborder/consensus.(*Registry).wait.func1"))
}

// cutGater lets a test partition a host: it refuses every connection with
// the peers it blocks.
type cutGater struct {
	mu      sync.Mutex
	blocked map[peer.ID]bool
}

func (g *cutGater) isBlocked(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blocked[p]
}
func (g *cutGater) InterceptPeerDial(p peer.ID) bool                 { return !g.isBlocked(p) }
func (g *cutGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.isBlocked(p) }
func (g *cutGater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *cutGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.isBlocked(p)
}
func (g *cutGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// tnode is one member of a test cluster.
type tnode struct {
	name  string
	dir   string
	key   ed25519.PrivateKey
	id    peer.ID
	host  host.Host
	gater *cutGater
	reg   *Registry
}

type cluster struct {
	t       testing.TB
	nodes   []*tnode
	genesis []Member
}

var testCountries = []string{"FR", "DE", "CH", "BE", "LU", "FR", "DE"}

func newKey(t testing.TB) (ed25519.PrivateKey, peer.ID) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := crypto.UnmarshalEd25519PrivateKey(k)
	id, _ := peer.IDFromPrivateKey(pk)
	return k, id
}

func testConfig(dir string) Config {
	c := DefaultConfig(dir)
	c.SnapshotThreshold = 64
	c.SnapshotInterval = time.Second
	c.TrailingLogs = 16 // a member away for more than that needs a snapshot
	return c
}

// newCluster makes n members with hosts on loopback; the genesis lists
// the first founders of them.
func newCluster(t testing.TB, n, founders int) *cluster {
	t.Helper()
	c := &cluster{t: t}
	for i := range n {
		k, id := newKey(t)
		tn := &tnode{name: fmt.Sprintf("m%d", i), dir: t.TempDir(), key: k, id: id}
		c.nodes = append(c.nodes, tn)
		if i < founders {
			c.genesis = append(c.genesis, tn.member(i))
		}
	}
	for _, tn := range c.nodes {
		c.startHost(tn)
	}
	t.Cleanup(c.closeAll)
	return c
}

func (tn *tnode) member(i int) Member {
	return Member{Name: tn.name, Country: testCountries[i%len(testCountries)], Org: "Org " + tn.name, PeerID: tn.id.String()}
}

func (c *cluster) startHost(tn *tnode) {
	c.t.Helper()
	pk, _ := crypto.UnmarshalEd25519PrivateKey(tn.key)
	if tn.gater == nil {
		tn.gater = &cutGater{blocked: map[peer.ID]bool{}}
	}
	h, err := libp2p.New(libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.ConnectionGater(tn.gater), libp2p.DisableMetrics())
	if err != nil {
		c.t.Fatal(err)
	}
	tn.host = h
	for _, o := range c.nodes {
		if o != tn && o.host != nil {
			h.Peerstore().AddAddrs(o.id, o.host.Addrs(), peerstore.PermanentAddrTTL)
			o.host.Peerstore().AddAddrs(tn.id, h.Addrs(), peerstore.PermanentAddrTTL)
		}
	}
}

func (c *cluster) open(tn *tnode) {
	c.t.Helper()
	r, err := Open(testConfig(tn.dir), Deps{Host: tn.host, Key: tn.key, Genesis: c.genesis, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.t.Fatalf("open %s: %v", tn.name, err)
	}
	tn.reg = r
}

func (c *cluster) openAll(n int) {
	for _, tn := range c.nodes[:n] {
		c.open(tn)
	}
}

func (c *cluster) closeAll() {
	for _, tn := range c.nodes {
		c.stop(tn)
	}
}

// stop closes a member's registry and host, as a crash would.
func (c *cluster) stop(tn *tnode) {
	if tn.reg != nil {
		_ = tn.reg.Close()
		tn.reg = nil
	}
	if tn.host != nil {
		_ = tn.host.Close()
		tn.host = nil
	}
}

func (c *cluster) leader() *tnode {
	for _, tn := range c.nodes {
		if tn.reg != nil && tn.reg.Leader() {
			return tn
		}
	}
	return nil
}

func (c *cluster) waitLeader() *tnode {
	c.t.Helper()
	var l *tnode
	testkit.Eventually(c.t, 30*time.Second, "a leader is elected", func() bool { l = c.leader(); return l != nil })
	return l
}

// partition cuts the given members off from the others, both ways.
func (c *cluster) partition(cut ...*tnode) {
	in := map[*tnode]bool{}
	for _, tn := range cut {
		in[tn] = true
	}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if in[a] != in[b] && a.host != nil && b.host != nil {
				a.gater.mu.Lock()
				a.gater.blocked[b.id] = true
				a.gater.mu.Unlock()
				_ = a.host.Network().ClosePeer(b.id)
			}
		}
	}
}

func (c *cluster) heal() {
	for _, a := range c.nodes {
		a.gater.mu.Lock()
		a.gater.blocked = map[peer.ID]bool{}
		a.gater.mu.Unlock()
	}
}

func project(id string, partners ...string) ProjectProposal {
	return ProjectProposal{ID: id, Title: "Joint project " + id, Themes: []string{"health"}, Partners: partners, EthicsRef: "CPP-1"}
}

func (c *cluster) sameState(nodes ...*tnode) func() bool {
	return func() bool {
		var want string
		for i, tn := range nodes {
			h := tn.reg.StateHash()
			if i == 0 {
				want = h
			} else if h != want {
				return false
			}
		}
		return true
	}
}

func TestFiveMembersElectAndReplicateAWriteFromAFollower(t *testing.T) {
	c := newCluster(t, 5, 5)
	c.openAll(5)
	leader := c.waitLeader()
	var follower *tnode
	for _, tn := range c.nodes {
		if tn != leader {
			follower = tn
			break
		}
	}
	ctx := context.Background()
	idx, err := follower.reg.Submit(ctx, OpProjectPropose, project("fr-de-oncology", follower.name, leader.name))
	if err != nil {
		t.Fatal(err)
	}
	if idx == 0 {
		t.Fatal("no log index for the committed write")
	}
	for _, tn := range c.nodes {
		testkit.Eventually(t, 20*time.Second, tn.name+" sees the project", func() bool {
			p, err := tn.reg.Project("fr-de-oncology")
			return err == nil && p.Lead == follower.name && p.Status == "active"
		})
	}
	testkit.Eventually(t, 10*time.Second, "identical replicas", c.sameState(c.nodes...))
	// On a loaded machine leadership may move; whoever leads reports the
	// five voters and the commit.
	testkit.Eventually(t, 20*time.Second, "a leader reports five voters and the commit", func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		st := l.reg.Status()
		return st.State == "Leader" && len(st.Voters) == 5 && st.CommitIndex >= idx
	})
}

func TestInvalidCommandsAreRejectedTheSameWayEverywhere(t *testing.T) {
	c := newCluster(t, 6, 5) // m5 is not a member
	c.openAll(5)
	leader := c.waitLeader()
	ctx := context.Background()
	a, b := c.nodes[0], c.nodes[1]
	if _, err := a.reg.Submit(ctx, OpProjectPropose, project("p1", a.name, b.name)); err != nil {
		t.Fatal(err)
	}
	rejected := func(what string, err error, reason string) {
		t.Helper()
		var rej *RejectedError
		if !errors.As(err, &rej) {
			t.Fatalf("%s: %v, want a rejection", what, err)
		}
		if reason != "" && !strings.Contains(rej.Reason, reason) {
			t.Fatalf("%s: reason %q does not say %q", what, rej.Reason, reason)
		}
	}
	// Partners from one country only (m0 and m5 are both FR, but m5 is not
	// even a member; m0 alone is one country).
	_, err := a.reg.Submit(ctx, OpProjectPropose, project("p2", a.name))
	rejected("one-country project", err, "at least two countries")

	// A replayed command: the same signed bytes twice.
	signed, err := SignCommand(a.key, a.id, OpProjectJoin, ProjectRef{ID: "p1"}, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	c3 := c.nodes[3]
	signed3, _ := SignCommand(c3.key, c3.id, OpProjectJoin, ProjectRef{ID: "p1"}, time.Now().UnixMilli())
	if _, err := c3.reg.submitOnceOrLeader(ctx, signed3); err != nil {
		t.Fatal(err)
	}
	_, err = c3.reg.submitOnceOrLeader(ctx, signed3)
	rejected("replay", err, "replayed command")
	if !errors.Is(err, ErrReplayed) {
		t.Fatalf("a replay is not ErrReplayed: %v", err)
	}
	_, err = a.reg.submitOnceOrLeader(ctx, signed)
	rejected("join by a partner", err, "already a partner")

	// A forged command: signed by m5's key but claiming to be m1.
	stranger := c.nodes[5]
	forged, _ := SignCommand(stranger.key, b.id, OpProjectClose, ProjectRef{ID: "p1"}, time.Now().UnixMilli())
	_, err = leader.reg.submitOnceOrLeader(ctx, forged)
	rejected("forged signature", err, "signature does not verify")

	// A command and a vote by a non-member.
	byStranger, _ := SignCommand(stranger.key, stranger.id, OpProjectJoin, ProjectRef{ID: "p1"}, time.Now().UnixMilli())
	_, err = leader.reg.submitOnceOrLeader(ctx, byStranger)
	rejected("non-member command", err, "not a member")
	voteByStranger, _ := SignCommand(stranger.key, stranger.id, OpMemberVote, Vote{Candidate: "x", Vote: "yes"}, time.Now().UnixMilli())
	_, err = leader.reg.submitOnceOrLeader(ctx, voteByStranger)
	rejected("non-member vote", err, "not a member")

	// Garbage and an unknown op.
	_, err = leader.reg.submitOnceOrLeader(ctx, []byte("not-a-jws"))
	rejected("garbage", err, "not a signed command")
	_, err = a.reg.Submit(ctx, "project.delete", ProjectRef{ID: "p1"})
	rejected("unknown op", err, "unknown operation")

	// Every replica holds exactly the same state: p1 with m0 and m1, and
	// m3's join waiting for the lead's approval.
	testkit.Eventually(t, 20*time.Second, "identical replicas", c.sameState(c.nodes[:5]...))
	for _, tn := range c.nodes[:5] {
		p, err := tn.reg.Project("p1")
		if _, pending := p.PendingJoin(c3.name); err != nil || len(p.Partners) != 2 || !pending {
			t.Fatalf("%s: p1 = %+v %v", tn.name, p, err)
		}
		if _, err := tn.reg.Project("p2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s has the rejected project p2", tn.name)
		}
	}
}

// submitOnceOrLeader submits already signed bytes through the normal path.
func (r *Registry) submitOnceOrLeader(ctx context.Context, signed []byte) (uint64, error) {
	return r.submitSigned(ctx, signed)
}

// A command that reaches the leader long after it was signed (held in a
// connection's buffers through a partition) is refused, not committed
// behind its submitter's back.
func TestLeaderRefusesStaleForwardedCommands(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	leader := c.waitLeader()
	var follower *tnode
	for _, tn := range c.nodes {
		if tn != leader {
			follower = tn
			break
		}
	}
	ctx := context.Background()
	old := time.Now().Add(-StaleAfter - time.Minute).UnixMilli()
	signed, err := SignCommand(follower.key, follower.id, OpProjectPropose, project("late", follower.name, leader.name), old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.reg.submitOnceOrLeader(ctx, signed); !errors.Is(err, ErrStale) {
		t.Fatalf("a command signed %s ago: %v, want ErrStale", StaleAfter+time.Minute, err)
	}
	fresh, _ := SignCommand(follower.key, follower.id, OpProjectPropose, project("on-time", follower.name, leader.name), time.Now().UnixMilli())
	if _, err := follower.reg.submitOnceOrLeader(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "identical replicas", c.sameState(c.nodes...))
	for _, tn := range c.nodes {
		if _, err := tn.reg.Project("late"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s committed the stale command", tn.name)
		}
	}
}
