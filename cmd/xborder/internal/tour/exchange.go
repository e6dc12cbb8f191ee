package tour

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

// exchange: a researcher in Baden-Württemberg asks Grand Est for
// sensitive health data, is refused with the reasons, Grand Est registers
// the Franco-German project that covers it, the request is allowed and
// the transfer verified; then Basel joins the project.
func (t *tour) exchange(ctx context.Context) error {
	fr, de := t.byName["fr-grandest"], t.byName["de-bw"]
	alice, err := de.Researcher("alice@uni-freiburg.de", "Universität Freiburg")
	if err != nil {
		return err
	}
	req := api.AccessRequest{Owner: "fr-grandest", ID: "icu-admissions-2025", Purpose: "research"}

	t.p.Printf("\nCross-border request (alice@uni-freiburg.de, researcher at de-bw):\n")
	st := t.p.Start("request.refused", de.Name)
	var ans api.AccessAnswer
	err = alice.Post(ctx, "/v1/requests", req, &ans)
	var denied *DeniedError
	if !errors.As(err, &denied) {
		return st.Fail(fmt.Errorf("the request without a project should be denied, got %v", err))
	}
	st.OK(Figures{ID: req.Owner + "/" + req.ID})
	t.p.Printf("  without a project: %s\n", indent(denied))

	p := consensus.ProjectProposal{ID: "fr-de-oncology", Title: "Franco-German oncology imaging", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/icu-admissions-2025"}, EthicsRef: "CPP-EST-2026-114"}
	st = t.p.Start("project.propose", fr.Name)
	var res api.Committed
	if err := fr.Admin.Post(ctx, "/v1/projects", p, &res); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest proposes %s: %w", p.ID, err))
	}
	st.OK(Figures{ID: p.ID, Index: res.Index})
	t.p.Printf("  fr-grandest registers %q with de-bw, listing the dataset, ethics approval %s (index %d)\n", p.ID, p.EthicsRef, res.Index)

	req.Project = p.ID
	st = t.p.Start("request.allowed", de.Name)
	// Both the requester's and the owner's replicas read the project.
	if err := applied(ctx, res.Index, de, fr); err != nil {
		return st.Fail(fmt.Errorf("the request within the project: %w", err))
	}
	if err := alice.Post(ctx, "/v1/requests", req, &ans); err != nil {
		return st.Fail(fmt.Errorf("the request within the project: %w", err))
	}
	st.OK(Figures{ID: req.Owner + "/" + req.ID})
	t.p.Printf("  within the project: allowed (%s)\n", strings.Join(ans.Rules, ", "))
	for _, o := range ans.Obligations {
		t.p.Printf("    obligation: %s\n", o)
	}
	st = t.p.Start("transfer", de.Name)
	job, err := fetch(ctx, alice, req)
	if err != nil {
		return st.Fail(err)
	}
	st.OK(Figures{ID: job.ID, Bytes: job.Size})
	t.p.Printf("  fetched %d bytes peer to peer, sha256 %.16s… verified\n", job.Size, job.SHA256)
	return t.approvedJoin(ctx, t.byName["ch-basel"], fr, p.ID, res.Index, req)
}

