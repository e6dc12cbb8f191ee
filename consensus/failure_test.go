package consensus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// acked records every write the registry acknowledged, to check that none
// is lost.
type acked struct {
	mu  sync.Mutex
	ids []string
}

func (a *acked) add(id string) {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.mu.Unlock()
}

func (a *acked) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ids...)
}

// writers keep proposing projects from every live member until stopped.
func writers(c *cluster, acks *acked, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	var seq atomic.Int64
	for i, tn := range c.nodes {
		if tn.reg == nil {
			continue
		}
		partner := c.nodes[(i+1)%len(c.nodes)].name
		reg := tn.reg
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w-%s-%d", tn.name, seq.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_, err := reg.Submit(ctx, OpProjectPropose, project(id, tn.name, partner))
				cancel()
				if err == nil {
					acks.add(id)
				}
			}
		}()
	}
	return &wg
}

func (c *cluster) checkAcked(t *testing.T, acks *acked, nodes ...*tnode) {
	t.Helper()
	ids := acks.all()
	if len(ids) == 0 {
		t.Fatal("no write was acknowledged")
	}
	for _, tn := range nodes {
		testkit.Eventually(t, 30*time.Second, tn.name+" holds every acknowledged write", func() bool {
			for _, id := range ids {
				if _, err := tn.reg.Project(id); err != nil {
					return false
				}
			}
			return true
		})
	}
}

func TestLeaderLossLosesNoAcknowledgedWrite(t *testing.T) {
	c := newCluster(t, 5, 5)
	c.openAll(5)
	old := c.waitLeader()
	acks := &acked{}
	stop := make(chan struct{})
	wg := writers(c, acks, stop)
	testkit.Eventually(t, 20*time.Second, "writes flow", func() bool { return len(acks.all()) >= 20 })

	before := len(acks.all())
	c.stop(old)
	testkit.Eventually(t, 30*time.Second, "a new leader", func() bool { l := c.leader(); return l != nil && l != old })
	testkit.Eventually(t, 30*time.Second, "writes continue under the new leader", func() bool { return len(acks.all()) >= before+20 })
	close(stop)
	wg.Wait()

	var live []*tnode
	for _, tn := range c.nodes {
		if tn.reg != nil {
			live = append(live, tn)
		}
	}
	c.checkAcked(t, acks, live...)

	// The old leader comes back from its data dir and catches up.
	c.startHost(old)
	c.open(old)
	c.checkAcked(t, acks, old)
	testkit.Eventually(t, 30*time.Second, "identical replicas after restart", c.sameState(c.nodes...))
}

