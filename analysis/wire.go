package analysis

import (
	"encoding/json"
	"time"

	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
)

// Protocol is the analysis protocol: one frame from the researcher's node,
// one answer from the owner, per round.
const Protocol = "/xborder/analysis/1.0.0"

// Token types: the request an asking node signs, and the contribution an
// owner signs. Neither can be presented as the other, nor as an exchange
// request or grant.
const (
	queryTokenType        = "xborder-analysis-query+jwt"
	contributionTokenType = nodejws.TypeAnalysisContribution
)

// Query is what one owner answers: the researcher's spec narrowed to one
// of the owner's datasets, with the design matrix's columns when it is a
// GLM (agreed by the researcher's node from every owner's dictionary, so
// that every owner builds the same columns).
type Query struct {
	// Analysis is the researcher's node's ID of the whole analysis.
	Analysis  string          `json:"analysis"`
	Dataset   string          `json:"dataset"` // the id, at the owner
	Kind      Kind            `json:"kind"`
	Variables []string        `json:"variables,omitempty"`
	By        string          `json:"by,omitempty"`
	Breaks    []float64       `json:"breaks,omitempty"`
	Family    string          `json:"family,omitempty"`
	Formula   string          `json:"formula,omitempty"`
	Design    *tabular.Design `json:"design,omitempty"`
	Filter    string          `json:"filter,omitempty"`
	Purpose   string          `json:"purpose"`
	Project   string          `json:"project,omitempty"`

	// An evaluation's model (owner/id), its predictor's and parameters'
	// SHA-256 (the bytes travel beside the signed query, in the request
	// frame, and are checked against these), the label column and the
	// evaluation's request.
	Model            string    `json:"model,omitempty"`
	ParametersSHA256 string    `json:"parameters_sha256,omitempty"`
	Label            string    `json:"label,omitempty"`
	Thresholds       []float64 `json:"thresholds,omitempty"`
	Bins             int       `json:"calibration_bins,omitempty"`
	Level            float64   `json:"level,omitempty"`
	// ModuleSHA256 is the program an evaluation (its predictor) or a module
	// run sends to the owner.
	ModuleSHA256 string `json:"module_sha256,omitempty"`
}

// queryClaims are the claims of the signed query a researcher's node sends
// to open an analysis at an owner.
type queryClaims struct {
	Issuer     string            `json:"iss"` // the asking node's peer ID
	Audience   string            `json:"aud"` // the owner's peer ID
	ID         string            `json:"jti"`
	IssuedAt   int64             `json:"iat"`
	Expires    int64             `json:"exp"`
	Researcher policy.Researcher `json:"researcher"`
	Query      Query             `json:"query"`
}

// request is the frame a researcher's node sends: a signed query opens an
// analysis; a session, with the coefficients of the next iteration, goes
// on with a GLM, or ends it.
//
// An opening request of an evaluation carries the predictor and its
// parameters, of a module run the module, beside the token: the query
// names their SHA-256, so the signature covers them. Such a frame may be
// up to MaxOpeningFrame; an owner reads one at a time per
// maxLargeFrames (see Service.handle), since each holds its bytes, and
// their base64 text while decoding, in memory.
type request struct {
	Token      string `json:"token,omitempty"`
	Module     []byte `json:"module,omitempty"`
	Parameters []byte `json:"parameters,omitempty"`

	Session   string    `json:"session,omitempty"`
	Iteration int       `json:"iteration,omitempty"`
	Beta      []float64 `json:"beta,omitempty"`
	Close     bool      `json:"close,omitempty"`
}

// answer is the owner's frame: to an opening, its policy's decision and,
// when allowed, its signed contribution (and a session for a GLM); to a
// GLM iteration, the contribution. A refusal — a request the owner could
// not verify, or an analysis its disclosure rules forbid — has Code and
// Reason instead.
type answer struct {
	Decision     *policy.Decision `json:"decision,omitempty"`
	Session      string           `json:"session,omitempty"`
	Contribution string           `json:"contribution,omitempty"`
	Code         RefusalCode      `json:"code,omitempty"`
	Reason       string           `json:"reason,omitempty"`
}

// Contribution is what an owner releases, signed: the aggregates of one
// dataset for one request (for a GLM, one iteration), bound to the request
// by its digest and to the content by the dataset's SHA-256.
type Contribution struct {
	Analysis      string `json:"analysis"`
	Request       string `json:"request"` // SHA-256 of the Query
	Owner         string `json:"owner"`
	Dataset       string `json:"dataset"`
	DatasetSHA256 string `json:"dataset_sha256"`
	Kind          Kind   `json:"kind"`
	// Rows is the number of rows the aggregates are computed on.
	Rows int `json:"rows"`
	// Limits are the disclosure rules the owner's policy set and its node
	// enforced; Bundle is the policy bundle that set them.
	Limits policy.DisclosureLimits `json:"limits"`
	Bundle string                  `json:"bundle"`
	// Iteration and Beta say which GLM iteration, at which coefficients
	// (none at iteration 0, which starts from the family's initial fit).
	Iteration int       `json:"iteration,omitempty"`
	Beta      []float64 `json:"beta,omitempty"`

	Summary     *stats.Summary    `json:"summary,omitempty"`
	Table       *stats.Table      `json:"table,omitempty"`
	Means       *stats.GroupMeans `json:"means,omitempty"`
	Histogram   *stats.Hist       `json:"histogram,omitempty"`
	Correlation *stats.CorParts   `json:"correlation,omitempty"`
	Partial     *stats.Partial    `json:"partial,omitempty"`

	// An evaluation's model (owner/id) and the programs that ran, and a
	// module run's program. The registry reads "owner", "analysis", "kind"
	// and "model" from the signed claims by those names.
	Model            string `json:"model,omitempty"`
	ModuleSHA256     string `json:"module_sha256,omitempty"`
	ParametersSHA256 string `json:"parameters_sha256,omitempty"`
	// Evaluation is the metrics the owner's node computed from the
	// predictor's scores and its labels; Unscored counts the rows the
	// predictor could not score (an empty line), left out of it, itself
	// withheld when it is below the minimum cell count.
	Evaluation *evaluation.Evaluation `json:"evaluation,omitempty"`
	Unscored   *stats.Cell            `json:"unscored,omitempty"`
	// Output is a module's output as checked against its schema (counts
	// under the minimum replaced by null), and Suppressed names the values
	// so withheld.
	Output     json.RawMessage `json:"output,omitempty"`
	Suppressed []Suppressed    `json:"suppressed,omitempty"`

	IssuedAt time.Time `json:"issued_at"`
}
