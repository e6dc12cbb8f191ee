package node

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/policy"
)

func TestProjectProposedInBaselAppearsEverywhere(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))
	basel := nodes[2]
	ctx := context.Background()
	p := consensus.ProjectProposal{ID: "upper-rhine-bioeconomy", Title: "Upper Rhine crop models", Themes: []string{"bioeconomy"},
		Partners: []string{"ch-basel", "fr-grandest", "de-bw"}}
	var err error
	testkit.Eventually(t, 30*time.Second, "the registry accepts the project", func() bool {
		_, err = basel.clerk.Submit(ctx, consensus.OpProjectPropose, p)
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+" sees the project", func() bool {
			got, _, err := n.clerk.Project(ctx, p.ID)
			return err == nil && got.Lead == "ch-basel"
		})
	}
	// This node's policy refuses a project within one country before
	// anything is proposed.
	_, err = basel.clerk.Submit(ctx, consensus.OpProjectPropose, consensus.ProjectProposal{ID: "swiss-only", Title: "T",
		Themes: []string{"health"}, Partners: []string{"ch-basel"}})
	var denied *policy.DeniedError
	if !errors.As(err, &denied) || len(denied.Decision.Reasons) == 0 {
		t.Fatalf("one-country project: %v", err)
	}
}

func TestASixthRegionIsVotedInAndJoinsTheMesh(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))

	// The candidate initialises its node and runs it with the federation's
	// genesis; nobody lets it in yet.
	dir := filepath.Join(t.TempDir(), "nl-limburg")
	cfg := testConfig(t, "nl-limburg")
	cfg.Country = "NL"
	if _, err := Init(dir, cfg, xborder.Policies()); err != nil {
		t.Fatal(err)
	}
	must(t, writeFile(cfg.GenesisPath(dir), f.gen.Marshal()))
	card, err := IdentityCard(dir, cfg)
	must(t, err)
	candidate, err := Open(dir, cfg, WithLogger(testLogger(t, "nl-limburg")))
	must(t, err)
	must(t, candidate.Start(context.Background()))
	t.Cleanup(func() { _ = candidate.Close() })
	if candidate.mesh.connectedCount() != 0 {
		t.Fatal("a candidate got in before any vote")
	}

	ctx := context.Background()
	m := consensus.Member{Name: card.Name, Country: card.Country, Org: card.Org, PeerID: card.PeerID, Addrs: card.Addrs}
	testkit.Eventually(t, 30*time.Second, "the proposal is committed", func() bool {
		_, err = nodes[0].clerk.Submit(ctx, consensus.OpMemberPropose, consensus.MemberChange{Candidate: m, Action: "add"})
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	must(t, err)
	for _, voter := range nodes[1:3] {
		// A voter reads the proposal from its own replica.
		testkit.Eventually(t, 20*time.Second, voter.cfg.Name+" sees the proposal", func() bool {
			_, props, _, err := voter.clerk.Members(ctx)
			return err == nil && len(props) == 1
		})
		_, err := voter.clerk.Submit(ctx, consensus.OpMemberVote, consensus.Vote{Candidate: "nl-limburg", Vote: "yes"})
		must(t, err)
	}
	all := append(nodes, candidate)
	testkit.Eventually(t, 60*time.Second, "six members in a full mesh", fullMesh(all))
	testkit.Eventually(t, 60*time.Second, "the new member replicates the registry", func() bool {
		ms, _, _, err := candidate.clerk.Members(ctx)
		return err == nil && len(ms) == 6
	})
	if st := candidate.Status(ctx); st.Raft == nil || len(st.Raft.Voters) != 6 {
		t.Fatalf("raft after admission: %+v", st.Raft)
	}
}
