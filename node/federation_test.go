package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
)

// testFed is a federation of in-process nodes on loopback, built the way
// operators build one: init each data dir, collect identity cards, write
// one genesis, start every node from it.
type testFed struct {
	t     testing.TB
	dirs  []string
	cfgs  []Config
	cards []Card
	gen   *Genesis
	// opts are given to every node the federation opens (a clock, say).
	opts []Option
}

var countries = map[string]string{
	"fr-grandest": "FR", "de-bw": "DE", "ch-basel": "CH", "be-wallonie": "BE", "lu-luxembourg": "LU",
}

var fiveCountries = []string{"fr-grandest", "de-bw", "ch-basel", "be-wallonie", "lu-luxembourg"}

// testConfig is nodetest.Config, which this package's tests cannot import
// (nodetest imports node): keep the two in step.
func testConfig(t testing.TB, name string) Config {
	cfg := DefaultConfig()
	cfg.Name, cfg.Country, cfg.Org = name, countries[name], "Region "+name
	if cfg.Country == "" {
		cfg.Country = "FR"
	}
	port := testkit.FreePort(t, true)
	cfg.Listen = []string{
		fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port),
		fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port),
	}
	cfg.API = "127.0.0.1:0"
	cfg.Discovery.MDNS = false // the mesh must form from genesis alone
	cfg.Discovery.RedialMin = Duration(100 * time.Millisecond)
	cfg.Discovery.RedialMax = Duration(time.Second)
	cfg.ShutdownTimeout = Duration(10 * time.Second)
	cfg.AuditAnchorInterval = Duration(time.Second)
	cfg.Policy.DecisionTimeout = Duration(testkit.PolicyDecisionTimeout)
	for p := range cfg.Policy.Timeouts {
		cfg.Policy.Timeouts[p] = Duration(testkit.PolicyDecisionTimeout)
	}
	return cfg
}

// newTestFed initialises one data dir per name and a genesis listing them
// all. withAddrs decides which members' addresses the genesis carries.
func newTestFed(t testing.TB, federation string, names []string, withAddrs func(i int) bool) *testFed {
	t.Helper()
	f := &testFed{t: t, gen: &Genesis{Federation: federation}}
	for i, name := range names {
		dir := filepath.Join(t.TempDir(), name)
		cfg := testConfig(t, name)
		if _, err := Init(dir, cfg, xborder.Policies()); err != nil {
			t.Fatal(err)
		}
		card, err := IdentityCard(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if withAddrs != nil && !withAddrs(i) {
			card.Addrs = nil
		}
		f.dirs, f.cfgs, f.cards = append(f.dirs, dir), append(f.cfgs, cfg), append(f.cards, card)
		f.gen.Members = append(f.gen.Members, card)
	}
	f.writeGenesis()
	return f
}

func (f *testFed) writeGenesis() {
	for i, dir := range f.dirs {
		if err := writeFile(f.cfgs[i].GenesisPath(dir), f.gen.Marshal()); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *testFed) open(i int) *Node {
	f.t.Helper()
	n, err := Open(f.dirs[i], f.cfgs[i], append([]Option{WithLogger(testLogger(f.t, f.cfgs[i].Name))}, f.opts...)...)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *testFed) start(i int) *Node {
	f.t.Helper()
	n := f.open(i)
	if err := n.Start(context.Background()); err != nil {
		f.t.Fatalf("start %s: %v", f.cfgs[i].Name, err)
	}
	f.t.Cleanup(func() { _ = n.Close() })
	return n
}

func (f *testFed) startAll() []*Node {
	nodes := make([]*Node, len(f.dirs))
	for i := range f.dirs {
		nodes[i] = f.start(i)
	}
	return nodes
}

func fullMesh(nodes []*Node) func() bool {
	return func() bool {
		for _, n := range nodes {
			if n.mesh.connectedCount() != len(nodes)-1 {
				return false
			}
		}
		return true
	}
}

func meshReport(nodes []*Node) string {
	s := ""
	for _, n := range nodes {
		s += fmt.Sprintf(" %s=%d", n.cfg.Name, n.mesh.connectedCount())
	}
	return s
}

func TestFiveNodesFormFullMeshFromGenesis(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))
	for _, n := range nodes {
		peers := n.Peers(context.Background())
		if len(peers) != 5 {
			t.Fatalf("%s lists %d peers, want 5", n.cfg.Name, len(peers))
		}
		for _, p := range peers {
			if !p.Connected {
				t.Errorf("%s sees %s disconnected", n.cfg.Name, p.Name)
			}
		}
		if st := n.Status(context.Background()); st.PeersConnected != 4 || !st.Ready || st.FederationID != f.gen.ID() {
			t.Errorf("%s status = %+v", n.cfg.Name, st)
		}
	}
}

