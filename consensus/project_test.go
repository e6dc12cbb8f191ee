package consensus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// A member that asks to join a project becomes a partner only once the
// lead and the owner of every attached dataset have approved, each with its
// own signed command; until then it is pending and not a partner.
func TestJoiningAProjectNeedsTheLeadAndEveryDatasetOwner(t *testing.T) {
	c := newCluster(t, 5, 5)
	c.openAll(5)
	c.waitLeader()
	ctx := context.Background()
	fr, de, ch, be, lu := c.nodes[0], c.nodes[1], c.nodes[2], c.nodes[3], c.nodes[4]
	// submit returns once the submitter's own replica applied the command.
	submit := func(tn *tnode, op string, args any) error {
		t.Helper()
		idx, err := tn.reg.Submit(ctx, op, args)
		if err == nil {
			testkit.Eventually(t, 10*time.Second, "the submitter applies its command", func() bool { return tn.reg.AppliedIndex() >= idx })
		}
		return err
	}
	mustSubmit := func(tn *tnode, op string, args any) {
		t.Helper()
		if err := submit(tn, op, args); err != nil {
			t.Fatalf("%s %s: %v", tn.name, op, err)
		}
	}
	mustReject := func(err error, says string) {
		t.Helper()
		var rej *RejectedError
		if !errors.As(err, &rej) || !strings.Contains(rej.Reason, says) {
			t.Fatalf("got %v, want a rejection saying %q", err, says)
		}
	}
	read := func(tn *tnode) Project {
		t.Helper()
		p, err := tn.reg.Project("p1")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := project("p1", fr.name, de.name)
	p.Datasets = []string{fr.name + "/icu"}
	mustSubmit(fr, OpProjectPropose, p)
	mustSubmit(de, OpProjectAttach, DatasetAttachment{ID: "p1", Dataset: de.name + "/cohort"})

	// Basel asks to join: pending, not a partner, on its own replica too.
	mustSubmit(ch, OpProjectJoin, ProjectRef{ID: "p1"})
	got := read(ch)
	if slices.Contains(got.Partners, ch.name) {
		t.Fatalf("a join without approval made %s a partner: %+v", ch.name, got)
	}
	i, ok := got.PendingJoin(ch.name)
	if !ok {
		t.Fatalf("no pending join: %+v", got)
	}
	if want := []string{fr.name, de.name}; !slices.Equal(got.Awaiting(got.Pending[i]), want) {
		t.Fatalf("awaiting %v, want %v", got.Awaiting(got.Pending[i]), want)
	}
	mustReject(submit(ch, OpProjectJoin, ProjectRef{ID: "p1"}), "already asked to join")

	// Nobody approves for someone else, nor twice; the candidate cannot
	// approve itself and a bystander is not asked.
	mustReject(submit(ch, OpProjectApprove, Approval{ID: "p1", Member: ch.name}), "not asked to approve")
	mustReject(submit(lu, OpProjectApprove, Approval{ID: "p1", Member: ch.name}), "not asked to approve")
	mustReject(submit(fr, OpProjectApprove, Approval{ID: "p1", Member: be.name}), "nothing waits for approval")
	mustReject(submit(fr, OpProjectApprove, Approval{ID: "p1"}), "either a member or a dataset")
	mustSubmit(fr, OpProjectApprove, Approval{ID: "p1", Member: ch.name})
	mustReject(submit(fr, OpProjectApprove, Approval{ID: "p1", Member: ch.name}), "already approved")
	if got := read(fr); slices.Contains(got.Partners, ch.name) {
		t.Fatalf("the lead's approval alone made %s a partner: %+v", ch.name, got)
	}
	// The last required approval, by the other dataset owner, takes effect.
	mustSubmit(de, OpProjectApprove, Approval{ID: "p1", Member: ch.name})
	testkit.Eventually(t, 10*time.Second, "identical replicas", c.sameState(c.nodes...))
	for _, tn := range c.nodes {
		got := read(tn)
		if !slices.Contains(got.Partners, ch.name) || len(got.Pending) != 0 {
			t.Fatalf("%s: after both approvals: %+v", tn.name, got)
		}
	}

	// A dataset whose owner is not a partner waits for the lead; one
	// named in a proposal by someone else waits for its owner.
	mustSubmit(lu, OpProjectAttach, DatasetAttachment{ID: "p1", Dataset: lu.name + "/air"})
	if got := read(lu); slices.Contains(got.Datasets, lu.name+"/air") {
		t.Fatalf("a non-partner's attachment took effect without the lead: %+v", got)
	}
	mustReject(submit(de, OpProjectApprove, Approval{ID: "p1", Dataset: lu.name + "/air"}), "not asked to approve")
	mustSubmit(fr, OpProjectApprove, Approval{ID: "p1", Dataset: lu.name + "/air"})
	if got := read(fr); !slices.Contains(got.Datasets, lu.name+"/air") || slices.Contains(got.Partners, lu.name) {
		t.Fatalf("after the lead's approval: %+v", got)
	}

	q := project("p2", be.name, de.name)
	q.Datasets = []string{be.name + "/own", de.name + "/theirs"}
	mustSubmit(be, OpProjectPropose, q)
	p2, _ := be.reg.Project("p2")
	if !slices.Equal(p2.Datasets, []string{be.name + "/own"}) {
		t.Fatalf("a proposal attached a partner's dataset without its consent: %+v", p2)
	}
	mustSubmit(de, OpProjectApprove, Approval{ID: "p2", Dataset: de.name + "/theirs"})
	p2, _ = de.reg.Project("p2")
	if len(p2.Datasets) != 2 || len(p2.Pending) != 0 {
		t.Fatalf("after the owner's approval: %+v", p2)
	}

	// An approver refuses a request, the member that asked withdraws one,
	// and nobody else drops it.
	mustSubmit(lu, OpProjectJoin, ProjectRef{ID: "p1"})
	mustReject(submit(be, OpProjectDecline, Approval{ID: "p1", Member: lu.name}), "may not decline")
	mustSubmit(de, OpProjectDecline, Approval{ID: "p1", Member: lu.name})
	if got := read(de); slices.Contains(got.Partners, lu.name) || len(got.Pending) != 0 {
		t.Fatalf("after a refusal: %+v", got)
	}
	mustSubmit(be, OpProjectJoin, ProjectRef{ID: "p1"})
	mustSubmit(be, OpProjectDecline, Approval{ID: "p1", Member: be.name})
	if got := read(be); len(got.Pending) != 0 {
		t.Fatalf("after a withdrawal: %+v", got)
	}
	mustReject(submit(fr, OpProjectApprove, Approval{ID: "p1", Member: be.name}), "nothing waits")

	// Closing a project drops what waits; nothing can be approved after.
	mustSubmit(lu, OpProjectJoin, ProjectRef{ID: "p2"})
	mustSubmit(be, OpProjectClose, ProjectRef{ID: "p2"})
	mustReject(submit(be, OpProjectApprove, Approval{ID: "p2", Member: lu.name}), "closed")
	if p2, _ := be.reg.Project("p2"); len(p2.Pending) != 0 || slices.Contains(p2.Partners, lu.name) {
		t.Fatalf("closed project: %+v", p2)
	}
}

// A dataset offered by a member that then joins is attached with the join
// (its owner is now a partner, so the lead's approval is no longer asked
// for it); nobody can keep more than MaxPendingPerMember requests waiting.
func TestAnOfferCompletesWhenItsOwnerJoinsAndRequestsAreBounded(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	c.waitLeader()
	ctx := context.Background()
	fr, de, ch := c.nodes[0], c.nodes[1], c.nodes[2]
	submit := func(tn *tnode, op string, args any) error {
		t.Helper()
		idx, err := tn.reg.Submit(ctx, op, args)
		if err == nil {
			testkit.Eventually(t, 10*time.Second, "applied", func() bool { return tn.reg.AppliedIndex() >= idx })
		}
		return err
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(submit(fr, OpProjectPropose, project("p1", fr.name, de.name)))
	// A refusal callers branch on keeps its kind, on the leader and
	// forwarded from the followers alike.
	for _, tn := range c.nodes {
		if err := submit(tn, OpProjectPropose, project("p1", fr.name, de.name, tn.name)); !errors.Is(err, ErrExists) || errors.Is(err, ErrReplayed) {
			t.Fatalf("%s proposes p1 again: %v", tn.name, err)
		}
	}
	must(submit(ch, OpProjectAttach, DatasetAttachment{ID: "p1", Dataset: ch.name + "/offer"}))
	must(submit(ch, OpProjectJoin, ProjectRef{ID: "p1"}))
	must(submit(fr, OpProjectApprove, Approval{ID: "p1", Member: ch.name}))
	p, err := fr.reg.Project("p1")
	if err != nil || !slices.Contains(p.Partners, ch.name) || !slices.Contains(p.Datasets, ch.name+"/offer") || len(p.Pending) != 0 {
		t.Fatalf("after the join: %+v %v", p, err)
	}

	for i := range MaxPendingPerMember {
		must(submit(ch, OpProjectAttach, DatasetAttachment{ID: "p1", Dataset: fmt.Sprintf("%s/x%d", ch.name, i)}))
	}
	must(submit(fr, OpProjectPropose, project("p2", fr.name, de.name)))
	for i := range MaxPendingPerMember {
		must(submit(ch, OpProjectAttach, DatasetAttachment{ID: "p2", Dataset: fmt.Sprintf("%s/y%d", ch.name, i)}))
	}
	err = submit(ch, OpProjectAttach, DatasetAttachment{ID: "p2", Dataset: ch.name + "/one-too-many"})
	var rej *RejectedError
	if !errors.As(err, &rej) || !strings.Contains(rej.Reason, "requests waiting") {
		t.Fatalf("the request over the bound: %v", err)
	}
}
