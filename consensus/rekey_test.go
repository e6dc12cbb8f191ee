package consensus

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/testkit"
)

// fsmLog drives an FSM directly, one command per entry, so that the
// refusals of a re-key are checked entry by entry without raft.
type fsmLog struct {
	t       *testing.T
	f       *fsm
	index   uint64
	ts      int64
	changes []MembershipChange
}

func newFSMLog(t *testing.T, genesis []Member) *fsmLog {
	f, err := openFSM(filepath.Join(t.TempDir(), "registry.db"), genesis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.close() })
	l := &fsmLog{t: t, f: f, ts: 1_764_000_000_000}
	f.onChange = func(ch MembershipChange) { l.changes = append(l.changes, ch) }
	return l
}

// apply signs op with tn's key (or key/id given) and applies it as the
// next entry; it returns the FSM's answer for it and the entry's index.
func (l *fsmLog) apply(tn *tnode, op string, args any) (uint64, error) {
	l.t.Helper()
	signed, err := SignCommand(tn.key, tn.id, op, args, l.ts)
	if err != nil {
		l.t.Fatal(err)
	}
	l.ts += 1000
	l.index++
	data := []byte(fmt.Sprintf(`{"cmds":[%q]}`, signed))
	return l.index, l.f.Apply(&raft.Log{Index: l.index, Type: raft.LogCommand, Data: data}).([]error)[0]
}

func (l *fsmLog) member(name string) Member {
	l.t.Helper()
	var m Member
	if err := l.f.view(func(tx *bolt.Tx) (err error) { m, err = get[Member](tx, bMembers, name); return err }); err != nil {
		l.t.Fatal(err)
	}
	return m
}

func mustRefuse(t *testing.T, err error, says string) {
	t.Helper()
	var rej *RejectedError
	if !errors.As(err, &rej) || !strings.Contains(rej.Reason, says) {
		t.Fatalf("got %v, want a refusal saying %q", err, says)
	}
}

func TestRekeyMajority(t *testing.T) {
	for n, want := range map[int]int{2: 1, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4} {
		if got := RekeyMajority(n); got != want {
			t.Errorf("RekeyMajority(%d) = %d, want %d", n, got, want)
		}
	}
}

