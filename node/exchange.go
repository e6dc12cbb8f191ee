package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
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

// auditRecorder lets the exchange write to the node's audit trail.
type auditRecorder struct{ n *Node }

func (r auditRecorder) Record(typ, subject string, details any) error {
	return r.n.appendAudit(typ, subject, details)
}

// member finds a member by name for the exchange.
func (n *Node) member(name string) (exchange.Member, error) {
	for _, m := range n.registryMembers() {
		if m.Name == name {
			pid, err := peer.Decode(m.PeerID)
			if err != nil {
				return exchange.Member{}, err
			}
			return exchange.Member{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: pid}, nil
		}
	}
	return exchange.Member{}, fmt.Errorf("%q is not a member of the federation: %w", name, exchange.ErrNotFound)
}

// RequestAccess implements api.Exchange: it asks the owner on behalf of
// the calling researcher, whom this node vouches for.
func (n *Node) RequestAccess(ctx context.Context, u api.User, owner, id, purpose, project string) (exchange.Answer, error) {
	m, err := n.member(owner)
	if err != nil {
		return exchange.Answer{}, err
	}
	return n.exchange.Request(ctx, m, id, purpose, project, policy.Researcher{Sub: u.Subject, Org: u.Org, Role: u.Role})
}

// StartFetch implements api.Exchange: it uses a valid grant this node
// holds for the resource, or requests one, then starts the transfer job.
func (n *Node) StartFetch(ctx context.Context, u api.User, owner, id, purpose, project string) (exchange.JobStatus, error) {
	m, err := n.member(owner)
	if err != nil {
		return exchange.JobStatus{}, err
	}
	token := ""
	now := time.Now()
	for _, g := range n.exchange.Grants() {
		// A model grant whose agreement was revoked or expired would be
		// refused by the owner: ask again instead, and get the reasons.
		if g.Agreement != "" && !n.agreementAuthorises(g.Agreement, now) {
			continue
		}
		if g.Role == exchange.GrantHeld && g.Resource == owner+"/"+id && g.ExpiresAt.After(now.Add(time.Minute)) && g.Token != "" {
			token = g.Token
			break
		}
	}
	if token == "" {
		if purpose == "" {
			return exchange.JobStatus{}, &exchange.ValidationError{What: "fetch",
				Problems: []string{"no valid grant is held for " + owner + "/" + id + ": give a purpose to request one"}}
		}
		ans, err := n.exchange.Request(ctx, m, id, purpose, project, policy.Researcher{Sub: u.Subject, Org: u.Org, Role: u.Role})
		if err != nil {
			return exchange.JobStatus{}, err
		}
		token = ans.Grant
	}
	job, err := n.exchange.FetchFor(ctx, u.Subject, m, id, token)
	if err != nil {
		return exchange.JobStatus{}, err
	}
	return job.Status(), nil
}

// Audit record type of a verified transfer's content served to a local user.
const auditTransferDownloaded = "exchange.transfer.downloaded"

// seesTransfer: operators and auditors see every transfer; anyone else
// only those they started.
func seesTransfer(u api.User, job exchange.JobStatus) bool {
	return u.Role == api.RoleOperator || u.Role == api.RoleAuditor || (job.Requester != "" && job.Requester == u.Subject)
}

// Transfers implements api.Exchange.
func (n *Node) Transfers(_ context.Context, u api.User) []exchange.JobStatus {
	jobs := n.exchange.Jobs()
	out := jobs[:0]
	for _, j := range jobs {
		if seesTransfer(u, j) {
			out = append(out, j)
		}
	}
	return out
}

// Transfer implements api.Exchange.
func (n *Node) Transfer(_ context.Context, u api.User, id string) (exchange.JobStatus, bool) {
	job, ok := n.exchange.Job(id)
	if !ok || !seesTransfer(u, job) {
		return exchange.JobStatus{}, false
	}
	return job, true
}

// OpenTransfer implements api.Exchange: the researcher who started a
// finished transfer, or an operator, downloads its file, once the download
// is on record.
func (n *Node) OpenTransfer(_ context.Context, u api.User, id string) (exchange.JobStatus, *os.File, error) {
	job, ok := n.exchange.Job(id)
	if !ok || job.State != exchange.JobDone || !(u.Role == api.RoleOperator || (job.Requester != "" && job.Requester == u.Subject)) {
		return exchange.JobStatus{}, nil, fmt.Errorf("no finished transfer %q of yours: %w", id, exchange.ErrNotFound)
	}
	f, err := os.Open(job.Path)
	if err != nil {
		return exchange.JobStatus{}, nil, fmt.Errorf("open the file of transfer %s: %w", id, err)
	}
	if err := n.record(auditTransferDownloaded, u.Subject+" <- "+job.Owner+"/"+job.Dataset, map[string]any{
		"job_id": job.ID, "grant_id": job.GrantID, "sha256": job.SHA256, "size": job.Size,
		"user": u.Subject, "role": u.Role, "org": u.Org, "requester": job.Requester,
	}); err != nil {
		f.Close()
		return exchange.JobStatus{}, nil, err
	}
	return job, f, nil
}

// Grants implements api.Exchange; tokens stay inside the node.
func (n *Node) Grants(context.Context) []exchange.GrantInfo {
	gs := n.exchange.Grants()
	for i := range gs {
		gs[i].Token = ""
	}
	return gs
}
