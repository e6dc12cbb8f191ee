package analysis

import (
	"context"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/policy"
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
