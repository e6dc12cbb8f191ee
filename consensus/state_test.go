package consensus

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/testkit"
)

func TestSnapshotRestoreAndRestartReachTheSameState(t *testing.T) {
	c := newCluster(t, 5, 5)
	c.openAll(5)
	leader := c.waitLeader()
	ctx := context.Background()
	lagging := c.nodes[4]
	if lagging == leader {
		lagging = c.nodes[3]
	}
	// lagging is down while enough entries pass for snapshots to truncate
	// the log: it can only catch up from a snapshot.
	c.stop(lagging)
	for i := range 150 {
		if _, err := leader.reg.Submit(ctx, OpProjectPropose, project(fmt.Sprintf("s-%03d", i), leader.name, c.nodes[(indexOfNode(c, leader)+1)%4].name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := leader.reg.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	c.startHost(lagging)
	c.open(lagging)
	testkit.Eventually(t, 30*time.Second, "the restored member reaches the same state", c.sameState(c.nodes...))
	// The FSM is restored before raft records the installed snapshot's
	// index, so the index is polled too.
	testkit.Eventually(t, 10*time.Second, "the member installed a snapshot", func() bool {
		return lagging.reg.raft.Stats()["last_snapshot_index"] != "0"
	})
	if _, err := lagging.reg.Project("s-149"); err != nil {
		t.Fatal(err)
	}
	// A member restarted from its own data dir (no snapshot needed) too.
	other := c.nodes[(indexOfNode(c, lagging)+2)%5]
	c.stop(other)
	c.startHost(other)
	c.open(other)
	testkit.Eventually(t, 30*time.Second, "the restarted member reaches the same state", c.sameState(c.nodes...))
}

func indexOfNode(c *cluster, tn *tnode) int {
	for i, x := range c.nodes {
		if x == tn {
			return i
		}
	}
	return -1
}

func TestApplyingTheSameLogTwiceGivesTheSameState(t *testing.T) {
	c := newCluster(t, 2, 2)
	a, b := c.nodes[0], c.nodes[1]
	c.genesis[1].Country = "DE"
	var logs []*raft.Log
	ts := int64(1_764_000_000_000)
	add := func(tn *tnode, op string, args any) {
		signed, err := SignCommand(tn.key, tn.id, op, args, ts)
		if err != nil {
			t.Fatal(err)
		}
		ts += 1000
		data := []byte(fmt.Sprintf(`{"cmds":[%q]}`, signed))
		logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogCommand, Data: data})
	}
	add(a, OpProjectPropose, ProjectProposal{ID: "p", Title: "T", Themes: []string{"industry", "health"}, Partners: []string{b.name, a.name}})
	add(b, OpProjectAttach, DatasetAttachment{ID: "p", Dataset: b.name + "/sensors"})
	add(a, OpProjectAttach, DatasetAttachment{ID: "p", Dataset: b.name + "/sensors"}) // refused: not a's dataset
	add(a, OpMemberPropose, MemberChange{Candidate: Member{Name: "c", Country: "LU", Org: "Lux", PeerID: c.nodes[0].id.String()}, Action: "add"})
	add(a, OpProjectClose, ProjectRef{ID: "p"})
	add(b, OpPolicyPut, PolicyArgs{Hash: fmt.Sprintf("%064x", 7)})

	hashes := make([]string, 2)
	for run := range 2 {
		f, err := openFSM(filepath.Join(t.TempDir(), "registry.db"), c.genesis)
		if err != nil {
			t.Fatal(err)
		}
		var refused int
		for _, l := range logs {
			for _, err := range f.Apply(l).([]error) {
				if err != nil {
					refused++
				}
			}
		}
		// Applying an index again (a replay after restart) changes nothing.
		before := hashOf(f)
		f.Apply(logs[0])
		if hashOf(f) != before {
			t.Fatal("re-applying an applied index changed the state")
		}
		hashes[run] = before
		if refused != 2 { // the foreign attach, and the proposal of an existing peer ID
			t.Fatalf("run %d: %d commands refused, want 2", run, refused)
		}
		f.close()
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("same log, different states: %s vs %s", hashes[0], hashes[1])
	}
}

func hashOf(f *fsm) string {
	var h string
	_ = f.view(func(tx *bolt.Tx) error { h = stateHash(tx); return nil })
	return h
}
