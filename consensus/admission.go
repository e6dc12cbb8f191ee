package consensus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/xborder/xborder/policy"
)

// Admission: where a registry write is authorised. Before a Clerk signs
// and proposes a command, this member's own policy decides whether it
// may (data.xborder.registry.decision, and for a yes vote
// data.xborder.membership.decision too), and each decision is on the
// audit trail before anything is proposed. The FSM never asks a policy:
// every member applies the same log the same way, whatever its own rules.

// Policy is the policy engine as admission asks it (*policy.Engine).
type Policy interface {
	Registry(ctx context.Context, in policy.RegistryInput) (policy.Decision, error)
	Membership(ctx context.Context, in policy.MembershipInput) (policy.Decision, error)
}

// Recorder is the audit trail as a registry write records it. An error
// from either method is returned to the writer: a decision that cannot be
// recorded refuses the write (the node wraps such errors in its
// audit-unavailable sentinel).
type Recorder interface {
	// RecordDecision records a policy decision about input.
	RecordDecision(typ, subject string, input any, d policy.Decision) error
	// Record appends a record with its details.
	Record(typ, subject string, details any) error
}

// Audit record types of a registry write.
const (
	// AuditDecision is a policy decision about a command, before it is
	// proposed (subject: the op, or "membership.vote CANDIDATE").
	AuditDecision = "registry.decision"
	// AuditSubmit is a command's outcome (details: op, args_sha256,
	// index, and error when it failed).
	AuditSubmit = "registry.submit"
)

// admit decides whether this member may propose a command, recording
// each decision first. A denial is a *policy.DeniedError; a malformed
// dataset reference the RefChecker's error.
func (c *Clerk) admit(ctx context.Context, op string, args any) error {
	if err := c.checkDatasetRefs(args); err != nil {
		return err
	}
	in, err := c.registryInput(op, args)
	if err != nil {
		return err
	}
	d, err := c.policy.Registry(ctx, in)
	if err != nil {
		return fmt.Errorf("registry policy: %w", err)
	}
	// A command is proposed only once this node's decision is on record.
	if err := c.rec.RecordDecision(AuditDecision, op, in, d); err != nil {
		return err
	}
	if !d.Allow {
		return &policy.DeniedError{Point: policy.RegistryDecision, Decision: d}
	}
	if v, ok := args.(Vote); ok && v.Yes() {
		// A yes vote is this region's decision to admit: its own
		// membership policy must agree.
		md, err := c.membershipDecision(ctx, v.Candidate)
		if err != nil {
			return err
		}
		if err := c.rec.RecordDecision(AuditDecision, "membership.vote "+v.Candidate, v, md); err != nil {
			return err
		}
		if !md.Allow {
			return &policy.DeniedError{Point: policy.MembershipDecision, Decision: md}
		}
	}
	return nil
}

// checkDatasetRefs holds the datasets a project command names, and the
// model an evaluation names, to the RefChecker's rule, so that the
// registry never lists an OWNER/ID no member could publish.
func (c *Clerk) checkDatasetRefs(args any) error {
	if c.checkRef == nil {
		return nil
	}
	var refs []string
	switch a := args.(type) {
	case ProjectProposal:
		refs = a.Datasets
	case DatasetAttachment:
		refs = []string{a.Dataset}
	case Approval:
		if a.Dataset != "" {
			refs = []string{a.Dataset}
		}
	case EvaluationCommit:
		refs = []string{a.Model}
	}
	for _, ref := range refs {
		if err := c.checkRef(ref); err != nil {
			return err
		}
	}
	return nil
}

