package exchange

import (
	"time"

	"github.com/xborder/xborder/analysis/tabular"
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
	// Dictionary is the data dictionary of a tabular dataset: its columns,
	// their types, units and levels, and which identify a person. It is
	// what a researcher needs to write a federated analysis's filters and
	// formulas without seeing a row.
	Dictionary *tabular.Dictionary `json:"dictionary,omitempty"`
	// PublicListing is the owner's choice to list a protected entry's
	// metadata (never its data) in the public DCAT catalogue, with its
	// access rights and how to ask for access; catalogue.visible decides,
	// for the public, whether it is listed. Open entries are listed anyway.
	PublicListing bool `json:"public_listing,omitempty"`
}

// Ref is the federation-wide name of an entry.
func (e Entry) Ref() string { return e.Owner + "/" + e.ID }
