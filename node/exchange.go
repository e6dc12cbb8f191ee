package node

import (
	"context"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// catalogueTopic scopes catalogue announcements to the federation.
func catalogueTopic(fedID string) string { return "/xborder/" + fedID[:16] + "/catalogue/1" }

// exchangeRegistry is the registry as the exchange reads it.
type exchangeRegistry struct{ n *Node }

func (r exchangeRegistry) MemberByPeer(p peer.ID) (exchange.Member, bool) {
	for _, m := range r.n.registryMembers() {
		if m.PeerID == p.String() {
			return exchange.Member{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: p}, true
		}
	}
	return exchange.Member{}, false
}

func (r exchangeRegistry) Project(id string) (policy.Project, bool) {
	reg := r.n.registry.Load()
	if reg == nil || id == "" {
		return policy.Project{}, false
	}
	p, err := reg.Project(id)
	if err != nil {
		return policy.Project{}, false
	}
	return policyProject(p), true
}

// Agreements: model-sharing agreements are not in the registry yet.
func (r exchangeRegistry) Agreements(string) []policy.Agreement { return nil }

// Publish implements api.Catalogue.
func (n *Node) Publish(ctx context.Context, p exchange.Publication, content io.Reader) (exchange.Entry, error) {
	e, err := n.catalogue.Publish(ctx, p, content)
	if err == nil {
		n.record("catalogue.publish", e.Ref(), map[string]any{"sha256": e.SHA256, "size": e.Size,
			"classification": e.Classification, "version": e.Version})
	}
	return e, err
}

// Withdraw implements api.Catalogue.
func (n *Node) Withdraw(ctx context.Context, id string) (exchange.Entry, error) {
	e, err := n.catalogue.Withdraw(ctx, id)
	if err == nil {
		n.record("catalogue.withdraw", e.Ref(), map[string]any{"version": e.Version})
	}
	return e, err
}

// Search implements api.Catalogue.
func (n *Node) Search(_ context.Context, f exchange.Filter) []exchange.Listing {
	return n.catalogue.Search(f)
}

// ListingJSON implements api.Catalogue.
func (n *Node) ListingJSON(context.Context) []byte { return n.catalogue.ListingJSON() }

// Entry implements api.Catalogue.
func (n *Node) Entry(_ context.Context, owner, id string) (exchange.Listing, error) {
	return n.catalogue.Get(owner, id)
}

// DCAT implements api.Catalogue.
func (n *Node) DCAT(_ context.Context, baseURL string) exchange.DCATCatalog {
	return n.catalogue.DCAT(baseURL)
}

// CatalogueSyncs implements api.Catalogue.
func (n *Node) CatalogueSyncs(context.Context) []exchange.PeerState { return n.catalogue.Peers() }
