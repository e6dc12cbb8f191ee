package consensus

import (
	"context"
	"fmt"
	"sync"
)

// NotAppliedError is a command the registry committed at Index that this
// replica had not applied (it had applied up to Applied) when the wait for
// it ended: the write happened, but reads on this node do not show it yet.
type NotAppliedError struct {
	Index   uint64
	Applied uint64
	Err     error // why the wait ended (the context's error)
}

func (e *NotAppliedError) Error() string {
	return fmt.Sprintf("committed at index %d but not yet applied on this node (applied up to %d): this replica is behind, or cannot write; reads here do not show the change yet", e.Index, e.Applied)
}

func (e *NotAppliedError) Unwrap() error { return e.Err }

// appliedSignal wakes those waiting for the replica to apply an index.
type appliedSignal struct {
	mu sync.Mutex
	ch chan struct{} // closed at the next apply; nil until someone waits
}

// next returns a channel closed by the next notify.
func (s *appliedSignal) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *appliedSignal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// WaitApplied returns once the local replica has applied index: a member
// then reads its own write. When ctx ends first it returns a
// *NotAppliedError; ErrClosed once the registry closes.
func (r *Registry) WaitApplied(ctx context.Context, index uint64) error {
	for {
		next := r.fsm.applied.next()
		applied := r.AppliedIndex()
		if applied >= index {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return &NotAppliedError{Index: index, Applied: r.AppliedIndex(), Err: ctx.Err()}
		case <-r.ctx.Done():
			return ErrClosed
		}
	}
}