func TestMembersFindAddresslessMembersThroughDHT(t *testing.T) {
	// Only fr-grandest's addresses are in the genesis: the others reach it
	// and find each other through the private DHT.
	f := newTestFed(t, "grand-est-ai", fiveCountries, func(i int) bool { return i == 0 })
	nodes := f.startAll()
	testkit.Eventually(t, 60*time.Second, "full mesh through the DHT", fullMesh(nodes))
}

func TestStrangerIsRefusedByEveryMember(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))

	// The stranger runs its own federation, whose genesis lists every member
	// with its real address, so it keeps dialling them.
	s := newTestFed(t, "intruders", []string{"xx-stranger"}, nil)
	s.gen.Members = append(s.gen.Members, f.gen.Members...)
	s.writeGenesis()
	stranger := s.start(0)

	testkit.Eventually(t, 30*time.Second, "every member refused the stranger at least once", func() bool {
		for _, n := range nodes {
			if counterValue(t, n, "xborder_gater_rejections_total") < 1 {
				return false
			}
		}
		return true
	})
	// Refused means: no member ever counts it, and no connection survives.
	testkit.Eventually(t, 10*time.Second, "no connection to the stranger survives", func() bool {
		for _, n := range nodes {
			if n.host.Network().Connectedness(stranger.ID()) == 1 /* Connected */ {
				return false
			}
		}
		return true
	})
	for _, n := range nodes {
		if n.mesh.connectedCount() != 4 || n.mesh.connected(stranger.ID()) {
			t.Fatalf("%s: mesh disturbed by the stranger:%s", n.cfg.Name, meshReport(nodes))
		}
	}
	if c := stranger.mesh.connectedCount(); c != 0 {
		t.Fatalf("stranger verified %d members", c)
	}
}

func TestMemberWithAnotherGenesisIsDisconnected(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:3], nil)
	nodes := []*Node{f.start(0), f.start(1)}
	testkit.Eventually(t, 30*time.Second, "two members mesh", fullMesh(nodes))

	// ch-basel's key is in the genesis, but it runs a genesis with another
	// federation name: same members, different federation ID.
	other := *f.gen
	other.Federation = "grand-est-ai-staging"
	if err := writeFile(f.cfgs[2].GenesisPath(f.dirs[2]), other.Marshal()); err != nil {
		t.Fatal(err)
	}
	rogue := f.start(2)
	if rogue.FederationID() == f.gen.ID() {
		t.Fatal("test setup: federation IDs are equal")
	}
	// Whichever side finishes identify first refuses the other, so the
	// mismatch is counted on one side or the other, never silently passed.
	testkit.Eventually(t, 30*time.Second, "the federation mismatch is detected", func() bool {
		return counterValue(t, nodes[0], "xborder_federation_mismatch_total")+
			counterValue(t, nodes[1], "xborder_federation_mismatch_total")+
			counterValue(t, rogue, "xborder_federation_mismatch_total") >= 2
	})
	testkit.Eventually(t, 10*time.Second, "the rogue node is disconnected", func() bool {
		for _, n := range nodes {
			if n.host.Network().Connectedness(rogue.ID()) == 1 {
				return false
			}
		}
		return true
	})
	for _, n := range nodes {
		if n.mesh.connected(rogue.ID()) {
			t.Errorf("%s counts the rogue node as connected", n.cfg.Name)
		}
	}
	if c := rogue.mesh.connectedCount(); c != 0 {
		t.Errorf("the rogue node verified %d members", c)
	}
	if !fullMesh(nodes)() {
		t.Errorf("the members lost each other:%s", meshReport(nodes))
	}
}

func TestRestartedNodeKeepsIdentityAndRejoins(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))
	before := nodes[2].ID()
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "members see de-bw gone", func() bool {
		return !nodes[0].mesh.connected(before) && !nodes[4].mesh.connected(before)
	})
	nodes[2] = f.start(2)
	if nodes[2].ID() != before {
		t.Fatalf("peer ID changed across restart: %s -> %s", before, nodes[2].ID())
	}
	testkit.Eventually(t, 30*time.Second, "full mesh after restart", fullMesh(nodes))
	// Its gossip reaches the members again: they learn of an entry it
	// publishes after the restart from its announcement alone. (The
	// members' gossip gave up on a node that dialled them before it
	// served gossip, and never asked again while connected.)
	restarted := nodes[2].cfg.Name
	if _, err := nodes[2].catalogue.Publish(context.Background(), exchange.Publication{ID: "after-restart", Title: "Published after a restart",
		Theme: "industry", Classification: "open", License: "CC-BY-4.0", FileName: "after-restart.csv"},
		strings.NewReader("a,b\n1,2\n")); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		testkit.Eventually(t, 30*time.Second, n.cfg.Name+" lists the entry "+restarted+" published after its restart", func() bool {
			_, err := n.catalogue.Get(restarted, "after-restart")
			return err == nil
		})
	}
}
