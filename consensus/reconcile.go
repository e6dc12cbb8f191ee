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
	for id := range inRaft {
		if !want[id] && id != r.self.String() {
			r.log.Info("removing raft server of a former member", "peer", id)
			if err := r.raft.RemoveServer(raft.ServerID(id), 0, 0).Error(); err != nil {
				return err
			}
		}
	}
	return nil
}
