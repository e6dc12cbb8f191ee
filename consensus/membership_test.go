package consensus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

func TestMajorityVoteAddsASixthMemberThatReplicates(t *testing.T) {
	c := newCluster(t, 6, 5)
	c.openAll(5)
	c.waitLeader()
	ctx := context.Background()
	sixth := c.nodes[5]
	// The candidate runs its node already; it has no raft state and waits.
	c.open(sixth)
	card := sixth.member(5)
	card.Name = "nl-limburg"

	changes := make(chan MembershipChange, 8)
	c.nodes[2].reg.OnMembershipChange(func(ch MembershipChange) { changes <- ch })

	if _, err := c.nodes[0].reg.Submit(ctx, OpMemberPropose, MemberChange{Candidate: card, Action: "add"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.nodes[1].reg.Submit(ctx, OpMemberVote, Vote{Candidate: card.Name, Vote: "yes"}); err != nil {
		t.Fatal(err)
	}
	if c.nodes[0].reg.IsMember(sixth.id) {
		t.Fatal("admitted with 2 of 5 votes")
	}
	// A second vote by the same member does not count twice.
	_, err := c.nodes[1].reg.Submit(ctx, OpMemberVote, Vote{Candidate: card.Name, Vote: "yes"})
	var rej *RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("double vote: %v", err)
	}
	if _, err := c.nodes[2].reg.Submit(ctx, OpMemberVote, Vote{Candidate: card.Name, Vote: "yes"}); err != nil {
		t.Fatal(err)
	}
	select {
	case ch := <-changes:
		if !ch.Added || ch.Member.Name != "nl-limburg" || !ch.Member.Voter {
			t.Fatalf("change %+v", ch)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no membership change reported")
	}
	testkit.Eventually(t, 30*time.Second, "the sixth member becomes a raft voter", func() bool {
		l := c.leader()
		return l != nil && len(l.reg.Status().Voters) == 6
	})
	// It replicates: a write after admission reaches it, and it can write.
	if _, err := c.nodes[3].reg.Submit(ctx, OpProjectPropose, project("after-join", c.nodes[3].name, c.nodes[4].name)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the sixth member has the registry", func() bool {
		_, err := sixth.reg.Project("after-join")
		return err == nil && sixth.reg.IsMember(sixth.id)
	})
	if _, err := sixth.reg.Submit(ctx, OpProjectJoin, ProjectRef{ID: "after-join"}); err != nil {
		t.Fatalf("the new member cannot write: %v", err)
	}
	testkit.Eventually(t, 30*time.Second, "identical replicas", c.sameState(c.nodes...))
}

func TestMajorityAgainstDropsTheProposal(t *testing.T) {
	c := newCluster(t, 6, 5)
	c.openAll(5)
	c.waitLeader()
	ctx := context.Background()
	card := c.nodes[5].member(5)
	if _, err := c.nodes[0].reg.Submit(ctx, OpMemberPropose, MemberChange{Candidate: card, Action: "add"}); err != nil {
		t.Fatal(err)
	}
	for _, tn := range c.nodes[1:4] {
		if _, err := tn.reg.Submit(ctx, OpMemberVote, Vote{Candidate: card.Name, Vote: "no"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tn := range c.nodes[:5] {
		testkit.Eventually(t, 20*time.Second, tn.name+" drops the proposal", func() bool {
			props, _ := tn.reg.Proposals()
			return len(props) == 0
		})
		if tn.reg.IsMember(c.nodes[5].id) {
			t.Fatalf("%s admitted a candidate voted down", tn.name)
		}
	}
}

func TestMajorityRemovesAMemberFromTheRegistryAndRaft(t *testing.T) {
	c := newCluster(t, 5, 5)
	c.openAll(5)
	leader := c.waitLeader()
	ctx := context.Background()
	// Remove a follower: the others vote it out.
	var gone *tnode
	for _, tn := range c.nodes {
		if tn != leader {
			gone = tn
			break
		}
	}
	var voters []*tnode
	for _, tn := range c.nodes {
		if tn != gone {
			voters = append(voters, tn)
		}
	}
	card := gone.member(indexOfNode(c, gone))
	if _, err := voters[0].reg.Submit(ctx, OpMemberPropose, MemberChange{Candidate: card, Action: "remove"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range voters[1:3] {
		testkit.Eventually(t, 20*time.Second, v.name+" sees the proposal", func() bool {
			props, _ := v.reg.Proposals()
			return len(props) == 1
		})
		if _, err := v.reg.Submit(ctx, OpMemberVote, Vote{Candidate: card.Name, Vote: "yes"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range voters {
		testkit.Eventually(t, 20*time.Second, v.name+" no longer lists the removed member", func() bool { return !v.reg.IsMember(gone.id) })
	}
	testkit.Eventually(t, 30*time.Second, "raft has four voters", func() bool {
		l := c.leader()
		return l != nil && l != gone && len(l.reg.Status().Voters) == 4
	})
	// Its commands are refused now.
	_, err := gone.reg.Submit(ctx, OpProjectPropose, project("late", gone.name, voters[0].name))
	if err == nil {
		t.Fatal("a removed member still writes")
	}
}
