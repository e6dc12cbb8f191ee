package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/nodejws"
)

// Result is a finished analysis as a self-contained, verifiable document:
// the spec, the query each owner answered, every contribution as the
// owner signed it, and the combination. Verify recomputes the combination
// from the signed contributions alone.
type Result struct {
	Analysis   string    `json:"analysis"`
	Requester  string    `json:"requester"` // the node that combined
	Researcher string    `json:"researcher"`
	Spec       Spec      `json:"spec"`
	Parts      []Part    `json:"parts"`
	Combined   Combined  `json:"combined"`
	Created    time.Time `json:"created"`
	// Ledger is, for an evaluation on a node with a Ledger, whether its
	// contributions were committed to the registry. It is not part of what
	// Verify checks.
	Ledger *LedgerOutcome `json:"ledger,omitempty"`
}

// LedgerOutcome says whether an evaluation was committed to the registry
// (evaluation.commit), or why not.
type LedgerOutcome struct {
	Committed bool   `json:"committed"`
	Error     string `json:"error,omitempty"`
}

// ModuleOutput is one owner's checked output of a module run.
type ModuleOutput struct {
	Dataset string `json:"dataset"` // owner/id
	Rows    int    `json:"rows"`
	// Output is the output as released (withheld counts are null).
	Output     json.RawMessage `json:"output"`
	Suppressed []Suppressed    `json:"suppressed,omitempty"`
}

// Part is one owner's share: the query it answered and its signed
// contributions (for a GLM, one per iteration, in order).
type Part struct {
	Dataset       string   `json:"dataset"` // owner/id
	Owner         string   `json:"owner"`
	PeerID        string   `json:"peer_id"`
	Query         Query    `json:"query"`
	Contributions []string `json:"contributions"`
}

// Combined is the pooled result, with each region's own released part
// where it has one of its own (counts, summaries), for comparison.
type Combined struct {
	Rows        int               `json:"rows"`
	Summary     *stats.Summary    `json:"summary,omitempty"`
	Table       *stats.Table      `json:"table,omitempty"`
	Means       *stats.GroupMeans `json:"means,omitempty"`
	Histogram   *stats.Hist       `json:"histogram,omitempty"`
	Correlation *stats.CorMatrix  `json:"correlation,omitempty"`
	GLM         *stats.Fit        `json:"glm,omitempty"`
	// Evaluation pools the owners' evaluations of the model; Unscored adds
	// the rows the predictor could not score (withheld when some owner
	// withheld its count: stats.SuppressedInPart).
	Evaluation *evaluation.Pooled `json:"evaluation,omitempty"`
	Unscored   *stats.Cell        `json:"unscored,omitempty"`
	// Modules lists each owner's checked output of a module run, in the
	// order of the parts: a program's outputs have no general way to pool.
	Modules []ModuleOutput `json:"modules,omitempty"`
}

// VerifyError says why a result does not verify.
type VerifyError struct {
	Problem string
}

func (e *VerifyError) Error() string { return "the result does not verify: " + e.Problem }

func verifyErrorf(format string, a ...any) error {
	return &VerifyError{Problem: fmt.Sprintf(format, a...)}
}

// openContribution checks a contribution's signature against the owner's
// peer ID and that it answers the query it is listed with.
func openContribution(token string, part Part, iteration int) (Contribution, error) {
	pid, err := peer.Decode(part.PeerID)
	if err != nil {
		return Contribution{}, fmt.Errorf("peer ID of %s: %w", part.Owner, err)
	}
	var c Contribution
	if err := nodejws.Open(token, pid, contributionTokenType, &c); err != nil {
		return Contribution{}, fmt.Errorf("contribution of %s: %w", part.Dataset, err)
	}
	want, err := digest(part.Query)
	if err != nil {
		return Contribution{}, err
	}
	switch {
	case c.Request != want:
		return Contribution{}, fmt.Errorf("the contribution of %s answers another request (%.12s…, not %.12s…)", part.Dataset, c.Request, want)
	case c.Owner != part.Owner || part.Owner+"/"+c.Dataset != part.Dataset:
		return Contribution{}, fmt.Errorf("the contribution listed for %s is of %s/%s", part.Dataset, c.Owner, c.Dataset)
	case c.Analysis != part.Query.Analysis || c.Kind != part.Query.Kind:
		return Contribution{}, fmt.Errorf("the contribution of %s is of another analysis", part.Dataset)
	case c.Iteration != iteration:
		return Contribution{}, fmt.Errorf("the contribution of %s is of iteration %d, not %d", part.Dataset, c.Iteration, iteration)
	case c.Model != part.Query.Model || c.ModuleSHA256 != part.Query.ModuleSHA256 || c.ParametersSHA256 != part.Query.ParametersSHA256:
		return Contribution{}, fmt.Errorf("the contribution of %s names another model or program than its query", part.Dataset)
	}
	return c, nil
}

