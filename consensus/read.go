package consensus

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"
)

// Members lists the members from the local replica, by name.
func (r *Registry) Members() ([]Member, error) {
	var out []Member
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = list[Member](tx, bMembers)
		return err
	})
	return out, err
}

// IsMember reports whether the local replica lists the peer as a member.
func (r *Registry) IsMember(p peer.ID) bool {
	ok := false
	_ = r.fsm.view(func(tx *bolt.Tx) error {
		_, ok = memberByPeer(tx, p.String())
		return nil
	})
	return ok
}

// Projects lists the joint projects from the local replica, by ID.
func (r *Registry) Projects() ([]Project, error) {
	var out []Project
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = list[Project](tx, bProjects)
		return err
	})
	return out, err
}

// Project returns one project, or an error wrapping ErrNotFound.
func (r *Registry) Project(id string) (Project, error) {
	var p Project
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		p, err = get[Project](tx, bProjects, id)
		return err
	})
	return p, err
}

// Anchor returns the audit head a member last anchored, or an error
// wrapping ErrNotFound.
func (r *Registry) Anchor(member string) (Anchor, error) {
	var a Anchor
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		a, err = get[Anchor](tx, bAnchors, member)
		return err
	})
	return a, err
}

// Anchors returns every anchor a member committed, oldest first: its
// chain of anchors (VerifyAnchorChain checks it).
func (r *Registry) Anchors(member string) ([]Anchor, error) {
	var out []Anchor
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = anchorChain(tx, member)
		return err
	})
	return out, err
}

// Proposals lists the open membership proposals.
func (r *Registry) Proposals() ([]Proposal, error) {
	var out []Proposal
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = list[Proposal](tx, bProposals)
		return err
	})
	return out, err
}

// AppliedIndex is the last log index applied to the local replica: every
// read reflects at least that index.
func (r *Registry) AppliedIndex() uint64 {
	var idx uint64
	_ = r.fsm.view(func(tx *bolt.Tx) error {
		idx = u64(tx.Bucket(bMeta).Get(keyApplied))
		return nil
	})
	return idx
}

// Current returns nil once the local replica is at least as new as it was
// when the node last stopped. At start raft restores its latest snapshot
// and applies the log after it only as a leader confirms it, so until then
// reads may show what the registry has since undone (a revoked agreement
// as active, a closed project as open): callers that decide with registry
// facts refuse meanwhile. In a minority this lasts until the partition
// heals.
func (r *Registry) Current() error {
	if applied := r.AppliedIndex(); applied < r.fsm.resumeAt {
		return fmt.Errorf("%w: applied up to index %d of the %d it held before", ErrCatchingUp, applied, r.fsm.resumeAt)
	}
	return nil
}

// StateHash is the hash of the local replica's content.
func (r *Registry) StateHash() string {
	var h string
	_ = r.fsm.view(func(tx *bolt.Tx) error {
		h = stateHash(tx)
		return nil
	})
	return h
}

// Status is the raft view of this replica.
type Status struct {
	State        string   `json:"state"`
	Leader       string   `json:"leader"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Voters       []string `json:"voters"`
	NonVoters    []string `json:"non_voters"`
}

// Status reports raft's state, leader, term, indexes and configuration.
func (r *Registry) Status() Status {
	stats := r.raft.Stats()
	atoi := func(k string) uint64 { n, _ := strconv.ParseUint(stats[k], 10, 64); return n }
	_, leader := r.raft.LeaderWithID()
	s := Status{State: r.raft.State().String(), Leader: string(leader), Term: atoi("term"),
		CommitIndex: atoi("commit_index"), AppliedIndex: r.AppliedIndex(), Voters: []string{}, NonVoters: []string{}}
	if cf := r.raft.GetConfiguration(); cf.Error() == nil {
		for _, srv := range cf.Configuration().Servers {
			if srv.Suffrage == raft.Voter {
				s.Voters = append(s.Voters, string(srv.ID))
			} else {
				s.NonVoters = append(s.NonVoters, string(srv.ID))
			}
		}
	}
	return s
}

// Leader reports whether this replica is the leader.
func (r *Registry) Leader() bool { return r.raft.State() == raft.Leader }
