package node

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// catalogueTopic scopes catalogue announcements to the federation.
func catalogueTopic(fedID string) string { return "/xborder/" + fedID[:16] + "/catalogue/1" }

// exchangeRegistry is the registry as the exchange reads it
// (exchange.Registry and exchange.AgreementRegistry): a translation of
// consensus records into the exchange's types.
type exchangeRegistry struct{ n *Node }

func (r exchangeRegistry) MemberByPeer(p peer.ID) (exchange.Member, bool) {
	for _, m := range r.n.registryMembers() {
		if m.PeerID == p.String() {
			return exchange.Member{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: p}, true
		}
	}
	return exchange.Member{}, false
}

func (r exchangeRegistry) MemberByName(name string) (exchange.Member, bool) {
	for _, m := range r.n.registryMembers() {
		if m.Name == name {
			pid, err := peer.Decode(m.PeerID)
			if err != nil {
				return exchange.Member{}, false
			}
			return exchange.Member{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: pid}, true
		}
	}
	return exchange.Member{}, false
}

// Current implements exchange.Registry.
func (r exchangeRegistry) Current() error {
	reg := r.n.registry.Load()
	if reg == nil {
		return consensus.ErrClosed
	}
	return reg.Current()
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

// auditRecorder lets the exchange write to the node's audit trail.
type auditRecorder struct{ n *Node }

func (r auditRecorder) Record(typ, subject string, details any) error {
	return r.n.appendAudit(typ, subject, details)
}

// Catalogue is the node's catalogue (nil before Start), which serves the
// catalogue part of the API.
func (n *Node) Catalogue() *exchange.Catalogue { return n.catalogue }

// AgreementService is the node's agreement negotiation (nil before Start),
// which serves the agreements part of the API.
func (n *Node) AgreementService() *exchange.Agreements { return n.agreements }