// Verify checks every signature of a result and recomputes the combination
// from the contributions; it returns nil only if the combination is
// exactly the one the result states. Whether each peer ID is the member
// the result names is for the caller to check against the registry.
func Verify(ctx context.Context, r Result) error {
	if len(r.Parts) == 0 {
		return verifyErrorf("it lists no contribution")
	}
	var firsts []Contribution
	for _, p := range r.Parts {
		if len(p.Contributions) == 0 {
			return verifyErrorf("%s lists no contribution", p.Dataset)
		}
		c, err := openContribution(p.Contributions[0], p, 0)
		if err != nil {
			return &VerifyError{Problem: err.Error()}
		}
		firsts = append(firsts, c)
	}
	var got Combined
	var err error
	if r.Spec.Kind == KindGLM {
		got, err = replayGLM(ctx, r, firsts)
	} else {
		got, err = combine(r.Spec.Kind, firsts)
	}
	if err != nil {
		return &VerifyError{Problem: err.Error()}
	}
	// Compared as JSON, the form the result travels in (an undefined
	// correlation is null there, and NaN equals nothing in Go).
	want, err := json.Marshal(r.Combined)
	if err != nil {
		return &VerifyError{Problem: err.Error()}
	}
	have, err := json.Marshal(got)
	if err != nil {
		return &VerifyError{Problem: err.Error()}
	}
	if !bytes.Equal(have, want) {
		return verifyErrorf("the combination of the signed contributions differs from the result stated")
	}
	return nil
}

// combine pools one-round contributions, in the order given.
func combine(kind Kind, cs []Contribution) (Combined, error) {
	var out Combined
	for _, c := range cs {
		out.Rows += c.Rows
	}
	missing := func(what string) error { return fmt.Errorf("a contribution has no %s", what) }
	switch kind {
	case KindSummary:
		parts := make([]stats.Summary, 0, len(cs))
		for _, c := range cs {
			if c.Summary == nil {
				return out, missing("summary")
			}
			parts = append(parts, *c.Summary)
		}
		sum, err := stats.CombineSummaries(parts)
		if err != nil {
			return out, err
		}
		out.Summary = &sum
	case KindTable:
		if cs[0].Means != nil {
			parts := make([]stats.GroupMeans, 0, len(cs))
			for _, c := range cs {
				if c.Means == nil {
					return out, missing("means")
				}
				parts = append(parts, *c.Means)
			}
			g, err := stats.CombineGroupMeans(parts)
			if err != nil {
				return out, err
			}
			out.Means = &g
			break
		}
		parts := make([]stats.Table, 0, len(cs))
		for _, c := range cs {
			if c.Table == nil {
				return out, missing("table")
			}
			parts = append(parts, *c.Table)
		}
		t, err := stats.CombineTables(parts)
		if err != nil {
			return out, err
		}
		out.Table = &t
	case KindHistogram:
		parts := make([]stats.Hist, 0, len(cs))
		for _, c := range cs {
			if c.Histogram == nil {
				return out, missing("histogram")
			}
			parts = append(parts, *c.Histogram)
		}
		h, err := stats.CombineHists(parts)
		if err != nil {
			return out, err
		}
		out.Histogram = &h
	case KindCorrelation:
		parts := make([]stats.CorParts, 0, len(cs))
		for _, c := range cs {
			if c.Correlation == nil {
				return out, missing("correlation")
			}
			parts = append(parts, *c.Correlation)
		}
		m, err := stats.CombineCorrelation(parts)
		if err != nil {
			return out, err
		}
		out.Correlation = &m
	case KindEvaluate:
		parts := make([]evaluation.Evaluation, 0, len(cs))
		unscored := stats.Cell{}
		for _, c := range cs {
			if c.Evaluation == nil || c.Unscored == nil {
				return out, missing("evaluation")
			}
			parts = append(parts, *c.Evaluation)
			if c.Unscored.Suppressed != "" {
				unscored.Suppressed = stats.SuppressedInPart
			}
			unscored.Count += c.Unscored.Count
		}
		if unscored.Suppressed != "" {
			unscored.Count = 0
		}
		p, err := evaluation.Pool(parts)
		if err != nil {
			return out, err
		}
		out.Evaluation, out.Unscored = &p, &unscored
	case KindModule:
		for _, c := range cs {
			if len(c.Output) == 0 {
				return out, missing("module output")
			}
			out.Modules = append(out.Modules, ModuleOutput{Dataset: c.Owner + "/" + c.Dataset, Rows: c.Rows, Output: c.Output, Suppressed: c.Suppressed})
		}
	default:
		return out, fmt.Errorf("unknown analysis %q", kind)
	}
	if err := checkFinite(out); err != nil {
		return Combined{}, err
	}
	return out, nil
}

