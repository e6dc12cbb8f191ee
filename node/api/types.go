package api

import "time"

// Status is the answer of GET /v1/status. Later capabilities (registry,
// catalogue, policy, audit) add their own sections.
type Status struct {
	Name           string           `json:"name"`
	PeerID         string           `json:"peer_id"`
	Country        string           `json:"country"`
	Org            string           `json:"org"`
	Federation     string           `json:"federation"`
	FederationID   string           `json:"federation_id"`
	Version        string           `json:"version"`
	Ready          bool             `json:"ready"`
	PeersConnected int              `json:"peers_connected"`
	Members        int              `json:"members"`
	ListenAddrs    []string         `json:"listen_addrs"`
	StartedAt      time.Time        `json:"started_at"`
	UptimeS        int64            `json:"uptime_s"`
	Policy         PolicyStatus     `json:"policy"`
	Raft           *RaftStatus      `json:"raft,omitempty"`
	Audit          *AuditStatus     `json:"audit,omitempty"`
	Catalogue      *CatalogueStatus `json:"catalogue,omitempty"`
}

// CatalogueStatus is the catalogue in the node's status.
type CatalogueStatus struct {
	Version       uint64 `json:"version"`
	Entries       int    `json:"entries"`
	RemoteEntries int    `json:"remote_entries"`
}

// AuditStatus is the audit trail's head in the node's status.
type AuditStatus struct {
	Seq  uint64 `json:"seq"`
	Head string `json:"head"`
}

// RaftStatus is the registry's raft view in the node's status.
type RaftStatus struct {
	State        string   `json:"state"` // leader, follower, candidate
	Leader       string   `json:"leader"`
	LeaderID     string   `json:"leader_id"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Voters       []string `json:"voters"`
	NonVoters    []string `json:"non_voters"`
}

// PolicyStatus is the active policy bundle in the node's status.
type PolicyStatus struct {
	Hash      string    `json:"hash"`
	LoadedAt  time.Time `json:"loaded_at"`
	LastError string    `json:"last_error,omitempty"`
	// Evaluator is what takes the decisions: "plan", "planning" or
	// "topdown: " and why; EvaluatorConfigured is the operator's
	// policy.evaluator, "plan" or "topdown".
	Evaluator           string `json:"evaluator,omitempty"`
	EvaluatorConfigured string `json:"evaluator_configured,omitempty"`
}

// Peer is one federation member as this node sees it (GET /v1/peers).
type Peer struct {
	Name      string   `json:"name"`
	Country   string   `json:"country"`
	Org       string   `json:"org"`
	PeerID    string   `json:"peer_id"`
	Self      bool     `json:"self"`
	Connected bool     `json:"connected"`
	Addrs     []string `json:"addrs"`
	// RTTms is the smoothed round-trip time; 0 when not measured yet.
	RTTms float64 `json:"rtt_ms"`
}

// Readiness is the answer of GET /readyz.
type Readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// Error is the body of every error response. A refusal by policy also
// carries the decision's reasons and the rules that fired.
type Error struct {
	Error   string   `json:"error"`
	Code    int      `json:"code"`
	Denied  bool     `json:"denied,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	Rules   []string `json:"rules,omitempty"`
}