func TestMinorityCannotCommitAndCatchesUpAfterHealing(t *testing.T) {
	c := newCluster(t, 5, 5)
	c.openAll(5)
	c.waitLeader()
	// Cut two members off; the leader may be among them.
	minority := []*tnode{c.nodes[3], c.nodes[4]}
	c.partition(minority...)
	majority := c.nodes[:3]
	var leader *tnode
	testkit.Eventually(t, 30*time.Second, "the majority has a leader", func() bool {
		for _, tn := range majority {
			if tn.reg.Leader() {
				leader = tn
				return true
			}
		}
		return false
	})
	ctx := context.Background()
	if _, err := majority[0].reg.Submit(ctx, OpProjectPropose, project("during-cut", majority[0].name, majority[1].name)); err != nil {
		t.Fatalf("the majority cannot commit: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := minority[0].reg.Submit(short, OpProjectPropose, project("minority", minority[0].name, minority[1].name))
	if err == nil {
		t.Fatal("the minority committed a write")
	}
	if _, err := minority[0].reg.Project("during-cut"); err == nil {
		t.Fatal("the minority saw a write it was cut off from")
	}
	_ = leader
	c.heal()
	for _, tn := range minority {
		testkit.Eventually(t, 30*time.Second, tn.name+" catches up", func() bool {
			_, err := tn.reg.Project("during-cut")
			return err == nil
		})
	}
	testkit.Eventually(t, 30*time.Second, "identical replicas after healing", c.sameState(c.nodes...))
	if _, err := c.nodes[0].reg.Project("minority"); err == nil {
		t.Fatal("the write refused during the cut appeared later")
	}
}

// A command whose answer was lost and that its member submits again is
// refused as a replay: Submit reports it applied, with an index at which
// the member's replica holds it, so that reading one's own write (waiting
// for the index Submit returned) sees it. A zero index let the member
// answer before its replica had the write.
func TestRetriedCommittedCommandReturnsAnIndexThatHoldsIt(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	leader := c.waitLeader()
	follower := followerOf(c, leader)
	ctx := context.Background()
	signed, err := SignCommand(follower.key, follower.id, OpProjectPropose, project("retried", follower.name, leader.name), time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	// The first attempt commits, but its answer never reaches the
	// follower, which meanwhile loses the leader and tries again.
	first, err := leader.reg.submitSigned(ctx, signed)
	if err != nil {
		t.Fatal(err)
	}
	c.partition(follower)
	testkit.Eventually(t, 30*time.Second, follower.name+" has no leader", func() bool {
		addr, _ := follower.reg.raft.LeaderWithID()
		return addr == ""
	})
	type answer struct {
		idx uint64
		err error
	}
	done := make(chan answer, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		idx, err := follower.reg.submitSigned(ctx, signed)
		done <- answer{idx, err}
	}()
	// The cut lasts until the follower has heard from no leader for a
	// second after its submit began: the submit found no leader and
	// retries.
	<-started
	began := time.Now()
	testkit.Eventually(t, 30*time.Second, follower.name+" hears from no leader for a second", func() bool {
		last, err := time.ParseDuration(follower.reg.raft.Stats()["last_contact"])
		return err == nil && time.Since(began) > time.Second && last > time.Since(began)
	})
	c.heal()
	a := <-done
	if a.err != nil {
		t.Fatalf("the retried command: %v, want it reported applied", a.err)
	}
	if a.idx <= first {
		t.Fatalf("the retried command reported index %d; it was committed at %d", a.idx, first)
	}
	testkit.Eventually(t, 30*time.Second, follower.name+" applies the index Submit returned", func() bool { return follower.reg.AppliedIndex() >= a.idx })
	if _, err := follower.reg.Project("retried"); err != nil {
		t.Fatalf("at the index Submit returned, %s does not hold the write: %v", follower.name, err)
	}
}

// A leader cut off while it commits a command has appended it to its log
// and may have sent it to the others; whether it commits is unknown (the
// next leader may hold it, or this one may be elected again with it), so
// Submit must not say "no leader", which promises it never took effect.
func TestLeaderCutOffWhileCommittingReportsAnUnknownOutcome(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	for attempt := range 5 {
		leader := c.waitLeader()
		c.partition(leader)
		before := leader.reg.raft.LastIndex()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := leader.reg.Submit(ctx, OpProjectPropose, project(fmt.Sprintf("cut-%d", attempt), leader.name, followerOf(c, leader).name))
		cancel()
		appended := leader.reg.raft.LastIndex() > before
		c.heal()
		if !appended {
			// The leader had stepped down before the command reached its
			// log: "no leader" is then the truth. Try again.
			continue
		}
		if err == nil || errors.Is(err, ErrNoLeader) || !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("a command in the log of a leader cut off: %v, want ErrOutcomeUnknown", err)
		}
		return
	}
	t.Fatal("in five attempts, no command reached the log of a leader before it stepped down")
}

// A member restarted where it cannot reach a majority has its latest
// snapshot back, older than what it had applied: Current says so, so that
// nothing is decided from facts the registry has since changed, until the
// member catches up.
func TestRestartedMemberSaysItIsCatchingUpUntilItHas(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	c.waitLeader()
	a, b := c.nodes[0], c.nodes[1]
	ctx := context.Background()
	for i := range 70 { // past the test config's snapshot threshold
		if _, err := a.reg.Submit(ctx, OpProjectPropose, project(fmt.Sprintf("p%d", i), a.name, b.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.reg.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	idx, err := a.reg.Submit(ctx, OpProjectClose, ProjectRef{ID: "p69"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "a applied the closure", func() bool { return a.reg.AppliedIndex() >= idx })
	if err := a.reg.Current(); err != nil {
		t.Fatalf("a member that never stopped: %v", err)
	}

	// a and b stop; a comes back alone: a minority of one.
	c.stop(b)
	c.stop(a)
	c.startHost(a)
	c.open(a)
	if err := a.reg.Current(); !errors.Is(err, ErrCatchingUp) {
		p, _ := a.reg.Project("p69")
		t.Fatalf("restarted in a minority: Current() = %v (p69 reads %s)", err, p.Status)
	}
	// Once a majority is back, it catches up and says so.
	c.startHost(b)
	c.open(b)
	testkit.Eventually(t, 30*time.Second, "a catches up", func() bool { return a.reg.Current() == nil })
	if p, err := a.reg.Project("p69"); err != nil || p.Status != "closed" {
		t.Fatalf("after catching up: %+v %v", p, err)
	}
}