// checkFinite refuses a combination JSON cannot carry. Each owner's
// figures are finite (they came as JSON), but a faulty or hostile owner
// can sign figures at the edge of the float range that overflow once
// combined; such a result could be neither stored, nor shown, nor verified.
func checkFinite(c Combined) error {
	if _, err := json.Marshal(c); err != nil {
		return &stats.InputError{Field: "contributions",
			Detail: "the owners' figures combine into values that are not finite numbers: some owner released figures out of any plausible range"}
	}
	return nil
}

// replayGLM reruns the IRLS loop on the signed partials: every iteration's
// coefficients must be the ones the owners were sent, and the fit at the
// end the one stated.
func replayGLM(ctx context.Context, r Result, firsts []Contribution) (Combined, error) {
	fam, err := stats.ParseFamily(r.Spec.Family)
	if err != nil {
		return Combined{}, err
	}
	design := r.Parts[0].Query.Design
	if design == nil {
		return Combined{}, errors.New("the GLM's query has no design")
	}
	names := designNames(*design)
	rows := 0
	for _, c := range firsts {
		rows += c.Rows
	}
	partial := func(_ context.Context, iteration int, beta []float64) (stats.Partial, error) {
		parts := make([]stats.Partial, 0, len(r.Parts))
		for i, p := range r.Parts {
			if iteration >= len(p.Contributions) {
				return stats.Partial{}, fmt.Errorf("%s lists %d iterations, the fit needs %d", p.Dataset, len(p.Contributions), iteration+1)
			}
			c := firsts[i]
			if iteration > 0 {
				if c, err = openContribution(p.Contributions[iteration], p, iteration); err != nil {
					return stats.Partial{}, err
				}
				if !slices.Equal(c.Beta, beta) {
					return stats.Partial{}, fmt.Errorf("%s was sent other coefficients at iteration %d than the fit computes", p.Dataset, iteration)
				}
			}
			if c.Partial == nil {
				return stats.Partial{}, fmt.Errorf("%s's contribution to iteration %d has no partial", p.Dataset, iteration)
			}
			parts = append(parts, *c.Partial)
		}
		return stats.Sum(parts)
	}
	fit, err := stats.Run(ctx, fam, names, partial, glmOptions(firsts))
	if err != nil {
		return Combined{}, err
	}
	out := Combined{Rows: rows, GLM: &fit}
	return out, checkFinite(out)
}

// glmOptions are the settings every fit runs with, researcher's node and
// verifier alike: the smallest iteration limit among the owners'.
func glmOptions(firsts []Contribution) stats.Options {
	limit := firsts[0].Limits.MaxIterations
	for _, c := range firsts[1:] {
		limit = min(limit, c.Limits.MaxIterations)
	}
	return stats.Options{MaxIterations: limit}
}

// designNames are the coefficients' names, in the design's order.
func designNames(d tabular.Design) []string {
	out := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		out[i] = c.Name
	}
	return out
}
