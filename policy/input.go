package policy

import (
	"time"
)

// Node describes a federation member in inputs.
type Node struct {
	Node    string `json:"node"`
	PeerID  string `json:"peer_id,omitempty"`
	Country string `json:"country"`
	Org     string `json:"org,omitempty"`
	// Public marks the public (a portal harvesting the DCAT export, a
	// visitor of a landing page) as the requester of
	// data.xborder.catalogue.visible: no node, no country.
	Public bool `json:"public,omitempty"`
	// External marks a participant of a dataspace (the Dataspace Protocol)
	// that is not a federation member, as the requester of
	// data.xborder.exchange.decision and data.xborder.catalogue.visible:
	// Node is then its participant id (a URI such as did:web:... or
	// urn:...), Country and Org those of this node's configuration for it,
	// and PeerID and the researcher are empty.
	External bool `json:"external,omitempty"`
}

// AuditInput is the input of data.xborder.audit.decision: may a partner
// verify this node's audit trail, and see how much of it. Detail is
// "chain" (the links the hash chain needs, nothing of the records'
// content) or "records" (the whole records).
type AuditInput struct {
	Requester Node   `json:"requester"`
	Self      Node   `json:"self"`
	Detail    string `json:"detail"`
}

// Researcher is the person on whose behalf a node requests, vouched for by
// that node.
type Researcher struct {
	Sub  string `json:"sub"`
	Org  string `json:"org"`
	Role string `json:"role"`
}

// Requester is the partner node asking, and its researcher.
type Requester struct {
	Node
	Researcher Researcher `json:"researcher"`
}

// Resource is a catalogue entry as the exchange policy sees it.
type Resource struct {
	Kind            string   `json:"kind"` // dataset or model
	ID              string   `json:"id"`
	Owner           string   `json:"owner"`
	Theme           string   `json:"theme"`
	Classification  string   `json:"classification"`
	PersonalData    bool     `json:"personal_data"`
	License         string   `json:"license"`
	RequiresProject bool     `json:"requires_project"`
	Partners        []string `json:"partners"` // named partners of a confidential entry
}

// Project is a joint project from the registry.
type Project struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Themes    []string `json:"themes"`
	Lead      string   `json:"lead"`
	Partners  []string `json:"partners"`
	Datasets  []string `json:"datasets"` // owner/id
	EthicsRef string   `json:"ethics_ref"`
	Status    string   `json:"status"` // active or closed
}

// Agreement is a model-sharing agreement from the registry.
type Agreement struct {
	ID         string    `json:"id"`
	Model      string    `json:"model"` // owner/id
	Parties    []string  `json:"parties"`
	Purposes   []string  `json:"purposes"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Status     string    `json:"status"` // active or revoked
}

// ExchangeInput is the input of data.xborder.exchange.decision.
type ExchangeInput struct {
	Requester  Requester   `json:"requester"`
	Resource   Resource    `json:"resource"`
	Purpose    string      `json:"purpose"`
	Project    *Project    `json:"project"`
	Agreements []Agreement `json:"agreements"`
	Self       Node        `json:"self"`
	Time       time.Time   `json:"time"`
}

// CatalogueEntry is a catalogue entry as the visibility policy sees it.
type CatalogueEntry struct {
	ID             string   `json:"id"`
	Owner          string   `json:"owner"`
	Kind           string   `json:"kind"`
	Classification string   `json:"classification"`
	Theme          string   `json:"theme"`
	Partners       []string `json:"partners"`
	PersonalData   bool     `json:"personal_data"`
	// PublicListing is the owner's choice to list the entry in the public
	// catalogue.
	PublicListing bool `json:"public_listing"`
}

// CatalogueInput is the input of data.xborder.catalogue.visible.
type CatalogueInput struct {
	Requester Node           `json:"requester"`
	Entry     CatalogueEntry `json:"entry"`
}

// APIInput is the input of data.xborder.api.allow.
type APIInput struct {
	User   APIUser `json:"user"`
	Method string  `json:"method"`
	Path   string  `json:"path"`
	// Identity is who an identity provider says the user is, for a user
	// signed in through OpenID Connect (the console) or presenting an
	// issuer's access token (the API); absent for node-signed tokens and
	// one-time codes.
	Identity *APIIdentity `json:"identity,omitempty"`
}

// APIUser is a local API user.
type APIUser struct {
	Sub  string `json:"sub"`
	Role string `json:"role"`
	Org  string `json:"org"`
}

// APIRoleInput is the input of data.xborder.api.role: the identity an
// identity provider vouches for, as its verified token says.
type APIRoleInput struct {
	Identity APIIdentity `json:"identity"`
}

// APIIdentity is a person as an identity provider (OpenID Connect) names
// them. A list the issuer did not send is null; the shipped rules read
// anything but a list of strings as empty.
type APIIdentity struct {
	Issuer       string   `json:"issuer"`
	Subject      string   `json:"subject"`
	Email        string   `json:"email"`
	Groups       []string `json:"groups"`
	Entitlements []string `json:"entitlements"`
	Affiliation  []string `json:"affiliation"`
}

// RegistryInput is the input of data.xborder.registry.decision. Args and
// State depend on the command; they are JSON objects.
type RegistryInput struct {
	Command RegistryCommand `json:"command"`
	Member  Node            `json:"member"`
	State   map[string]any  `json:"state"`
}

// RegistryCommand is the command a member wants to propose.
type RegistryCommand struct {
	Op   string         `json:"op"`
	Args map[string]any `json:"args"`
}

// MembershipInput is the input of data.xborder.membership.decision.
type MembershipInput struct {
	Candidate Candidate `json:"candidate"`
	Members   []Member  `json:"members"`
	Self      Node      `json:"self"`
	// Action is "add" for an admission and "rekey" for the replacement of
	// a member's node key (Candidate is then the member, with its new
	// peer ID, and FormerPeerID the key it replaces). Empty means add.
	Action       string `json:"action,omitempty"`
	FormerPeerID string `json:"former_peer_id,omitempty"`
}

// Candidate is a region applying to join.
type Candidate struct {
	Name    string `json:"name"`
	Country string `json:"country"`
	Org     string `json:"org"`
	PeerID  string `json:"peer_id"`
}

// Member is a current member as the membership policy sees it.
type Member struct {
	Name    string `json:"name"`
	Country string `json:"country"`
}

// AgreementInput is the input of data.xborder.agreements.decision.
type AgreementInput struct {
	Agreement AgreementDraft `json:"agreement"`
	Proposer  Node           `json:"proposer"`
	Self      Node           `json:"self"`
	Time      time.Time      `json:"time"`
}

// AgreementDraft is a proposed model-sharing agreement.
type AgreementDraft struct {
	ID         string    `json:"id"`
	Model      ModelRef  `json:"model"`
	Parties    []Node    `json:"parties"`
	Purposes   []string  `json:"purposes"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Conditions string    `json:"conditions"`
}

