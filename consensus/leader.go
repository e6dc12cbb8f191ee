package consensus

import (
	"sync"

	"github.com/hashicorp/raft"
)

// leaderWatch tells a write waiting for a leader that raft has observed a
// change of leader, so that it tries again then rather than on a timer.
type leaderWatch struct {
	mu sync.Mutex
	ch chan struct{} // closed, and replaced, at each change
}

func newLeaderWatch() *leaderWatch { return &leaderWatch{ch: make(chan struct{})} }

// next is closed at the first change of leader after the call: take it
// before trying, so that a change during the attempt is not missed.
func (w *leaderWatch) next() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *leaderWatch) changed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// watchLeader forwards raft's leader observations to r.leaders until the
// registry closes.
func (r *Registry) watchLeader() {
	obs := make(chan raft.Observation, 8)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.raft.RegisterObserver(o)
	defer r.raft.DeregisterObserver(o)
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-obs:
			r.leaders.changed()
		}
	}
}
