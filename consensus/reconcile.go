package consensus

import (
	"time"

	"github.com/hashicorp/raft"
)

// reconcile keeps raft's configuration equal to the registry's members:
// the leader adds admitted members (voters up to MaxVoters) and removes
// members voted out. It runs on every change and every few seconds, so a
// change survives a leader change.
func (r *Registry) reconcile() {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		case <-r.changes:
		}
		if r.raft.State() != raft.Leader {
			continue
		}
		if err := r.reconcileOnce(); err != nil {
			r.log.Warn("registry membership reconciliation", "err", err)
		}
	}
}

// selfRemovalBarrier bounds the wait for the leader's replica to apply
// everything committed before it removes itself from raft.
const selfRemovalBarrier = 5 * time.Second

// reconcileOnce removes the servers of former members and of replaced
// keys first, then adds the missing ones: after a re-key the old key's
// server leaves before the new one joins, so that a voter whose node is
// down (its key lost) never makes the quorum larger than the members
// still up can reach.
func (r *Registry) reconcileOnce() error {
	cf := r.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	inRaft := map[string]raft.ServerSuffrage{}
	for _, s := range cf.Configuration().Servers {
		inRaft[string(s.ID)] = s.Suffrage
	}
	members, err := r.Members()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, m := range members {
		want[m.PeerID] = true
	}
	self := r.self.String()
	if !want[self] {
		return r.removeSelf()
	}
	for id := range inRaft {
		if !want[id] {
			r.log.Info("removing raft server of a former member or replaced key", "peer", id)
			if err := r.raft.RemoveServer(raft.ServerID(id), 0, 0).Error(); err != nil {
				return err
			}
		}
	}
	for _, m := range members {
		id := raft.ServerID(m.PeerID)
		suffrage, present := inRaft[m.PeerID]
		switch {
		case m.Voter && (!present || suffrage != raft.Voter):
			r.log.Info("adding raft voter", "member", m.Name)
			if err := r.raft.AddVoter(id, raft.ServerAddress(m.PeerID), 0, 0).Error(); err != nil {
				return err
			}
		case !m.Voter && !present:
			r.log.Info("adding raft non-voter", "member", m.Name)
			if err := r.raft.AddNonvoter(id, raft.ServerAddress(m.PeerID), 0, 0).Error(); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeSelf takes a leader that is no longer a member's key (voted out,
// or replaced by a re-key) out of raft: it steps down, and a member's
// node leads and reconciles the rest. A leader elected moments ago may
// not have applied its own admission yet, so it first waits for its
// replica to apply everything committed before deciding.
func (r *Registry) removeSelf() error {
	if err := r.raft.Barrier(selfRemovalBarrier).Error(); err != nil {
		return err
	}
	if r.IsMember(r.self) {
		return nil
	}
	r.log.Warn("this node's key is no longer a member's: leaving raft", "peer", r.self)
	return r.raft.RemoveServer(raft.ServerID(r.self.String()), 0, 0).Error()
}