// The FSM's rules of a re-key: who proposes and votes, which keys, how
// many votes, and the old key refused from the deciding entry on.
func TestRekeyNeedsTheOtherMembersAndRefusesTheOldKeyFromItsEntryOn(t *testing.T) {
	c := newCluster(t, 6, 4) // founders a, b, c, x; then x's new key and a stranger
	a, b, cc, x := c.nodes[0], c.nodes[1], c.nodes[2], c.nodes[3]
	next := &tnode{name: x.name, key: c.nodes[4].key, id: c.nodes[4].id}
	stranger := c.nodes[5]
	l := newFSMLog(t, c.genesis)
	rekeyTo := func(name, pid string) MemberChange {
		return MemberChange{Candidate: Member{Name: name, PeerID: pid, Addrs: []string{"/dns4/x.example/tcp/4001"}}, Action: ActionRekey}
	}
	before := l.member(x.name)

	_, err := l.apply(a, OpMemberPropose, rekeyTo("nl-limburg", next.id.String()))
	mustRefuse(t, err, "nl-limburg is not a member")
	_, err = l.apply(x, OpMemberPropose, rekeyTo(x.name, next.id.String()))
	mustRefuse(t, err, "may not propose replacing its own key")
	_, err = l.apply(a, OpMemberPropose, rekeyTo(x.name, b.id.String()))
	mustRefuse(t, err, "is or was the key of "+b.name)
	_, err = l.apply(a, OpMemberPropose, rekeyTo(x.name, x.id.String()))
	mustRefuse(t, err, "already the key of")
	_, err = l.apply(a, OpMemberPropose, rekeyTo(x.name, "12D3KooWnot-a-peer-id"))
	mustRefuse(t, err, "is not a peer ID")
	moved := rekeyTo(x.name, next.id.String())
	moved.Candidate.Country = "US"
	_, err = l.apply(a, OpMemberPropose, moved)
	mustRefuse(t, err, "keeps the member's country")
	moved = rekeyTo(x.name, next.id.String())
	moved.Candidate.Org = "Someone else"
	_, err = l.apply(a, OpMemberPropose, moved)
	mustRefuse(t, err, "keeps the member's organisation")
	_, err = l.apply(a, OpMemberPropose, MemberChange{Candidate: before, Action: "merge"})
	mustRefuse(t, err, "not add, remove or rekey")

	// A proposal by a, a yes from b: two of the three others, and four
	// members need three.
	if _, err := l.apply(a, OpMemberPropose, rekeyTo(x.name, next.id.String())); err != nil {
		t.Fatal(err)
	}
	_, err = l.apply(x, OpMemberVote, Vote{Candidate: x.name, Vote: "no"})
	mustRefuse(t, err, "may not vote on replacing its own key")
	if _, err := l.apply(b, OpMemberVote, Vote{Candidate: x.name, Vote: "yes"}); err != nil {
		t.Fatal(err)
	}
	if got := l.member(x.name); got.PeerID != x.id.String() || len(l.changes) != 0 {
		t.Fatalf("re-keyed with two of four votes: %+v", got)
	}
	_, err = l.apply(next, OpAnchorPut, AnchorArgs{Seq: 1, Head: head(1)})
	mustRefuse(t, err, "is not a member of the federation")
	// The old key still speaks for x until the deciding entry.
	if _, err := l.apply(x, OpAnchorPut, AnchorArgs{Seq: 5, Head: head(5)}); err != nil {
		t.Fatal(err)
	}
	voteTS := l.ts
	decided, err := l.apply(cc, OpMemberVote, Vote{Candidate: x.name, Vote: "yes"})
	if err != nil {
		t.Fatal(err)
	}

	got := l.member(x.name)
	want := before
	want.PeerID, want.Addrs = next.id.String(), []string{"/dns4/x.example/tcp/4001"}
	want.FormerKeys = []FormerKey{{PeerID: x.id.String(), Since: 0, Until: voteTS, UntilIndex: decided}}
	if fmt.Sprint(got) != fmt.Sprint(want) || got.KeySince() != voteTS || !got.HeldKey(x.id.String()) {
		t.Fatalf("re-keyed member\n got %+v\nwant %+v", got, want)
	}
	if len(l.changes) != 1 || l.changes[0].FormerPeerID != x.id.String() || l.changes[0].Member.PeerID != next.id.String() || l.changes[0].Added {
		t.Fatalf("membership changes %+v", l.changes)
	}

	// From the deciding entry on, the old key is refused, and says why.
	_, err = l.apply(x, OpAnchorPut, AnchorArgs{Seq: 6, Head: head(6)})
	mustRefuse(t, err, fmt.Sprintf("re-key vote replaced it (index %d)", decided))
	_, err = l.apply(x, OpMemberVote, Vote{Candidate: "anyone", Vote: "yes"})
	mustRefuse(t, err, "no longer a member's key")
	// The new key continues x's chain of anchors.
	var latest Anchor
	_ = l.f.view(func(tx *bolt.Tx) (err error) { latest, err = get[Anchor](tx, bAnchors, x.name); return err })
	if _, err := l.apply(next, OpAnchorPut, AnchorArgs{Seq: 9, Head: head(9), Prev: latest.ID}); err != nil {
		t.Fatal(err)
	}
	var chain []Anchor
	_ = l.f.view(func(tx *bolt.Tx) (err error) { chain, err = anchorChain(tx, x.name); return err })
	if len(chain) != 2 || VerifyAnchorChain(chain) != nil {
		t.Fatalf("x's anchors across the re-key: %+v", chain)
	}

	// A replaced key never comes back: not to x, not to a newcomer.
	_, err = l.apply(a, OpMemberPropose, rekeyTo(x.name, x.id.String()))
	mustRefuse(t, err, "is or was the key of "+x.name)
	_, err = l.apply(a, OpMemberPropose, MemberChange{Candidate: Member{Name: "nl-limburg", Country: "NL", Org: "Limburg", PeerID: x.id.String()}, Action: ActionAdd})
	mustRefuse(t, err, "already belongs to a member ("+x.name+")")

	// A second re-key: one no of the three others makes three yes votes
	// impossible, and drops it; x keeps its key.
	if _, err := l.apply(a, OpMemberPropose, rekeyTo(x.name, stranger.id.String())); err != nil {
		t.Fatal(err)
	}
	if _, err := l.apply(b, OpMemberVote, Vote{Candidate: x.name, Vote: "no"}); err != nil {
		t.Fatal(err)
	}
	var props []Proposal
	_ = l.f.view(func(tx *bolt.Tx) (err error) { props, err = list[Proposal](tx, bProposals); return err })
	if len(props) != 0 || l.member(x.name).PeerID != next.id.String() {
		t.Fatalf("a re-key voted down: proposals %+v, member %+v", props, l.member(x.name))
	}
}

