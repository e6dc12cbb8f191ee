package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// A member that joins a project with sensitive health data gets nothing
// until the project's lead, who owns the data, has approved its join on
// its own node; each approval is decided by the approver's policy first.
func TestJoiningAProjectGivesNothingUntilTheLeadApproves(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:3], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	fr, de, ch := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	_, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: "icu-admissions", Title: "ICU admissions", Theme: "health",
		Classification: "sensitive", PersonalData: true, FileName: "icu.csv"}, strings.NewReader("2025-01-01,CHU-1,40-49,3\n"))
	must(t, err)
	p := consensus.ProjectProposal{ID: "fr-de-oncology", Title: "Franco-German oncology", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/icu-admissions"}, EthicsRef: "CPP-EST-2026-114"}
	testkit.Eventually(t, 30*time.Second, "the project is committed", func() bool {
		_, err = fr.clerk.Submit(ctx, consensus.OpProjectPropose, p)
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	must(t, err)
	bob := api.User{Subject: "bob@unibas.ch", Org: "Universität Basel", Role: api.RoleResearcher}
	testkit.Eventually(t, 20*time.Second, "ch-basel sees the dataset", func() bool {
		_, err := ch.catalogue.Entry(ctx, "fr-grandest", "icu-admissions")
		return err == nil
	})

	testkit.Eventually(t, 20*time.Second, "ch-basel's replica has the project", func() bool { _, _, err := ch.clerk.Project(ctx, p.ID); return err == nil })

	// Basel asks to join: the command commits, Basel is pending.
	_, err = ch.clerk.Submit(ctx, consensus.OpProjectJoin, consensus.ProjectRef{ID: p.ID})
	must(t, err)
	got, _, err := ch.clerk.Project(ctx, p.ID)
	must(t, err)
	if _, pending := got.PendingJoin("ch-basel"); !pending || slices.Contains(got.Partners, "ch-basel") {
		t.Fatalf("after join: %+v", got)
	}
	// Pending, Basel gets nothing that partners get.
	_, err = ch.exchange.RequestAccess(ctx, bob.Caller(), "fr-grandest", "icu-admissions", "research", p.ID)
	var denied *policy.DeniedError
	if !errors.As(err, &denied) || !slices.Contains(denied.Decision.Rules, "requester_not_in_project") {
		t.Fatalf("request by a pending member: %v", err)
	}
	// Approvers decide from their own replicas: each must have the join
	// before its answer means anything (the lead need not be the leader).
	for _, n := range []*Node{fr, de} {
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+"'s replica has the pending join", func() bool {
			got, _, err := n.clerk.Project(ctx, p.ID)
			_, pending := got.PendingJoin("ch-basel")
			return err == nil && pending
		})
	}
	// A partner that is not asked cannot approve (its policy says so first).
	_, err = de.clerk.Submit(ctx, consensus.OpProjectApprove, consensus.Approval{ID: p.ID, Member: "ch-basel"})
	if !errors.As(err, &denied) || !slices.Contains(denied.Decision.Rules, "not_approver") {
		t.Fatalf("approval by a bystander: %v", err)
	}
	// The lead, who owns the dataset, approves: Basel is a partner on
	// every replica, and its researcher's request is allowed.
	_, err = fr.clerk.Submit(ctx, consensus.OpProjectApprove, consensus.Approval{ID: p.ID, Member: "ch-basel"})
	must(t, err)
	for _, n := range nodes {
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+" lists ch-basel as partner", func() bool {
			got, _, err := n.clerk.Project(ctx, p.ID)
			return err == nil && slices.Contains(got.Partners, "ch-basel") && len(got.Pending) == 0
		})
	}
	ans, err := ch.exchange.RequestAccess(ctx, bob.Caller(), "fr-grandest", "icu-admissions", "research", p.ID)
	must(t, err)
	if !ans.Decision.Allow {
		t.Fatalf("request after approval: %+v", ans)
	}
}