// ModelRef describes the model of an agreement with its provenance.
type ModelRef struct {
	Owner            string       `json:"owner"`
	ID               string       `json:"id"`
	PersonalData     bool         `json:"personal_data"`
	Theme            string       `json:"theme"`
	TrainingDatasets []DatasetRef `json:"training_datasets"`
}

// DatasetRef names a dataset that trained a model.
type DatasetRef struct {
	Owner        string `json:"owner"`
	ID           string `json:"id"`
	PersonalData bool   `json:"personal_data"`
}

// AnalysisInput is the input of data.xborder.analysis.decision: may this
// researcher run this analysis on this dataset of this node, for this
// purpose, and under which disclosure limits? The owner's node asks it
// before it computes anything; rows never leave the owner, only the
// aggregates the limits let through.
type AnalysisInput struct {
	Requester Requester       `json:"requester"` // node and researcher, as for an exchange
	Dataset   Resource        `json:"dataset"`   // the owner's dataset
	Analysis  AnalysisRequest `json:"analysis"`
	Purpose   string          `json:"purpose"`
	Project   *Project        `json:"project"` // the project the request names, from the registry; nil for none
	Self      Node            `json:"self"`
	Time      time.Time       `json:"time"`
	// Module is the program an evaluation (its predictor) or a module run
	// would run on the dataset, as the registry holds it; absent for the
	// other analyses.
	Module *AnalysisModule `json:"module,omitempty"`
	// Model is an evaluation's model, as this node's catalogue lists it.
	Model *Resource `json:"model,omitempty"`
}

// AnalysisModule is a WASI program proposed to a project, as the policy
// sees it: approved_by_self says whether this node's member approved it
// (its legal team reviewed the code).
type AnalysisModule struct {
	SHA256         string   `json:"sha256"`
	Name           string   `json:"name"`
	Kind           string   `json:"kind"` // predictor or analysis
	Project        string   `json:"project"`
	ApprovedBySelf bool     `json:"approved_by_self"`
	Approvals      []string `json:"approvals"`
	Withdrawn      bool     `json:"withdrawn"`
}

// AnalysisRequest is the statistic asked of a dataset.
type AnalysisRequest struct {
	// Kind is summary, table, histogram, correlation, glm, evaluate or
	// module.
	Kind string `json:"kind"`
	// Variables are the columns the analysis reads, with the type the
	// dataset's dictionary gives them.
	Variables []AnalysisColumn `json:"variables"`
	// Filter is the canonical row filter, "" for every row.
	Filter string `json:"filter"`
	// Family, Formula and Parameters describe a glm: its error family
	// (gaussian, binomial, poisson), its model formula and its number of
	// model parameters.
	Family     string `json:"family,omitempty"`
	Formula    string `json:"formula,omitempty"`
	Parameters int    `json:"parameters,omitempty"`
	// Label is an evaluation's label column (also among Variables, with
	// the predictor's input columns).
	Label string `json:"label,omitempty"`
}

// AnalysisColumn is a column an analysis reads, with its dictionary type.
type AnalysisColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// DataspaceInput is the input of data.xborder.dataspace.decision, the
// consumer side of the Dataspace Protocol: may this node's researcher take
// this dataset from this provider of a dataspace, under this offer, for
// this purpose? The node asks before it negotiates and again before it
// fetches.
type DataspaceInput struct {
	Researcher Researcher        `json:"researcher"` // the local user: sub, org and API role
	Provider   DataspaceProvider `json:"provider"`
	Dataset    DataspaceDataset  `json:"dataset"`
	// Offer is the provider's ODRL offer as received (JSON-LD, compacted
	// with the DSP context), decoded with encoding/json; nil when none.
	Offer   map[string]any `json:"offer"`
	Purpose string         `json:"purpose"`
	Self    Node           `json:"self"`
	Time    time.Time      `json:"time"`
}

// DataspaceProvider is the provider of a dataspace: its participant id,
// the country and organisation this node's configuration gives it (or the
// catalogue's publisher says), and the base URL of its DSP endpoints.
type DataspaceProvider struct {
	ID      string `json:"id"`
	Country string `json:"country"`
	Org     string `json:"org"`
	URL     string `json:"url"`
}

// DataspaceDataset is a dataset of a provider's DCAT catalogue, as the
// consumer policy sees it. Every field but ID may be empty: a provider
// says what it says.
type DataspaceDataset struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Themes      []string `json:"themes"`
	Keywords    []string `json:"keywords"`
	License     string   `json:"license"`
	Publisher   string   `json:"publisher"`
}
