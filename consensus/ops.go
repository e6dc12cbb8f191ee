package consensus

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Registry operations.
const (
	OpProjectPropose = "project.propose"
	OpProjectJoin    = "project.join"
	OpProjectAttach  = "project.attach"
	OpProjectClose   = "project.close"
	OpProjectApprove = "project.approve"
	OpProjectDecline = "project.decline"
	OpMemberPropose  = "member.propose"
	OpMemberVote     = "member.vote"
	OpAnchorPut      = "anchor.put"
	OpPolicyPut      = "policy.put"
)

// ProjectProposal is the argument of project.propose.
type ProjectProposal struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Themes    []string `json:"themes"`
	Partners  []string `json:"partners"`
	Datasets  []string `json:"datasets"`
	EthicsRef string   `json:"ethics_ref"`
}

// ProjectRef is the argument of project.join and project.close.
type ProjectRef struct {
	ID string `json:"id"`
}

// DatasetAttachment is the argument of project.attach.
type DatasetAttachment struct {
	ID      string `json:"id"`
	Dataset string `json:"dataset"` // owner/id
}

// Approval is the argument of project.approve and project.decline: it
// names one pending change of the project, a member's join or a dataset's
// attachment.
type Approval struct {
	ID      string `json:"id"`
	Member  string `json:"member,omitempty"`  // the candidate of a pending join
	Dataset string `json:"dataset,omitempty"` // owner/id of a pending attachment
}

// Membership actions: what a member.propose asks the members to decide.
const (
	ActionAdd    = "add"
	ActionRemove = "remove"
	// ActionRekey binds an existing member's name, country, organisation
	// and history to a new node key (Candidate.PeerID) in place of a lost
	// or stolen one. Country and Org may be left empty; given, they must
	// be the member's.
	ActionRekey = "rekey"
)

// MemberChange is the argument of member.propose.
type MemberChange struct {
	Candidate Member `json:"candidate"`
	Action    string `json:"action"` // add, remove or rekey
}

// Vote is the argument of member.vote.
type Vote struct {
	Candidate string `json:"candidate"`
	Vote      string `json:"vote"` // yes or no
}

// Yes reports whether the vote is in favour.
func (v Vote) Yes() bool { return v.Vote == "yes" }

// AnchorArgs is the argument of anchor.put. Prev is the ID of the
// member's latest anchor, the one this anchor extends ("" for its first):
// a member's anchors form a chain that no command can shorten or fork.
type AnchorArgs struct {
	Seq  uint64 `json:"seq"`
	Head string `json:"head"`
	Prev string `json:"prev"`
}

// PolicyArgs is the argument of policy.put.
type PolicyArgs struct {
	Hash string `json:"hash"`
}

// runOp applies one command at raft log index at.
func runOp(tx *bolt.Tx, c Command, by Member, members *memberIndex, at uint64) ([]MembershipChange, error) {
	switch c.Op {
	case OpProjectPropose:
		var a ProjectProposal
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return nil, proposeProject(tx, c, by, a, members)
	case OpProjectJoin, OpProjectClose:
		var a ProjectRef
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return nil, changeProject(tx, c, by, a.ID, "")
	case OpProjectAttach:
		var a DatasetAttachment
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return nil, changeProject(tx, c, by, a.ID, a.Dataset)
	case OpProjectApprove:
		var a Approval
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return nil, approve(tx, c, by, a)
	case OpProjectDecline:
		var a Approval
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return nil, decline(tx, c, by, a)
	case OpMemberPropose:
		var a MemberChange
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return proposeMember(tx, c, by, a, at)
	case OpMemberVote:
		var a Vote
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return vote(tx, c, by, a, at)
	case OpAnchorPut:
		var a AnchorArgs
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		return nil, putAnchor(tx, c, by, a)
	case OpPolicyPut:
		var a PolicyArgs
		if err := decodeArgs(c, &a); err != nil {
			return nil, err
		}
		if len(a.Hash) != 64 {
			return nil, reject(c.Op, "policy hash must be a hex SHA-256")
		}
		return nil, put(tx, bPolicies, by.Name, PolicyHash{Member: by.Name, Hash: a.Hash, TS: c.TS})
	default:
		if handled, err := runAgreementOp(tx, c, by); handled {
			return nil, err
		}
		if handled, err := runModuleOp(tx, c, by, members); handled {
			return nil, err
		}
		return nil, reject(c.Op, "unknown operation %q", c.Op)
	}
}