// registryInput builds the facts the registry policy needs for a command.
func (c *Clerk) registryInput(op string, args any) (policy.RegistryInput, error) {
	reg := c.reg
	in := policy.RegistryInput{
		Command: policy.RegistryCommand{Op: op, Args: toMap(args)},
		Member:  c.self,
		State:   map[string]any{},
	}
	members, err := reg.Members()
	if err != nil {
		return in, err
	}
	switch a := args.(type) {
	case ProjectProposal:
		countries := map[string]any{}
		for _, m := range members {
			countries[m.Name] = m.Country
		}
		_, err := reg.Project(a.ID)
		in.State["countries"] = countries
		in.State["project_exists"] = err == nil
	case ProjectRef:
		in.State["project"] = projectFacts(reg, a.ID)
	case DatasetAttachment:
		in.State["project"] = projectFacts(reg, a.ID)
	case Approval:
		in.State["project"] = projectFacts(reg, a.ID)
		if a.Member != "" {
			i := slices.IndexFunc(members, func(m Member) bool { return m.Name == a.Member })
			if i >= 0 {
				in.State["candidate"] = map[string]any{"name": members[i].Name, "country": members[i].Country}
			}
		}
	case MemberChange:
		list := make([]any, 0, len(members))
		for _, m := range members {
			list = append(list, map[string]any{"name": m.Name, "country": m.Country})
		}
		in.State["members"] = list
		if in.Command.Args["action"] == "" {
			in.Command.Args["action"] = ActionAdd
		}
	case AgreementCommit:
		// The policy reads the agreement being committed: its id and
		// parties, all of whom signed it.
		text, err := a.Document.Agreement()
		if err != nil {
			return in, err
		}
		in.Command.Args["id"] = text.ID
		in.State["agreement"] = map[string]any{"parties": toAnySlice(text.Parties), "status": "signed"}
	case AgreementRevocation:
		if r, err := reg.Agreement(a.ID); err == nil {
			in.State["agreement"] = map[string]any{"parties": toAnySlice(r.Parties), "status": r.Status}
		}
	case ModuleProposal:
		in.State["project"] = projectFacts(reg, a.Project)
		_, err := reg.Module(a.Project, a.SHA256)
		in.State["module_exists"] = err == nil
	case ModuleRef:
		in.State["project"] = projectFacts(reg, a.Project)
		if m, err := reg.Module(a.Project, a.SHA256); err == nil {
			in.State["module"] = moduleFacts(m)
		}
	case EvaluationCommit:
		// The tokens themselves are for the FSM to verify; the policy
		// reads whose contributions they say they are, and the audit
		// record of its decision stays small.
		delete(in.Command.Args, "contributions")
		owner, _, _ := strings.Cut(a.Model, "/")
		in.State["model_owner"] = owner
		in.State["owners"] = toAnySlice(claimedOwners(a.Contributions))
		in.State["contributions"] = len(a.Contributions)
		exists := false
		if evs, err := reg.Evaluations(a.Model); err == nil {
			exists = slices.ContainsFunc(evs, func(e Evaluation) bool { return e.Analysis == a.Analysis })
		}
		in.State["evaluation_exists"] = exists
	case Vote:
		props, err := reg.Proposals()
		if err != nil {
			return in, err
		}
		i := slices.IndexFunc(props, func(p Proposal) bool { return p.Candidate.Name == a.Candidate })
		in.State["pending"] = i >= 0
		if i >= 0 {
			in.State["action"] = props[i].Action
		}
	}
	return in, nil
}

// projectFacts is a project as the registry policy reads it: the fields of
// policy.Project and the changes that wait for approval, each with its
// approvers and those still awaited.
func projectFacts(reg *Registry, id string) any {
	p, err := reg.Project(id)
	if err != nil {
		return nil
	}
	facts := toMap(p.PolicyProject())
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

// moduleFacts is a module as the registry policy reads it.
func moduleFacts(m Module) map[string]any {
	return map[string]any{"name": m.Name, "kind": m.Kind, "proposed_by": m.ProposedBy,
		"approvals": toAnySlice(m.Approvals), "withdrawn": m.Withdrawn != 0}
}

// claimedOwners are the owners the contributions name, sorted and
// distinct, unverified (the FSM verifies each against its owner's key).
func claimedOwners(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if o, err := claimedOwner(t); err == nil {
			out = append(out, o)
		}
	}
	return sortedSet(out)
}

// PolicyProject is the project as the policies read it.
func (p Project) PolicyProject() policy.Project {
	return policy.Project{ID: p.ID, Title: p.Title, Themes: p.Themes, Lead: p.Lead, Partners: p.Partners,
		Datasets: p.Datasets, EthicsRef: p.EthicsRef, Status: p.Status}
}

// membershipDecision asks this member's membership policy about the
// candidate of an open proposal; removing a member needs no such
// decision.
func (c *Clerk) membershipDecision(ctx context.Context, candidate string) (policy.Decision, error) {
	props, err := c.reg.Proposals()
	if err != nil {
		return policy.Decision{}, err
	}
	i := slices.IndexFunc(props, func(p Proposal) bool { return p.Candidate.Name == candidate })
	if i < 0 {
		return policy.Decision{}, &RejectedError{Op: OpMemberVote, Reason: fmt.Sprintf("no open proposal about %q", candidate)}
	}
	if props[i].Action == ActionRemove {
		return policy.Decision{Allow: true}, nil
	}
	m := props[i].Candidate
	in := policy.MembershipInput{
		Candidate: policy.Candidate{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: m.PeerID},
		Self:      policy.Node{Node: c.self.Node, Country: c.self.Country},
		Action:    ActionAdd,
	}
	members, err := c.reg.Members()
	if err != nil {
		return policy.Decision{}, err
	}
	for _, x := range members {
		in.Members = append(in.Members, policy.Member{Name: x.Name, Country: x.Country})
		if props[i].Action == ActionRekey && x.Name == m.Name {
			// A re-key: the policy reads the key being replaced.
			in.Action, in.FormerPeerID = ActionRekey, x.PeerID
		}
	}
	if props[i].Action == ActionRekey && in.Action != ActionRekey {
		return policy.Decision{}, &RejectedError{Op: OpMemberVote, Reason: fmt.Sprintf("%s is no longer a member: its key cannot be replaced", m.Name)}
	}
	return c.policy.Membership(ctx, in)
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

// digest is the hex SHA-256 of a value's JSON: a record names a command's
// arguments without copying them.
func digest(v any) string {
	raw, _ := json.Marshal(v)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
