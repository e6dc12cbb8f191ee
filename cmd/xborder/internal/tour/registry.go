package tour

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

// registry: Basel registers a Franco-German-Swiss project and every
// region reads it from its own replica.
func (t *tour) registry(ctx context.Context) error {
	projects := []struct {
		from string
		p    consensus.ProjectProposal
	}{
		{"ch-basel", consensus.ProjectProposal{ID: "upper-rhine-bioeconomy", Title: "Upper Rhine bioeconomy: crop yield models",
			Themes: []string{"bioeconomy", "industry"}, Partners: []string{"ch-basel", "fr-grandest", "de-bw"}}},
	}
	t.p.Printf("\nReplicated registry:\n")
	var last uint64
	for _, pr := range projects {
		st := t.p.Start("project.propose", pr.from)
		var res api.Committed
		var lastErr error
		err := Retry(ctx, replicaWait, DefaultBackoff, func() (bool, error) {
			lastErr = t.byName[pr.from].Admin.Post(ctx, "/v1/projects", pr.p, &res)
			var se *StatusError
			// 503: the registry is still electing its first leader, which
			// the API does not signal.
			if errors.As(lastErr, &se) && se.Status == http.StatusServiceUnavailable {
				return false, nil
			}
			return lastErr == nil, lastErr
		})
		if errors.Is(err, ErrGaveUp) {
			err = lastErr
		}
		if err != nil {
			return st.Fail(fmt.Errorf("%s proposes %s: %w", pr.from, pr.p.ID, err))
		}
		st.OK(Figures{ID: pr.p.ID, Index: res.Index})
		last = max(last, res.Index)
		t.p.Printf("  %s proposed %q (%s), committed at index %d\n", pr.from, pr.p.ID, strings.Join(pr.p.Partners, ", "), res.Index)
	}
	for _, n := range t.nodes {
		st := t.p.Start("project.read", n.Name)
		var l api.ProjectList
		if err := readAt(ctx, n, "/v1/projects", last, &l); err != nil {
			return st.Fail(fmt.Errorf("%s: %w", n.Name, err))
		}
		if len(l.Projects) != len(projects) {
			return st.Fail(fmt.Errorf("%s has %d of %d projects after %v (applied index %d of %d)", n.Name, len(l.Projects), len(projects), replicaWait, l.AppliedIndex, last))
		}
		var s api.Status
		if err := n.Admin.Get(ctx, "/v1/status", &s); err != nil {
			return st.Fail(err)
		}
		role := "?"
		if s.Raft != nil {
			role = s.Raft.State
		}
		st.OK(Figures{Count: len(l.Projects), Index: l.AppliedIndex})
		t.p.Printf("  %-14s sees %d projects in its replica (applied index %d, raft %s)\n", n.Name, len(l.Projects), l.AppliedIndex, role)
	}
	return nil
}

// audit verifies every node's audit trail: the chain, the signatures and,
// once anchored, the head each region committed to the registry.
func (t *tour) audit(ctx context.Context) error {
	t.p.Printf("\nAudit trails:\n")
	for _, n := range t.nodes {
		st := t.p.Start("audit.verify", n.Name)
		var rep audit.Report
		if err := n.Admin.Get(ctx, "/v1/audit/verify", &rep); err != nil {
			return st.Fail(fmt.Errorf("%s: %w", n.Name, err))
		}
		if !rep.OK {
			bad := &AuditBrokenError{Node: n.Name}
			if rep.FirstBad != nil {
				bad.Seq, bad.Reason = rep.FirstBad.Seq, rep.FirstBad.Reason
			}
			return st.Fail(bad)
		}
		st.OK(Figures{Count: int(rep.Records)})
		t.p.Printf("  %-14s %d records, head %.16s: verified\n", n.Name, rep.Records, rep.Head)
	}
	return nil
}
