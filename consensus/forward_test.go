package consensus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

func followerOf(c *cluster, leader *tnode) *tnode {
	for _, tn := range c.nodes {
		if tn != leader && tn.reg != nil {
			return tn
		}
	}
	return nil
}

// Concurrent commands forwarded on one stream each get their own answer:
// of eight proposals of the same project exactly one commits and seven
// are refused, and every other proposal commits.
func TestPipelinedForwardingAnswersEachCommand(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	leader := c.waitLeader()
	follower := followerOf(c, leader)
	ctx := context.Background()
	var mu sync.Mutex
	var ok, dupOK, dupRefused int
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			id := fmt.Sprintf("u-%d", i)
			if i < 8 {
				id = "dup"
			}
			_, err := follower.reg.Submit(ctx, OpProjectPropose, project(id, follower.name, leader.name))
			mu.Lock()
			defer mu.Unlock()
			var rej *RejectedError
			switch {
			case i < 8 && err == nil:
				dupOK++
			case i < 8 && errors.As(err, &rej) && strings.Contains(rej.Reason, "already exists"):
				dupRefused++
			case i >= 8 && err == nil:
				ok++
			default:
				t.Errorf("proposal %d (%s): %v", i, id, err)
			}
		})
	}
	wg.Wait()
	if ok != 32 || dupOK != 1 || dupRefused != 7 {
		t.Fatalf("%d of 32 distinct proposals committed; of 8 of the same project %d committed and %d were refused, want 1 and 7", ok, dupOK, dupRefused)
	}
	testkit.Eventually(t, 20*time.Second, "identical replicas", c.sameState(c.nodes...))
}

// A leader that only speaks the one-command-per-stream protocol still
// gets forwarded commands.
func TestForwardingToALeaderWithoutPipelining(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	leader := c.waitLeader()
	follower := followerOf(c, leader)
	leader.host.RemoveStreamHandler(RegistryPipelineProtocol)
	testkit.Eventually(t, 10*time.Second, "the follower learns that the leader has no pipelining", func() bool {
		ps, err := follower.host.Peerstore().SupportsProtocols(leader.id, RegistryPipelineProtocol)
		return err == nil && len(ps) == 0
	})
	// Close the follower's pipelined stream, if it had one.
	follower.reg.closeSessionsForTest()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if _, err := follower.reg.Submit(ctx, OpProjectPropose, project(fmt.Sprintf("old-%d", i), follower.name, leader.name)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	testkit.Eventually(t, 20*time.Second, "identical replicas", c.sameState(c.nodes...))
}

func (r *Registry) closeSessionsForTest() {
	r.fwdMu.Lock()
	var ss []*fwdSession
	for _, fs := range r.sessions {
		ss = append(ss, fs)
	}
	r.fwdMu.Unlock()
	for _, fs := range ss {
		<-fs.ready
		if fs.s != nil {
			fs.fail(errors.New("closed by the test"))
		}
	}
}
