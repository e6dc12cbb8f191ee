package node

import (
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// registryMembers turns the genesis into the registry's founding members.
func (g *Genesis) registryMembers() []consensus.Member {
	out := make([]consensus.Member, 0, len(g.Members))
	for _, m := range g.Members {
		out = append(out, consensus.Member{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: m.PeerID, Addrs: m.Addrs})
	}
	return out
}

// registryMembers returns the members the local replica lists, or the
// genesis before the registry is open.
func (n *Node) registryMembers() []consensus.Member {
	if reg := n.registry.Load(); reg != nil {
		if ms, err := reg.Members(); err == nil {
			return ms
		}
	}
	return n.genesis.registryMembers()
}

// syncMembership makes the mesh, the peerstore and the connection manager
// follow the registry's member list (after a vote, and at start).
func (n *Node) syncMembership() {
	members := n.registryMembers()
	ids := make([]peer.ID, 0, len(members))
	for _, m := range members {
		pid, err := peer.Decode(m.PeerID)
		if err != nil {
			continue
		}
		ids = append(ids, pid)
		if pid != n.id.PeerID {
			n.host.Peerstore().AddAddrs(pid, parseAddrs(m.Addrs), peerstore.PermanentAddrTTL)
		}
	}
	n.mesh.setMembers(ids)
}

// Registry is the registry as the node's users reach it (after Start):
// reads with the applied index, writes admitted by this node's policy.
func (n *Node) Registry() *consensus.Clerk { return n.clerk }

// registryClerk is the registry as the API and the console reach it:
// writes admitted by this node's policy with each decision on the audit
// trail, reads with the applied index.
func (n *Node) registryClerk(reg *consensus.Registry) (*consensus.Clerk, error) {
	var applied consensus.AppliedWaiter = reg
	if n.wrapApplied != nil {
		applied = n.wrapApplied(reg)
	}
	return consensus.NewClerk(
		consensus.ClerkConfig{Self: policy.Node{Node: n.cfg.Name, PeerID: n.id.PeerID.String(), Country: n.cfg.Country, Org: n.cfg.Org}},
		consensus.ClerkDeps{
			Registry: reg,
			Applied:  applied,
			Policy:   n.policy,
			Recorder: registryRecorder{n},
			// A project never lists an OWNER/ID no member could publish;
			// the error is an *exchange.ValidationError (HTTP 400).
			RefChecker: func(ref string) error { _, _, err := exchange.ParseRef(ref); return err },
			Log:        n.log.With("component", "registry"),
		})
}

// registryRecorder writes a registry write's records: a failure is
// logged, makes the node not ready, and refuses the write
// (exchange.ErrAuditUnavailable).
type registryRecorder struct{ n *Node }

func (r registryRecorder) RecordDecision(typ, subject string, input any, d policy.Decision) error {
	return r.n.recordDecision(typ, subject, input, d)
}

func (r registryRecorder) Record(typ, subject string, details any) error {
	return r.n.record(typ, subject, details)
}

// policyProject is a project as the exchange's policy input reads it.
func policyProject(p consensus.Project) policy.Project { return p.PolicyProject() }

// raftStatus is the registry section of the node's status.
func (n *Node) raftStatus() *api.RaftStatus {
	reg := n.registry.Load()
	if reg == nil {
		return nil
	}
	s := reg.Status()
	names := map[string]string{}
	for _, m := range n.registryMembers() {
		names[m.PeerID] = m.Name
	}
	name := func(id string) string {
		if v, ok := names[id]; ok {
			return v
		}
		return id
	}
	out := &api.RaftStatus{State: strings.ToLower(s.State), Leader: name(s.Leader), LeaderID: s.Leader, Term: s.Term,
		CommitIndex: s.CommitIndex, AppliedIndex: s.AppliedIndex, Voters: []string{}, NonVoters: []string{}}
	for _, v := range s.Voters {
		out.Voters = append(out.Voters, name(v))
	}
	for _, v := range s.NonVoters {
		out.NonVoters = append(out.NonVoters, name(v))
	}
	slices.Sort(out.Voters)
	slices.Sort(out.NonVoters)
	return out
}
