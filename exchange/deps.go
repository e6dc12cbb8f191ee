package exchange

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/policy"
)

// What the exchange needs from the node that runs it: who the members
// are, what the policy says, what the registry holds and where the audit
// trail is. The node provides each.

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