// putAnchor appends an anchor to the member's chain of anchors: it must
// extend the latest one (name its ID) with a higher sequence number. Every
// anchor stays in the registry, so a trail rewritten below any of them is
// caught, however far the node later writes past it.
func putAnchor(tx *bolt.Tx, c Command, by Member, a AnchorArgs) error {
	if !isHexSHA256(a.Head) {
		return reject(c.Op, "anchor head must be a lower-case hex SHA-256")
	}
	latest, err := get[Anchor](tx, bAnchors, by.Name)
	switch {
	case err == nil:
		if a.Prev != latest.ID {
			return reject(c.Op, "anchor does not extend %s's latest anchor (seq %d, id %.12s): it names %q", by.Name, latest.Seq, latest.ID, a.Prev)
		}
		if a.Seq <= latest.Seq {
			return reject(c.Op, "anchor seq %d does not follow the anchored seq %d", a.Seq, latest.Seq)
		}
	case errors.Is(err, ErrNotFound):
		if a.Prev != "" {
			return reject(c.Op, "%s has no anchor yet, so its first anchor extends none (prev must be empty)", by.Name)
		}
	default:
		return err
	}
	if a.Seq == 0 {
		return reject(c.Op, "anchor seq must be at least 1")
	}
	next := Anchor{Member: by.Name, Seq: a.Seq, Head: a.Head, Prev: a.Prev, TS: c.TS}
	next.ID = next.computeID()
	if err := putAnchorLink(tx, next); err != nil {
		return err
	}
	return put(tx, bAnchors, by.Name, next)
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

func proposeProject(tx *bolt.Tx, c Command, by Member, a ProjectProposal, members *memberIndex) error {
	if !idPattern.MatchString(a.ID) {
		return reject(c.Op, "project id %q must be lower-case letters, digits, '.', '_' or '-'", a.ID)
	}
	if tx.Bucket(bProjects).Get([]byte(a.ID)) != nil {
		return rejectCode(c.Op, codeExists, "project %q already exists", a.ID)
	}
	if strings.TrimSpace(a.Title) == "" {
		return reject(c.Op, "the project title is empty")
	}
	if len(a.Themes) == 0 {
		return reject(c.Op, "a project needs at least one theme (%s)", strings.Join(Themes, ", "))
	}
	for _, t := range a.Themes {
		if !slices.Contains(Themes, t) {
			return reject(c.Op, "theme %q is not one of %s", t, strings.Join(Themes, ", "))
		}
	}
	if !slices.Contains(a.Partners, by.Name) {
		return reject(c.Op, "the proposing member %s must be one of the partners", by.Name)
	}
	countries := map[string]bool{}
	for _, p := range a.Partners {
		m, ok := members.named(p)
		if !ok {
			return reject(c.Op, "partner %q is not a member of the federation", p)
		}
		countries[m.Country] = true
	}
	if len(countries) < 2 {
		return reject(c.Op, "a joint cross-border project needs partners from at least two countries")
	}
	for _, d := range a.Datasets {
		owner, rest, ok := strings.Cut(d, "/")
		if !ok || rest == "" || !slices.Contains(a.Partners, owner) {
			return reject(c.Op, "dataset %q must be owner/id with a partner as owner", d)
		}
	}
	p := Project{
		ID: a.ID, Title: a.Title, Themes: sortedSet(a.Themes), Lead: by.Name, Partners: sortedSet(a.Partners),
		Datasets: []string{}, EthicsRef: strings.TrimSpace(a.EthicsRef), Created: c.TS, Status: "active",
	}
	// The lead's own datasets are in at once; another partner's dataset
	// waits for its owner's approval: naming a partner's data in a
	// proposal must not hand it to the others.
	for _, d := range sortedSet(a.Datasets) {
		if datasetOwner(d) == by.Name {
			p.Datasets = append(p.Datasets, d)
			continue
		}
		p.Pending = append(p.Pending, PendingChange{Kind: PendingAttach, Dataset: d, By: by.Name, Requested: c.TS,
			Approvals: []string{by.Name}})
	}
	return put(tx, bProjects, p.ID, p)
}

func datasetOwner(d string) string {
	owner, _, _ := strings.Cut(d, "/")
	return owner
}

// changeProject applies join (a request until approved), attach (at once
// when the owner is a partner, else a request) and close.
func changeProject(tx *bolt.Tx, c Command, by Member, id, dataset string) error {
	p, err := get[Project](tx, bProjects, id)
	if err != nil {
		return reject(c.Op, "no project %q", id)
	}
	if p.Status != "active" {
		return reject(c.Op, "project %q is closed", id)
	}
	partner := slices.Contains(p.Partners, by.Name)
	switch c.Op {
	case OpProjectJoin:
		if partner {
			return reject(c.Op, "%s is already a partner of %q", by.Name, id)
		}
		if i, ok := p.PendingJoin(by.Name); ok {
			return reject(c.Op, "%s has already asked to join %q; it waits for %s", by.Name, id,
				strings.Join(p.Awaiting(p.Pending[i]), ", "))
		}
		p.Pending = append(p.Pending, PendingChange{Kind: PendingJoin, Member: by.Name, By: by.Name, Requested: c.TS,
			Approvals: []string{}})
	case OpProjectAttach:
		owner, rest, ok := strings.Cut(dataset, "/")
		if !ok || rest == "" || owner != by.Name {
			return reject(c.Op, "dataset %q must be %s/ID: a member attaches its own datasets", dataset, by.Name)
		}
		if slices.Contains(p.Datasets, dataset) {
			return reject(c.Op, "dataset %q is already attached to %q", dataset, id)
		}
		if _, ok := p.PendingAttachment(dataset); ok {
			return reject(c.Op, "dataset %q already waits for approval to be attached to %q", dataset, id)
		}
		if partner {
			p.Datasets = sortedSet(append(p.Datasets, dataset))
			break
		}
		// The owner is not in the project: its lead decides whether the
		// project takes the data.
		if pendingBy(p, by.Name) >= MaxPendingPerMember {
			return reject(c.Op, "%s already has %d requests waiting in %q; wait for them to be decided", by.Name, MaxPendingPerMember, id)
		}
		p.Pending = append(p.Pending, PendingChange{Kind: PendingAttach, Dataset: dataset, By: by.Name, Requested: c.TS,
			Approvals: []string{by.Name}})
	case OpProjectClose:
		if p.Lead != by.Name {
			return reject(c.Op, "only the lead, %s, may close %q", p.Lead, id)
		}
		p.Status, p.Closed = "closed", c.TS
		p.Pending = nil // nothing can be approved any more
	}
	return put(tx, bProjects, p.ID, p)
}

// pendingChange finds the project and the pending change an approval or
// a refusal names, or rejects the command.
func pendingChange(tx *bolt.Tx, c Command, a Approval) (p Project, i int, what string, err error) {
	p, err = get[Project](tx, bProjects, a.ID)
	if err != nil {
		return p, 0, "", reject(c.Op, "no project %q", a.ID)
	}
	if p.Status != "active" {
		return p, 0, "", reject(c.Op, "project %q is closed", a.ID)
	}
	var ok bool
	switch {
	case a.Member != "" && a.Dataset == "":
		i, ok = p.PendingJoin(a.Member)
		what = fmt.Sprintf("%s joining %q", a.Member, a.ID)
	case a.Dataset != "" && a.Member == "":
		i, ok = p.PendingAttachment(a.Dataset)
		what = fmt.Sprintf("attaching %s to %q", a.Dataset, a.ID)
	default:
		return p, 0, "", reject(c.Op, "an approval names either a member or a dataset")
	}
	if !ok {
		return p, 0, "", reject(c.Op, "nothing waits for approval: no pending %s", what)
	}
	return p, i, what, nil
}

// decline drops a pending change: refused by one of its approvers, or
// withdrawn by the member that asked.
func decline(tx *bolt.Tx, c Command, by Member, a Approval) error {
	p, i, what, err := pendingChange(tx, c, a)
	if err != nil {
		return err
	}
	ch := p.Pending[i]
	if ch.By != by.Name && !slices.Contains(p.Approvers(ch), by.Name) {
		return reject(c.Op, "%s may not decline %s: only its approvers (%s) refuse it, and %s withdraws it", by.Name, what,
			strings.Join(p.Approvers(ch), ", "), ch.By)
	}
	p.Pending = slices.Delete(p.Pending, i, i+1)
	if len(p.Pending) == 0 {
		p.Pending = nil
	}
	return put(tx, bProjects, p.ID, p)
}

// approve records one required approval of a pending change and applies
// the change once every required approver has approved.
func approve(tx *bolt.Tx, c Command, by Member, a Approval) error {
	p, i, what, err := pendingChange(tx, c, a)
	if err != nil {
		return err
	}
	ch := p.Pending[i]
	if !slices.Contains(p.Approvers(ch), by.Name) {
		return reject(c.Op, "%s is not asked to approve %s (the approvers are %s)", by.Name, what, strings.Join(p.Approvers(ch), ", "))
	}
	if slices.Contains(ch.Approvals, by.Name) {
		return reject(c.Op, "%s has already approved %s", by.Name, what)
	}
	ch.Approvals = sortedSet(append(ch.Approvals, by.Name))
	p.Pending[i] = ch
	settle(&p)
	return put(tx, bProjects, p.ID, p)
}

// settle applies, in order, every pending change that awaits nobody, until
// none does: a join that completes can complete another change (a
// dataset its new partner offered needed the lead only while its owner
// was not a partner).
func settle(p *Project) {
	for {
		i := slices.IndexFunc(p.Pending, func(c PendingChange) bool { return len(p.Awaiting(c)) == 0 })
		if i < 0 {
			break
		}
		ch := p.Pending[i]
		p.Pending = slices.Delete(p.Pending, i, i+1)
		switch ch.Kind {
		case PendingJoin:
			p.Partners = sortedSet(append(p.Partners, ch.Member))
		case PendingAttach:
			p.Datasets = sortedSet(append(p.Datasets, ch.Dataset))
		}
	}
	if len(p.Pending) == 0 {
		p.Pending = nil
	}
}

// MaxPendingPerMember bounds the changes one member may have waiting in
// one project, so that nobody fills a project's record with requests its
// approvers must decline one by one.
const MaxPendingPerMember = 16

func pendingBy(p Project, member string) int {
	n := 0
	for _, c := range p.Pending {
		if c.By == member {
			n++
		}
	}
	return n
}

func proposeMember(tx *bolt.Tx, c Command, by Member, a MemberChange, at uint64) ([]MembershipChange, error) {
	if a.Action == ActionRekey {
		var err error
		if a.Candidate, err = rekeyCandidate(tx, c, by, a.Candidate); err != nil {
			return nil, err
		}
	} else if err := validCandidate(c.Op, a.Candidate); err != nil {
		return nil, err
	}
	if tx.Bucket(bProposals).Get([]byte(a.Candidate.Name)) != nil {
		return nil, reject(c.Op, "a proposal about %s is already open", a.Candidate.Name)
	}
	existing, isMember := get[Member](tx, bMembers, a.Candidate.Name)
	switch a.Action {
	case ActionAdd:
		if isMember == nil {
			return nil, reject(c.Op, "%s is already a member", a.Candidate.Name)
		}
		if holder, taken := keyHolder(tx, a.Candidate.PeerID); taken {
			return nil, reject(c.Op, "peer ID %s already belongs to a member (%s)", a.Candidate.PeerID, holder.Name)
		}
	case ActionRemove:
		if isMember != nil || existing.PeerID != a.Candidate.PeerID {
			return nil, reject(c.Op, "%s is not a member with peer ID %s", a.Candidate.Name, a.Candidate.PeerID)
		}
		if tx.Bucket(bMembers).Stats().KeyN <= 1 {
			return nil, reject(c.Op, "the last member cannot be removed")
		}
	case ActionRekey:
		// checked by rekeyCandidate
	default:
		return nil, reject(c.Op, "action %q is not add, remove or rekey", a.Action)
	}
	if a.Action != ActionRekey {
		a.Candidate.Voter, a.Candidate.Founding, a.Candidate.Joined, a.Candidate.FormerKeys = false, false, 0, nil
	}
	p := Proposal{Candidate: a.Candidate, Action: a.Action, ProposedBy: by.Name, Opened: c.TS,
		Votes: map[string]bool{by.Name: true}}
	return tally(tx, c, p, at)
}

// rekeyCandidate checks a re-key proposal and returns its candidate: the
// member's record as it stands (name, country, organisation, raft role,
// founding, admission, former keys) with the new peer ID and addresses.
//
// The member being re-keyed neither proposes nor votes: its current key
// may be the stolen one, and a thief must not be able to move the
// member's seat to a key of its own. The other members decide.
func rekeyCandidate(tx *bolt.Tx, c Command, by Member, cand Member) (Member, error) {
	if !namePattern.MatchString(cand.Name) {
		return Member{}, reject(c.Op, "member name %q must be lower-case letters, digits and dashes", cand.Name)
	}
	m, err := get[Member](tx, bMembers, cand.Name)
	if err != nil {
		return Member{}, reject(c.Op, "%s is not a member: only a member's key is replaced (propose a new member with action add)", cand.Name)
	}
	if by.Name == m.Name {
		return Member{}, reject(c.Op, "%s may not propose replacing its own key: another member proposes it, and the others vote", m.Name)
	}
	if cand.Country != "" && cand.Country != m.Country {
		return Member{}, reject(c.Op, "a re-key keeps the member's country: %s is in %s, not %q", m.Name, m.Country, cand.Country)
	}
	if cand.Org != "" && cand.Org != m.Org {
		return Member{}, reject(c.Op, "a re-key keeps the member's organisation: %s is %q, not %q", m.Name, m.Org, cand.Org)
	}
	if err := validPeerID(c.Op, cand.PeerID); err != nil {
		return Member{}, err
	}
	if cand.PeerID == m.PeerID {
		return Member{}, reject(c.Op, "peer ID %s is already the key of %s", cand.PeerID, m.Name)
	}
	if holder, used := keyHolder(tx, cand.PeerID); used {
		return Member{}, reject(c.Op, "peer ID %s is or was the key of %s; a re-key needs a key never used in the federation", cand.PeerID, holder.Name)
	}
	next := m
	next.PeerID = cand.PeerID
	next.Addrs = slices.Clone(cand.Addrs)
	return next, nil
}

func vote(tx *bolt.Tx, c Command, by Member, a Vote, at uint64) ([]MembershipChange, error) {
	p, err := get[Proposal](tx, bProposals, a.Candidate)
	if err != nil {
		return nil, reject(c.Op, "no open proposal about %q", a.Candidate)
	}
	if _, voted := p.Votes[by.Name]; voted {
		return nil, reject(c.Op, "%s has already voted on %s", by.Name, a.Candidate)
	}
	if p.Action == ActionRekey && by.Name == p.Candidate.Name {
		return nil, reject(c.Op, "%s may not vote on replacing its own key: the other members decide", by.Name)
	}
	if a.Vote != "yes" && a.Vote != "no" {
		return nil, reject(c.Op, "a vote is yes or no, not %q", a.Vote)
	}
	p.Votes[by.Name] = a.Yes()
	return tally(tx, c, p, at)
}

// RekeyMajority is how many yes votes replace the key of one of n members:
// the majority an admission needs, from the members other than the one
// re-keyed (all of them when they are fewer).
func RekeyMajority(n int) int { return min(n/2+1, n-1) }

// tally decides a proposal once a majority of current members voted yes,
// or once a yes majority has become impossible; otherwise it stays open.
// A re-key counts the votes of the other members only (RekeyMajority).
func tally(tx *bolt.Tx, c Command, p Proposal, at uint64) ([]MembershipChange, error) {
	members, err := list[Member](tx, bMembers)
	if err != nil {
		return nil, err
	}
	yes, no, electorate := 0, 0, 0
	for _, m := range members {
		if p.Action == ActionRekey && m.Name == p.Candidate.Name {
			continue
		}
		electorate++
		if v, ok := p.Votes[m.Name]; ok {
			if v {
				yes++
			} else {
				no++
			}
		}
	}
	majority := len(members)/2 + 1
	if p.Action == ActionRekey {
		majority = RekeyMajority(len(members))
	}
	switch {
	case yes >= majority && p.Action == ActionRekey:
		// rekey refuses before it writes: the proposal stays open then.
		ch, err := rekey(tx, c, p.Candidate, at)
		if err != nil {
			return nil, err
		}
		return ch, tx.Bucket(bProposals).Delete([]byte(p.Candidate.Name))
	case yes >= majority:
		if err := tx.Bucket(bProposals).Delete([]byte(p.Candidate.Name)); err != nil {
			return nil, err
		}
		m := p.Candidate
		if p.Action == ActionRemove {
			return []MembershipChange{{Member: m}}, tx.Bucket(bMembers).Delete([]byte(m.Name))
		}
		voters := 0
		for _, x := range members {
			if x.Voter {
				voters++
			}
		}
		m.Voter, m.Joined = voters < MaxVoters, c.TS
		return []MembershipChange{{Member: m, Added: true}}, put(tx, bMembers, m.Name, m)
	case electorate-no < majority:
		return nil, tx.Bucket(bProposals).Delete([]byte(p.Candidate.Name))
	default:
		return nil, put(tx, bProposals, p.Candidate.Name, p)
	}
}

// rekey applies a decided re-key: the member's record as it stands now
// takes the new peer ID, and its current key joins its former keys. From
// this entry on the old key signs nothing any replica accepts. The new
// key is checked again (another proposal may have taken it meanwhile),
// before anything is written.
func rekey(tx *bolt.Tx, c Command, cand Member, at uint64) ([]MembershipChange, error) {
	m, err := get[Member](tx, bMembers, cand.Name)
	if err != nil {
		return nil, reject(c.Op, "%s is no longer a member", cand.Name)
	}
	if holder, used := keyHolder(tx, cand.PeerID); used {
		return nil, reject(c.Op, "peer ID %s has become the key of %s meanwhile", cand.PeerID, holder.Name)
	}
	former := m.PeerID
	m.FormerKeys = append(slices.Clone(m.FormerKeys), FormerKey{PeerID: former, Since: m.KeySince(), Until: c.TS, UntilIndex: at})
	m.PeerID, m.Addrs = cand.PeerID, cand.Addrs
	return []MembershipChange{{Member: m, FormerPeerID: former}}, put(tx, bMembers, m.Name, m)
}

// sortedSet returns the distinct values in order: the state never depends
// on the order a submitter listed them in.
func sortedSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}
