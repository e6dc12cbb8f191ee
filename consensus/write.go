package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Submit signs a command as this member and has it committed: directly when
// this node leads, otherwise through the leader. It returns the log index,
// or a *RejectedError with the FSM's reason.
func (r *Registry) Submit(ctx context.Context, op string, args any) (uint64, error) {
	signed, err := SignCommand(r.key, r.self, op, args, time.Now().UnixMilli())
	if err != nil {
		return 0, err
	}
	return r.submitSigned(ctx, signed)
}

// A write that could not reach the leader tries again after a pause from
// submitRetryMin, doubling up to submitRetryMax, or as soon as raft
// observes a new leader.
const (
	submitRetryMin = 20 * time.Millisecond
	submitRetryMax = 250 * time.Millisecond
)

func (r *Registry) submitSigned(ctx context.Context, signed []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ApplyTimeout)
	defer cancel()
	retried, delivered := false, false
	pause := submitRetryMin
	for {
		leaderChanged := r.leaders.next()
		idx, err := r.submitOnce(ctx, signed)
		var rej *RejectedError
		if errors.Is(err, errMaybeApplied) {
			delivered = true
		}
		switch {
		case err == nil:
			return idx, nil
		case errors.As(err, &rej):
			if retried && errors.Is(err, ErrReplayed) {
				// An earlier attempt was committed although its answer
				// was lost: the command is applied, before the entry
				// that refused the replay, so that entry's index is one
				// at which a replica reflects it (a member reads its own
				// write once it has applied the index Submit returns).
				return idx, nil
			}
			return 0, err
		case errors.Is(err, ErrClosed), errors.Is(err, ErrStale):
			return 0, err
		}
		retried = true
		r.log.Debug("registry submit retry", "err", err)
		// Without a leader, the next attempt waits for raft to observe
		// one; a leader that did not answer is tried again after a
		// pause that grows, as the failure may be the network's.
		wait := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			wait.Stop()
			if delivered {
				return 0, fmt.Errorf("%w (last error: %v)", ErrOutcomeUnknown, err)
			}
			return 0, fmt.Errorf("%w (last error: %v)", ErrNoLeader, err)
		case <-leaderChanged:
			wait.Stop()
		case <-wait.C:
		}
		pause = min(2*pause, submitRetryMax)
	}
}

// submitOnce tries the current leader once.
func (r *Registry) submitOnce(ctx context.Context, signed []byte) (uint64, error) {
	if r.raft.State() == raft.Leader {
		return r.propose(ctx, signed)
	}
	addr, _ := r.raft.LeaderWithID()
	if addr == "" {
		return 0, ErrNoLeader
	}
	leader, err := peer.Decode(string(addr))
	if err != nil {
		return 0, err
	}
	return r.forward(ctx, leader, signed)
}

// propose queues a command for the leader's next log entry and waits.
func (r *Registry) propose(ctx context.Context, signed []byte) (uint64, error) {
	p := &pending{cmd: signed, done: make(chan result, 1)}
	select {
	case r.queue <- p:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-r.ctx.Done():
		return 0, ErrClosed
	}
	select {
	case res := <-p.done:
		return res.index, res.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", errMaybeApplied, ctx.Err()) // queued: it may still be committed
	case <-r.ctx.Done():
		return 0, ErrClosed
	}
}

// errMaybeApplied marks a submit attempt that may have reached the log:
// the command was queued or sent to the leader, and no answer came back.
var errMaybeApplied = errors.New("sent without an answer")

// inflight bounds the entries the leader has in flight: enough to keep
// replication busy while the previous entry is applied, few enough that
// concurrent commands gather into large entries.
const inflight = 2

// batch is the leader's group commit: while entries are being committed,
// the commands that arrive meanwhile gather into the next one, so many
// concurrent writers share one round of fsyncs.
func (r *Registry) batch() {
	slots := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		var batch []*pending
		select {
		case <-r.ctx.Done():
			<-slots
			return
		case p := <-r.queue:
			batch = append(batch, p)
		}
	drain:
		for len(batch) < r.cfg.MaxBatch {
			select {
			case p := <-r.queue:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.commit(batch)
			<-slots
		}()
	}
}

func (r *Registry) commit(batch []*pending) {
	e := entry{Cmds: make([]string, len(batch))}
	for i, p := range batch {
		e.Cmds[i] = string(p.cmd)
	}
	data, err := json.Marshal(e)
	if err != nil {
		for _, p := range batch {
			p.done <- result{id: p.id, err: err}
		}
		return
	}
	f := r.raft.Apply(data, r.cfg.ApplyTimeout)
	if err := r.wait(f); err != nil {
		if errors.Is(err, raft.ErrLeadershipLost) {
			// The entry is in this member's log and may be in others':
			// the next leader may commit it.
			err = fmt.Errorf("%w: %w", errMaybeApplied, err)
		}
		for _, p := range batch {
			p.done <- result{id: p.id, err: err}
		}
		return
	}
	errs, _ := f.Response().([]error)
	for i, p := range batch {
		res := result{id: p.id, index: f.Index()}
		if i < len(errs) {
			res.err = errs[i]
		}
		p.done <- res
	}
}

// wait returns the future's error, or ErrClosed once the registry closes.
// raft never resolves an apply future whose entry was committed but not yet
// handed to the FSM when it shut down, so waiting on the future alone could
// block Close for ever; the goroutine left waiting on such a future is the
// only thing left behind.
func (r *Registry) wait(f raft.ApplyFuture) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-r.ctx.Done():
		select {
		case err := <-done:
			return err
		default:
			return ErrClosed
		}
	}
}
