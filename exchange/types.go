package exchange

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/policy"
)

// Kinds of catalogue entries.
const (
	KindDataset = "dataset"
	KindModel   = "model"
)

// Classifications, from least to most protected.
var Classifications = []string{"open", "restricted", "sensitive", "confidential"}

// Themes are the three priorities of the Grand Est AI plan.
var Themes = []string{"health", "industry", "bioeconomy"}

// Entry is one catalogue entry: DCAT-AP metadata of a dataset or model and
// the digest of its content.
type Entry struct {
	ID              string    `json:"id"`
	Kind            string    `json:"kind"`
	Title           string    `json:"title"`
	Description     string    `json:"description"`
	Owner           string    `json:"owner"`     // member name
	Publisher       string    `json:"publisher"` // the owner's organisation
	Country         string    `json:"country"`
	Theme           string    `json:"theme"`
	Classification  string    `json:"classification"`
	Partners        []string  `json:"partners"` // named partners of a confidential entry
	PersonalData    bool      `json:"personal_data"`
	RequiresProject bool      `json:"requires_project"`
	License         string    `json:"license"`
	Keywords        []string  `json:"keywords"`
	MediaType       string    `json:"media_type"`
	Size            int64     `json:"size"`
	SHA256          string    `json:"sha256"`
	Issued          time.Time `json:"issued"`
	Modified        time.Time `json:"modified"`
	// Version is the owner's catalogue version at the entry's last change.
	Version uint64 `json:"version"`
	// Withdrawn marks a tombstone: the owner removed the entry.
	Withdrawn bool `json:"withdrawn,omitempty"`
	// Model is the model card of a model entry.
	Model *ModelCard `json:"model,omitempty"`
}

// Ref is the federation-wide name of an entry.
func (e Entry) Ref() string { return e.Owner + "/" + e.ID }

// Member is a federation member as the exchange sees it.
type Member struct {
	Name    string
	Country string
	Org     string
	PeerID  peer.ID
}

// Authorizer is the node's policy engine, as the exchange consumes it.
type Authorizer interface {
	CatalogueVisible(ctx context.Context, in policy.CatalogueInput) (bool, error)
	Exchange(ctx context.Context, in policy.ExchangeInput) (policy.Decision, error)
}

// Registry is what the exchange reads from the replicated registry.
type Registry interface {
	// MemberByPeer names the member a peer ID belongs to.
	MemberByPeer(p peer.ID) (Member, bool)
	// MemberByName finds a member, to address a request to its node.
	MemberByName(name string) (Member, bool)
	// Project returns a joint project's facts, for the exchange policy.
	Project(id string) (policy.Project, bool)
	// Agreements returns the agreements that concern a resource (owner/id).
	Agreements(ref string) []policy.Agreement
	// Current returns an error while the registry facts may be older than
	// what this node already relied on (a replica catching up after a
	// restart): the owner then neither decides nor serves.
	Current() error
}

// Recorder writes the audit trail. Record returns an error when the
// record could not be written; the exchange then does not act (it
// refuses to decide, to issue or to serve) rather than act unrecorded.
type Recorder interface {
	Record(typ, subject string, details any) error
}
