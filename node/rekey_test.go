package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/internal/testkit"
)

// A member's node key is lost: its operator stops the node and makes a
// new key in the same data dir; the two other members vote the new key in
// for the member's name. The old key is refused at the door, the node
// comes back with the new one and catches up, and its audit trail (records
// signed before the change with the old key, after with the new) verifies
// on the node and from a partner, with its chain of anchors unbroken.
func TestAMemberReKeyedByVoteRejoinsWithItsTrailVerifiable(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:3], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	fr, de, ch := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	anchorNow := func(n *Node) {
		t.Helper()
		testkit.Eventually(t, 30*time.Second, n.cfg.Name+" anchored", func() bool { return n.audit.Anchor(ctx) == nil })
	}
	for i := range 3 {
		must(t, de.record("test.event", "before the re-key", map[string]any{"i": i}))
	}
	anchorNow(de)
	oldID := de.ID()
	must(t, de.Close())

	// The key is lost (or stolen): the operator makes a new one.
	keyPath := filepath.Join(f.dirs[1], KeyFile)
	old, err := LoadKey(keyPath)
	must(t, err)
	must(t, os.Rename(keyPath, keyPath+".compromised"))
	if _, err := CreateKey(keyPath); err != nil {
		t.Fatal(err)
	}
	card, err := IdentityCard(f.dirs[1], f.cfgs[1])
	must(t, err)
	if card.PeerID == oldID.String() {
		t.Fatal("the new key is the old one")
	}

	// One member proposes, the other votes: de-bw itself has no say.
	rekey := consensus.MemberChange{Candidate: consensus.Member{Name: "de-bw", PeerID: card.PeerID, Addrs: card.Addrs}, Action: consensus.ActionRekey}
	testkit.Eventually(t, 30*time.Second, "the proposal is committed", func() bool {
		_, err = fr.clerk.Submit(ctx, consensus.OpMemberPropose, rekey)
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	must(t, err)
	testkit.Eventually(t, 20*time.Second, "ch-basel sees the proposal", func() bool {
		_, props, _, err := ch.clerk.Members(ctx)
		return err == nil && len(props) == 1
	})
	_, err = ch.clerk.Submit(ctx, consensus.OpMemberVote, consensus.Vote{Candidate: "de-bw", Vote: "yes"})
	must(t, err)
	newID, err := peer.Decode(card.PeerID)
	must(t, err)
	for _, n := range []*Node{fr, ch} {
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+" applies the re-key", func() bool {
			return n.IsMember(newID) && !n.IsMember(oldID)
		})
	}

	// The old key is refused at the door.
	thief, err := libp2p.New(libp2p.Identity(old.LibP2PKey()), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	must(t, err)
	defer thief.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = thief.Connect(cctx, peer.AddrInfo{ID: fr.ID(), Addrs: fr.host.Addrs()})
	cancel()
	if err == nil {
		testkit.Eventually(t, 10*time.Second, "fr-grandest drops the old key", func() bool {
			return len(thief.Network().ConnsToPeer(fr.ID())) == 0
		})
	}

	// The node comes back from its data dir with the new key.
	de = f.start(1)
	if de.ID() != newID {
		t.Fatalf("the node runs as %s, not its new key %s", de.ID(), newID)
	}
	all := []*Node{fr, de, ch}
	testkit.Eventually(t, 60*time.Second, "full mesh with the new key", fullMesh(all))
	testkit.Eventually(t, 60*time.Second, "the node's replica has the re-key", func() bool { return de.registry.Load().IsMember(newID) })
	for i := range 3 {
		must(t, de.record("test.event", "after the re-key", map[string]any{"i": i}))
	}
	anchorNow(de)
	chain, err := fr.registry.Load().Anchors("de-bw")
	must(t, err)
	if len(chain) < 2 || consensus.VerifyAnchorChain(chain) != nil {
		t.Fatalf("de-bw's anchors across the re-key: %+v", chain)
	}

	checkKeys := func(who string, rep audit.Report) {
		t.Helper()
		if !rep.OK || len(rep.Keys) != 2 || rep.Keys[0].PeerID != oldID.String() || rep.Keys[1].PeerID != newID.String() ||
			rep.Keys[1].First != rep.Keys[0].Last+1 || rep.Keys[1].Last != rep.Records {
			t.Fatalf("%s: de-bw's trail across the re-key: %+v", who, rep)
		}
		for _, a := range rep.Anchors {
			if !a.OK {
				t.Fatalf("%s: anchor %+v", who, a)
			}
		}
	}
	rep, err := de.audit.VerifyAudit(ctx)
	must(t, err)
	checkKeys("de-bw itself", rep)
	testkit.Eventually(t, 20*time.Second, "fr-grandest has de-bw's latest anchor", func() bool {
		rep, err = fr.audit.VerifyPeerAudit(ctx, "de-bw", audit.DetailChain)
		return err == nil && len(rep.Anchors) == len(chain)
	})
	checkKeys("fr-grandest", rep)
}
