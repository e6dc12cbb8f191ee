package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// genesisMembers turns the genesis into the registry's founding members.
func (n *Node) genesisMembers() []consensus.Member {
	out := make([]consensus.Member, 0, len(n.genesis.Members))
	for _, m := range n.genesis.Members {
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
	return n.genesisMembers()
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

// SubmitRegistry checks a registry command against this node's policy and,
// when allowed, signs it and has it committed. A denial is a
// *policy.DeniedError; the FSM's refusal a *consensus.RejectedError.
func (n *Node) SubmitRegistry(ctx context.Context, op string, args any) (uint64, error) {
	reg := n.registry.Load()
	if reg == nil {
		return 0, consensus.ErrClosed
	}
	if err := checkDatasetRefs(args); err != nil {
		return 0, err
	}
	in, err := n.registryInput(reg, op, args)
	if err != nil {
		return 0, err
	}
	d, err := n.policy.Registry(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("registry policy: %w", err)
	}
	// A command is proposed only once this node's decision is on record.
	if err := n.recordDecision(auditRegistryDecision, op, in, d); err != nil {
		return 0, err
	}
	if !d.Allow {
		return 0, &policy.DeniedError{Point: policy.RegistryDecision, Decision: d}
	}
	if v, ok := args.(consensus.Vote); ok && v.Yes() {
		// A yes vote is this region's decision to admit: its own
		// membership policy must agree.
		md, err := n.membershipDecision(ctx, reg, v.Candidate)
		if err != nil {
			return 0, err
		}
		if err := n.recordDecision(auditRegistryDecision, "membership.vote "+v.Candidate, v, md); err != nil {
			return 0, err
		}
		if !md.Allow {
			return 0, &policy.DeniedError{Point: policy.MembershipDecision, Decision: md}
		}
	}
	idx, err := reg.Submit(ctx, op, args)
	details := map[string]any{"op": op, "args_sha256": digest(args), "index": idx}
	if err != nil {
		details["error"] = err.Error()
	}
	// The command is committed: a failure to record the submission is
	// logged (and makes the node not ready), the decision is on record.
	_ = n.record(auditRegistrySubmit, op, details)
	if err != nil || idx == 0 {
		return idx, err
	}
	return idx, n.waitApplied(ctx, idx)
}

// checkDatasetRefs holds the datasets a project command names to the
// rule of exchange.ParseRef, so that a project never lists an OWNER/ID no
// member could publish. The error is an *exchange.ValidationError.
func checkDatasetRefs(args any) error {
	var refs []string
	switch a := args.(type) {
	case consensus.ProjectProposal:
		refs = a.Datasets
	case consensus.DatasetAttachment:
		refs = []string{a.Dataset}
	case consensus.Approval:
		if a.Dataset != "" {
			refs = []string{a.Dataset}
		}
	}
	for _, ref := range refs {
		if _, _, err := exchange.ParseRef(ref); err != nil {
			return err
		}
	}
	return nil
}

// waitApplied waits, within ctx and applyWait, until the local replica has
// applied index: a member reads its own writes (a revocation stops this
// node's own grants as soon as the command returns), even when the leader
// committed the command before this follower applied it. When the wait
// ends first, the write is committed but not visible here: the error is a
// *consensus.NotAppliedError, and the node is not ready until its
// replica has caught up.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	w := n.appliedWaiter()
	if w == nil {
		return consensus.ErrClosed
	}
	wctx, cancel := context.WithTimeout(ctx, applyWait)
	defer cancel()
	err := w.WaitApplied(wctx, index)
	var na *consensus.NotAppliedError
	switch {
	case err == nil:
		n.registryHealth.observe(nil)
	case errors.As(err, &na) && ctx.Err() == nil:
		n.log.Warn("registry write committed but not applied here in time", "index", index, "applied", na.Applied)
		n.registryHealth.observe(err)
	}
	return err
}

// appliedWaiter is the local replica as writes wait for it; nil before the
// registry is open.
func (n *Node) appliedWaiter() appliedWaiter {
	reg := n.registry.Load()
	if reg == nil {
		return nil
	}
	if n.wrapApplied != nil {
		return n.wrapApplied(reg)
	}
	return reg
}

// registryInput builds the facts the registry policy needs for a command.
func (n *Node) registryInput(reg *consensus.Registry, op string, args any) (policy.RegistryInput, error) {
	in := policy.RegistryInput{
		Command: policy.RegistryCommand{Op: op, Args: toMap(args)},
		Member:  policy.Node{Node: n.cfg.Name, PeerID: n.id.PeerID.String(), Country: n.cfg.Country, Org: n.cfg.Org},
		State:   map[string]any{},
	}
	members, err := reg.Members()
	if err != nil {
		return in, err
	}
	switch a := args.(type) {
	case consensus.ProjectProposal:
		countries := map[string]any{}
		for _, m := range members {
			countries[m.Name] = m.Country
		}
		_, err := reg.Project(a.ID)
		in.State["countries"] = countries
		in.State["project_exists"] = err == nil
	case consensus.ProjectRef:
		in.State["project"] = projectFacts(reg, a.ID)
	case consensus.DatasetAttachment:
		in.State["project"] = projectFacts(reg, a.ID)
	case consensus.Approval:
		in.State["project"] = projectFacts(reg, a.ID)
		if a.Member != "" {
			i := slices.IndexFunc(members, func(m consensus.Member) bool { return m.Name == a.Member })
			if i >= 0 {
				in.State["candidate"] = map[string]any{"name": members[i].Name, "country": members[i].Country}
			}
		}
	case consensus.MemberChange:
		list := make([]any, 0, len(members))
		for _, m := range members {
			list = append(list, map[string]any{"name": m.Name, "country": m.Country})
		}
		in.State["members"] = list
	case consensus.AgreementCommit:
		// The policy reads the agreement being committed: its id and
		// parties, all of whom signed it.
		text, err := a.Document.Agreement()
		if err != nil {
			return in, err
		}
		in.Command.Args["id"] = text.ID
		in.State["agreement"] = map[string]any{"parties": toAnySlice(text.Parties), "status": "signed"}
	case consensus.AgreementRevocation:
		if r, err := reg.Agreement(a.ID); err == nil {
			in.State["agreement"] = map[string]any{"parties": toAnySlice(r.Parties), "status": r.Status}
		}
	case consensus.Vote:
		props, err := reg.Proposals()
		if err != nil {
			return in, err
		}
		in.State["pending"] = slices.ContainsFunc(props, func(p consensus.Proposal) bool { return p.Candidate.Name == a.Candidate })
	}
	return in, nil
}

// projectFacts is a project as the registry policy reads it: the fields of
// policy.Project and the changes that wait for approval, each with its
// approvers and those still awaited.
func projectFacts(reg *consensus.Registry, id string) any {
	p, err := reg.Project(id)
	if err != nil {
		return nil
	}
	facts := toMap(policyProject(p))
	pending := make([]any, 0, len(p.Pending))
	for _, c := range p.Pending {
		pending = append(pending, map[string]any{
			"kind": c.Kind, "member": c.Member, "dataset": c.Dataset, "by": c.By,
			"approvals": toAnySlice(c.Approvals), "approvers": toAnySlice(p.Approvers(c)), "awaiting": toAnySlice(p.Awaiting(c)),
		})
	}
	facts["pending"] = pending
	return facts
}

func policyProject(p consensus.Project) policy.Project {
	return policy.Project{ID: p.ID, Title: p.Title, Themes: p.Themes, Lead: p.Lead, Partners: p.Partners,
		Datasets: p.Datasets, EthicsRef: p.EthicsRef, Status: p.Status}
}

func (n *Node) membershipDecision(ctx context.Context, reg *consensus.Registry, candidate string) (policy.Decision, error) {
	props, err := reg.Proposals()
	if err != nil {
		return policy.Decision{}, err
	}
	i := slices.IndexFunc(props, func(p consensus.Proposal) bool { return p.Candidate.Name == candidate })
	if i < 0 {
		return policy.Decision{}, &consensus.RejectedError{Op: consensus.OpMemberVote, Reason: fmt.Sprintf("no open proposal about %q", candidate)}
	}
	if props[i].Action == "remove" {
		return policy.Decision{Allow: true}, nil
	}
	c := props[i].Candidate
	in := policy.MembershipInput{
		Candidate: policy.Candidate{Name: c.Name, Country: c.Country, Org: c.Org, PeerID: c.PeerID},
		Self:      policy.Node{Node: n.cfg.Name, Country: n.cfg.Country},
	}
	members, err := reg.Members()
	if err != nil {
		return policy.Decision{}, err
	}
	for _, m := range members {
		in.Members = append(in.Members, policy.Member{Name: m.Name, Country: m.Country})
	}
	return n.policy.Membership(ctx, in)
}

// Projects implements api.Registry.
func (n *Node) Projects(context.Context) ([]consensus.Project, uint64, error) {
	reg := n.registry.Load()
	if reg == nil {
		return nil, 0, consensus.ErrClosed
	}
	idx := reg.AppliedIndex()
	ps, err := reg.Projects()
	return ps, idx, err
}

// Project implements api.Registry.
func (n *Node) Project(_ context.Context, id string) (consensus.Project, uint64, error) {
	reg := n.registry.Load()
	if reg == nil {
		return consensus.Project{}, 0, consensus.ErrClosed
	}
	idx := reg.AppliedIndex()
	p, err := reg.Project(id)
	return p, idx, err
}

// Members implements api.Registry.
func (n *Node) Members(context.Context) ([]consensus.Member, []consensus.Proposal, uint64, error) {
	reg := n.registry.Load()
	if reg == nil {
		return nil, nil, 0, consensus.ErrClosed
	}
	idx := reg.AppliedIndex()
	ms, err := reg.Members()
	if err != nil {
		return nil, nil, 0, err
	}
	ps, err := reg.Proposals()
	return ms, ps, idx, err
}

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

// toMap turns a typed value into the JSON object form policy inputs use.
func toMap(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return map[string]any{}
	}
	return m
}

func toAnySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
