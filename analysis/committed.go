package analysis

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/internal/frame"
)

// CommittedEvaluation is a model's evaluation as the registry holds it
// (evaluation.commit): each region's signed part read back, and the parts
// pooled. It is what the catalogue, the console and the DCAT export show
// of a model's performance.
type CommittedEvaluation struct {
	Model       string             `json:"model"`
	Analysis    string             `json:"analysis"`
	CommittedBy string             `json:"committed_by"`
	Committed   time.Time          `json:"committed"`
	Regions     []RegionEvaluation `json:"regions"`
	// Pooled is the regions' parts combined; nil, with Problem, when they
	// do not combine (they always do for an evaluation this node ran).
	Pooled  *evaluation.Pooled `json:"pooled,omitempty"`
	Problem string             `json:"problem,omitempty"`
}

// RegionEvaluation is one data owner's signed evaluation of the model.
type RegionEvaluation struct {
	Owner        string                `json:"owner"`
	Dataset      string                `json:"dataset"`
	Rows         int                   `json:"rows"`
	ModuleSHA256 string                `json:"module_sha256"`
	Evaluation   evaluation.Evaluation `json:"evaluation"`
	Unscored     stats.Cell            `json:"unscored"`
	IssuedAt     time.Time             `json:"issued_at"`
}

// ReadCommittedEvaluation reads the signed contributions of a committed
// evaluation, in the order given. It does not verify their signatures:
// the registry verified each against its owner's key before it committed
// them, and every member applies the same check. A token that does not
// read as an evaluation is reported in Problem and left out.
func ReadCommittedEvaluation(model, id, by string, committed time.Time, tokens []string) CommittedEvaluation {
	ce := CommittedEvaluation{Model: model, Analysis: id, CommittedBy: by, Committed: committed, Regions: []RegionEvaluation{}}
	var problems []string
	var parts []evaluation.Evaluation
	for _, tok := range tokens {
		c, err := contributionClaims(tok)
		if err == nil && (c.Kind != KindEvaluate || c.Evaluation == nil) {
			err = errors.New("not an evaluation")
		}
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		r := RegionEvaluation{Owner: c.Owner, Dataset: c.Owner + "/" + c.Dataset, Rows: c.Rows, ModuleSHA256: c.ModuleSHA256,
			Evaluation: *c.Evaluation, IssuedAt: c.IssuedAt}
		if c.Unscored != nil {
			r.Unscored = *c.Unscored
		}
		ce.Regions = append(ce.Regions, r)
		parts = append(parts, *c.Evaluation)
	}
	slices.SortFunc(ce.Regions, func(a, b RegionEvaluation) int { return strings.Compare(a.Owner, b.Owner) })
	if len(parts) > 0 {
		p, err := evaluation.Pool(parts)
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			ce.Pooled = &p
		}
	}
	ce.Problem = strings.Join(problems, "; ")
	return ce
}

// ReadContribution decodes a signed contribution's claims without
// verifying its signature: for showing what a stored result, already
// verified (Verify), or a committed evaluation holds.
func ReadContribution(token string) (Contribution, error) { return contributionClaims(token) }

// contributionClaims decodes a signed contribution's claims without
// verifying the signature (see ReadCommittedEvaluation).
func contributionClaims(token string) (Contribution, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Contribution{}, errors.New("a contribution is not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Contribution{}, fmt.Errorf("a contribution's payload: %w", err)
	}
	var c Contribution
	if err := frame.Decode(raw, &c); err != nil {
		return Contribution{}, err
	}
	return c, nil
}
