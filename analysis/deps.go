package analysis

import (
	"context"
	"encoding/json"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/policy"
	"github.com/xborder/xborder/sandbox"
)

// What the analysis service needs from the node that runs it.

// Member is a federation member.
type Member struct {
	Name    string
	Country string
	Org     string
	PeerID  peer.ID
}

// Registry is what the service reads from the replicated registry.
type Registry interface {
	MemberByPeer(p peer.ID) (Member, bool)
	MemberByName(name string) (Member, bool)
	// Project returns a joint project's facts, for the analysis policy.
	Project(id string) (policy.Project, bool)
	// Current returns an error while the replica may be older than what
	// this node already relied on: the owner then decides nothing.
	Current() error
	// Module returns the program with this SHA-256 proposed within a
	// project (module.propose), with the members that approved it.
	Module(project, sha256 string) (Module, bool)
}

// Module kinds: a predictor scores rows for an evaluation (KindEvaluate);
// an analysis program describes the rows it is given (KindModule).
const (
	ModuleKindPredictor = "predictor"
	ModuleKindAnalysis  = "analysis"
)

// Module is a WASI program proposed to a project, as the registry holds
// it: the owners whose data it would visit each approve it (their legal
// review of the code), and its proposer may withdraw it.
type Module struct {
	Project string
	SHA256  string
	Name    string
	// Kind is ModuleKindPredictor or ModuleKindAnalysis.
	Kind string
	// Schema is the output schema an analysis module declares (see
	// ParseSchema); a predictor has none.
	Schema    json.RawMessage
	Approvals []string // member names
	Withdrawn bool
}

// Runner runs a WASI module in the sandbox; *sandbox.Sandbox is one. A node
// without one answers no evaluation and runs no module.
type Runner interface {
	Run(ctx context.Context, bin []byte, in sandbox.Input) (sandbox.Output, error)
}

// Ledger records a model's evaluations in the registry (evaluation.commit):
// the signed contributions, which the registry verifies by their "owner",
// "analysis", "kind" and "model" claims.
type Ledger interface {
	CommitEvaluation(ctx context.Context, model, analysis string, contributions []string) error
}

// Authorizer is the node's policy engine.
type Authorizer interface {
	CatalogueVisible(ctx context.Context, in policy.CatalogueInput) (bool, error)
	Analysis(ctx context.Context, in policy.AnalysisInput) (policy.AnalysisDecision, error)
}

// Recorder writes the audit trail; an action whose record fails does not
// happen.
type Recorder interface {
	Record(typ, subject string, details any) error
}

// Dataset is a catalogue entry as the analyses see it.
type Dataset struct {
	Owner           string
	ID              string
	Kind            string
	Theme           string
	Classification  string
	PersonalData    bool
	RequiresProject bool
	License         string
	Partners        []string
	PublicListing   bool
	SHA256          string
	MediaType       string
	Dictionary      *tabular.Dictionary
	// Predictor is, for a model entry (Kind "model"), the WASI program that
	// scores rows with the model; the entry's own SHA256 is then its
	// parameters file, given to the predictor on standard input.
	Predictor *Predictor
}

// Predictor names a model's scoring program: its SHA-256, and the dataset
// columns it reads (as the model card names them), which are all it is
// shown of a row.
type Predictor struct {
	SHA256 string   `json:"sha256"`
	Inputs []string `json:"inputs"`
}

// Ref is the federation-wide name of the dataset.
func (d Dataset) Ref() string { return d.Owner + "/" + d.ID }

// Datasets is the node's catalogue.
type Datasets interface {
	// Own returns one of this node's own entries, not withdrawn.
	Own(id string) (Dataset, bool)
	// Listed returns an entry this node's catalogue holds, its own or a
	// partner's as that partner shows it, not withdrawn.
	Listed(owner, id string) (Dataset, bool)
	// Open opens the content with this SHA-256.
	Open(sha256 string) (Content, error)
}

// Content is a dataset's stored content. It is read at offsets, not as a
// stream: a Parquet file's schema and index are at its end.
type Content interface {
	io.ReaderAt
	io.Closer
	// Size is the content's length in bytes.
	Size() int64
}