// approvedJoin: Basel asks to join the Franco-German project; until the
// lead (who owns the dataset) approves, Basel's researcher is refused;
// after the approval the same request is allowed. proposed is the index
// the project was committed at.
func (t *tour) approvedJoin(ctx context.Context, ch, fr Node, project string, proposed uint64, req api.AccessRequest) error {
	bob, err := ch.Researcher("bob@unibas.ch", "Universität Basel")
	if err != nil {
		return err
	}
	t.p.Printf("\nJoining a project (bob@unibas.ch, researcher at ch-basel):\n")
	st := t.p.Start("project.join", ch.Name)
	var p api.ProjectAnswer
	if err := readAt(ctx, ch, "/v1/projects/"+project, proposed, &p); err != nil {
		return st.Fail(fmt.Errorf("ch-basel reads %s: %w", project, err))
	}
	var res api.Committed
	if err := ch.Admin.Post(ctx, "/v1/projects/"+project+"/join", struct{}{}, &res); err != nil {
		return st.Fail(fmt.Errorf("ch-basel asks to join %s: %w", project, err))
	}
	if err := ch.Admin.Get(ctx, "/v1/projects/"+project, &p); err != nil {
		return st.Fail(err)
	}
	awaiting := ""
	for _, c := range p.Pending {
		if c.Kind == consensus.PendingJoin && c.Member == "ch-basel" {
			awaiting = strings.Join(c.Awaiting, ", ")
		}
	}
	if awaiting == "" || slices.Contains(p.Project.Partners, "ch-basel") {
		return st.Fail(fmt.Errorf("ch-basel's join should be pending, the project is %+v", p))
	}
	st.OK(Figures{ID: project, Index: res.Index})
	t.p.Printf("  ch-basel asks to join %q (index %d): pending until %s approves\n", project, res.Index, awaiting)

	st = t.p.Start("request.refused", ch.Name)
	var ans api.AccessAnswer
	err = bob.Post(ctx, "/v1/requests", req, &ans)
	var denied *DeniedError
	if !errors.As(err, &denied) {
		return st.Fail(fmt.Errorf("a pending member's request should be denied, got %v", err))
	}
	st.OK(Figures{ID: req.Owner + "/" + req.ID})
	t.p.Printf("  while pending: %s\n", indent(denied))

	st = t.p.Start("project.approve", fr.Name)
	// The lead approves from its own replica, once that has the request.
	var q api.ProjectAnswer
	if err := readAt(ctx, fr, "/v1/projects/"+project, res.Index, &q); err != nil {
		return st.Fail(err)
	}
	if _, pending := q.Project.PendingJoin("ch-basel"); !pending {
		return st.Fail(fmt.Errorf("fr-grandest's replica does not have the join (applied index %d of %d)", q.AppliedIndex, res.Index))
	}
	if err := fr.Admin.Post(ctx, "/v1/projects/"+project+"/approve", api.ApproveRequest{Member: "ch-basel"}, &res); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest approves ch-basel: %w", err))
	}
	st.OK(Figures{ID: project, Index: res.Index})
	t.p.Printf("  fr-grandest's policy allows the approval; fr-grandest approves (index %d): ch-basel is a partner\n", res.Index)

	st = t.p.Start("request.allowed", ch.Name)
	if err := applied(ctx, res.Index, ch, fr); err != nil {
		return st.Fail(fmt.Errorf("the request after the approval: %w", err))
	}
	if err := bob.Post(ctx, "/v1/requests", req, &ans); err != nil {
		return st.Fail(fmt.Errorf("the request after the approval: %w", err))
	}
	st.OK(Figures{ID: req.Owner + "/" + req.ID})
	t.p.Printf("  after the approval: allowed (%s)\n", strings.Join(ans.Rules, ", "))
	return nil
}

// applied waits until each node's replica has applied index.
func applied(ctx context.Context, index uint64, nodes ...Node) error {
	for _, n := range nodes {
		var l api.ProjectList
		if err := readAt(ctx, n, "/v1/projects", index, &l); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		if l.AppliedIndex < index {
			return fmt.Errorf("%s's replica has applied index %d of %d after %v", n.Name, l.AppliedIndex, index, replicaWait)
		}
	}
	return nil
}

// fetch starts a fetch and follows the transfer to its end. The API has
// no read that blocks until a transfer ends, hence Retry.
func fetch(ctx context.Context, c API, req api.AccessRequest) (exchange.JobStatus, error) {
	var job exchange.JobStatus
	if err := c.Post(ctx, "/v1/fetch", req, &job); err != nil {
		return job, err
	}
	err := Retry(ctx, replicaWait, DefaultBackoff, func() (bool, error) {
		if job.State != exchange.JobRunning {
			return true, nil
		}
		return false, c.Get(ctx, "/v1/transfers/"+job.ID, &job)
	})
	if errors.Is(err, ErrGaveUp) {
		return job, fmt.Errorf("transfer %s still running after %v", job.ID, replicaWait)
	}
	if err != nil {
		return job, err
	}
	if job.State != exchange.JobDone {
		return job, fmt.Errorf("transfer failed: %s", job.Error)
	}
	return job, nil
}