// A re-key on a real cluster whose leader is the member re-keyed (its key
// stolen, the node still running): the leader leaves raft, the other two
// decide, the old key's commands are refused everywhere, and the member's
// new node, started from nothing, catches up, writes and extends the
// member's chain of anchors.
func TestRekeyedLeaderLeavesRaftAndTheNewNodeCatchesUp(t *testing.T) {
	c := newCluster(t, 4, 3)
	c.openAll(3)
	x := c.waitLeader()
	ctx := context.Background()
	var others []*tnode
	for _, tn := range c.nodes[:3] {
		if tn != x {
			others = append(others, tn)
		}
	}
	idx, err := x.reg.Submit(ctx, OpAnchorPut, AnchorArgs{Seq: 3, Head: head(3)})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.reg.WaitApplied(ctx, idx); err != nil {
		t.Fatal(err)
	}
	first, _ := x.reg.Anchor(x.name)

	next := c.nodes[3]
	next.name = x.name
	c.open(next) // no raft state, not in the genesis: it waits
	rekey := MemberChange{Candidate: Member{Name: x.name, PeerID: next.id.String()}, Action: ActionRekey}
	if _, err := others[0].reg.Submit(ctx, OpMemberPropose, rekey); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, others[1].name+" sees the proposal", func() bool {
		props, _ := others[1].reg.Proposals()
		return len(props) == 1
	})
	decided, err := others[1].reg.Submit(ctx, OpMemberVote, Vote{Candidate: x.name, Vote: "yes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range c.nodes {
		testkit.Eventually(t, 30*time.Second, tn.name+" lists the new key", func() bool {
			return tn.reg.IsMember(next.id) && !tn.reg.IsMember(x.id)
		})
	}
	// raft: the old key's server gone, the new one a voter, as x was.
	testkit.Eventually(t, 30*time.Second, "raft's voters are the members' keys", func() bool {
		l := c.leader()
		if l == nil || l == x {
			return false
		}
		v := l.reg.Status().Voters
		return len(v) == 3 && slices.Contains(v, next.id.String()) && !slices.Contains(v, x.id.String())
	})
	// The old key is refused, however its command reaches the leader.
	old, err := SignCommand(x.key, x.id, OpAnchorPut, AnchorArgs{Seq: 4, Head: head(4), Prev: first.ID}, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	_, err = others[0].reg.submitSigned(ctx, old)
	mustRefuse(t, err, fmt.Sprintf("re-key vote replaced it (index %d)", decided))

	// The new node has the registry and speaks for the member.
	testkit.Eventually(t, 30*time.Second, "the new node catches up", c.sameState(others[0], others[1], next))
	idx, err = next.reg.Submit(ctx, OpAnchorPut, AnchorArgs{Seq: 8, Head: head(8), Prev: first.ID})
	if err != nil {
		t.Fatalf("the new key cannot write: %v", err)
	}
	if err := others[0].reg.WaitApplied(ctx, idx); err != nil {
		t.Fatal(err)
	}
	chain, err := others[0].reg.Anchors(x.name)
	if err != nil || len(chain) != 2 || VerifyAnchorChain(chain) != nil {
		t.Fatalf("the member's anchors across the re-key: %+v %v", chain, err)
	}
	m, _ := memberNamed(others[0].reg, x.name)
	if !m.Voter || !m.Founding || len(m.FormerKeys) != 1 || m.FormerKeys[0].PeerID != x.id.String() || m.FormerKeys[0].UntilIndex != decided {
		t.Fatalf("re-keyed member %+v", m)
	}
}

// The member's key is lost with its node down; the two others re-key it,
// and its operator starts the node again from the same data dir with the
// new key: it catches up from its old raft state and writes.
func TestRekeyedMemberRestartsFromItsDataDirWithTheNewKey(t *testing.T) {
	c := newCluster(t, 4, 3)
	c.openAll(3)
	leader := c.waitLeader()
	ctx := context.Background()
	x := followerOf(c, leader)
	var others []*tnode
	for _, tn := range c.nodes[:3] {
		if tn != x {
			others = append(others, tn)
		}
	}
	if _, err := others[0].reg.Submit(ctx, OpProjectPropose, project("before", others[0].name, x.name)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, x.name+" has the project", func() bool { _, err := x.reg.Project("before"); return err == nil })
	c.stop(x)

	// One member alone cannot re-key x: its proposal waits for the other.
	newKey := c.nodes[3]
	if _, err := others[0].reg.Submit(ctx, OpMemberPropose, MemberChange{Candidate: Member{Name: x.name, PeerID: newKey.id.String()}, Action: ActionRekey}); err != nil {
		t.Fatal(err)
	}
	if others[0].reg.IsMember(newKey.id) {
		t.Fatal("one of three members re-keyed another alone")
	}
	testkit.Eventually(t, 20*time.Second, others[1].name+" sees the proposal", func() bool {
		props, _ := others[1].reg.Proposals()
		return len(props) == 1
	})
	if _, err := others[1].reg.Submit(ctx, OpMemberVote, Vote{Candidate: x.name, Vote: "yes"}); err != nil {
		t.Fatal(err)
	}
	// The replaced key's server leaves before the new one joins: with x
	// down, two voters of three still commit, and the re-key is applied.
	testkit.Eventually(t, 30*time.Second, "raft drops the old key and adds the new", func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		v := l.reg.Status().Voters
		return len(v) == 3 && slices.Contains(v, newKey.id.String()) && !slices.Contains(v, x.id.String())
	})
	if _, err := others[0].reg.Submit(ctx, OpProjectPropose, project("during", others[0].name, others[1].name)); err != nil {
		t.Fatalf("the federation stopped committing with the new key's node down: %v", err)
	}

	// The operator swaps the key in x's data dir and starts the node.
	newKey.name, newKey.dir = x.name, x.dir
	c.stop(newKey)
	c.startHost(newKey)
	c.open(newKey)
	testkit.Eventually(t, 30*time.Second, "the restarted member catches up", c.sameState(others[0], others[1], newKey))
	if _, err := newKey.reg.Submit(ctx, OpProjectJoin, ProjectRef{ID: "during"}); err != nil {
		t.Fatalf("the member cannot write with its new key: %v", err)
	}
}

func memberNamed(r *Registry, name string) (Member, bool) {
	ms, _ := r.Members()
	i := slices.IndexFunc(ms, func(m Member) bool { return m.Name == name })
	if i < 0 {
		return Member{}, false
	}
	return ms[i], true
}
