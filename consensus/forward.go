package consensus

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Forwarding: a follower sends the commands its clients submit to the
// leader on one long-lived stream per leader (RegistryPipelineProtocol):
// each request frame carries an ID and a signed command, each reply frame
// an ID and the leader's answer, in whatever order the answers come.
// Concurrent commands leave in one write and their answers come back in
// one, instead of a stream (open, protocol negotiation, close) per
// command. A leader that only speaks RegistryProtocol gets one stream per
// command, as before.

// maxPipelined bounds the commands of one forwarding stream that the
// leader holds at once; the leader stops reading the stream beyond that.
const maxPipelined = 4096

// states of a forwarded call
const (
	callQueued    int32 = iota // not written to the stream yet
	callSent                   // handed to the stream: it may reach the leader
	callAbandoned              // its submitter gave up before it was written
)

type fwdCall struct {
	id    uint64
	cmd   []byte
	state atomic.Int32
	reply chan fwdAnswer // one answer
}

// fwdAnswer is the leader's reply, or err when the stream failed first.
type fwdAnswer struct {
	rep forwardReply
	err error
}

// fwdSession is a follower's forwarding stream to one leader.
type fwdSession struct {
	r      *Registry
	leader peer.ID
	ready  chan struct{} // closed once opened (or not: openErr)
	// after ready:
	openErr error
	legacy  network.Stream // the leader speaks only RegistryProtocol
	s       network.Stream
	out     chan *fwdCall
	dead    chan struct{} // closed when the stream failed or closed

	mu     sync.Mutex
	next   uint64
	calls  map[uint64]*fwdCall
	closed bool
	err    error
}

// forward sends a command to the leader and waits for its answer.
func (r *Registry) forward(ctx context.Context, leader peer.ID, signed []byte) (uint64, error) {
	fs, legacy, err := r.session(ctx, leader)
	if err != nil {
		return 0, fmt.Errorf("reach leader %s: %w", leader, err)
	}
	if legacy != nil {
		return r.forwardOn(ctx, legacy, leader, signed)
	}
	rep, err := fs.call(ctx, signed)
	if err != nil {
		return 0, err
	}
	return rep.outcome()
}

// outcome turns the leader's answer into Submit's result.
func (rep forwardReply) outcome() (uint64, error) {
	switch {
	case rep.Rejected != "":
		return rep.Index, &RejectedError{Op: rep.Op, Reason: rep.Rejected, Code: rep.Code}
	case rep.Stale:
		return 0, &StaleError{Reason: rep.Error}
	case rep.NotLeader:
		return 0, errors.New(rep.Error) // refused before it was queued
	case rep.Error != "":
		return 0, fmt.Errorf("%w: %s", errMaybeApplied, rep.Error)
	}
	return rep.Index, nil
}

// session returns the forwarding stream to the leader, opening it if
// needed; or, for a leader without pipelining, a stream for one command.
func (r *Registry) session(ctx context.Context, leader peer.ID) (*fwdSession, network.Stream, error) {
	r.fwdMu.Lock()
	if r.closing {
		r.fwdMu.Unlock()
		return nil, nil, ErrClosed
	}
	fs := r.sessions[leader]
	opener := fs == nil
	var idle []*fwdSession
	if opener {
		fs = &fwdSession{r: r, leader: leader, ready: make(chan struct{})}
		r.sessions[leader] = fs
		// Leadership moved: streams to former leaders with nothing in
		// flight are closed.
		for p, o := range r.sessions {
			if p != leader && o.idle() {
				idle = append(idle, o)
			}
		}
	}
	r.fwdMu.Unlock()
	for _, o := range idle {
		o.fail(errors.New("leadership moved"))
	}
	if opener {
		fs.open(ctx)
	}
	select {
	case <-fs.ready:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if fs.openErr != nil {
		return nil, nil, fs.openErr
	}
	if fs.legacy != nil {
		return nil, fs.legacy, nil
	}
	return fs, nil, nil
}

func (fs *fwdSession) open(ctx context.Context) {
	r := fs.r
	defer close(fs.ready)
	ctx = network.WithForceDirectDial(ctx, "registry forward")
	s, err := r.host.NewStream(ctx, fs.leader, RegistryPipelineProtocol, RegistryProtocol)
	if err == nil && s.Protocol() != RegistryPipelineProtocol {
		// An older leader: this stream carries one command, and the
		// next command asks again.
		fs.legacy = s
	}
	if err != nil || fs.legacy != nil {
		fs.openErr = err
		r.fwdMu.Lock()
		if r.sessions[fs.leader] == fs {
			delete(r.sessions, fs.leader)
		}
		r.fwdMu.Unlock()
		return
	}
	fs.s, fs.out, fs.dead, fs.calls = s, make(chan *fwdCall, maxPipelined), make(chan struct{}), map[uint64]*fwdCall{}
	r.fwdMu.Lock()
	closing := r.closing
	r.fwdMu.Unlock()
	if closing {
		fs.fail(ErrClosed)
		return
	}
	go fs.writeLoop()
	go fs.readLoop()
}

// idle reports whether an opened session has no call in flight.
func (fs *fwdSession) idle() bool {
	select {
	case <-fs.ready:
	default:
		return false
	}
	if fs.s == nil {
		return false
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.calls) == 0
}

// call sends one command and waits for its answer. An error wraps
// errMaybeApplied when the command may have reached the leader.
func (fs *fwdSession) call(ctx context.Context, signed []byte) (forwardReply, error) {
	c := &fwdCall{cmd: signed, reply: make(chan fwdAnswer, 1)}
	fs.mu.Lock()
	if fs.closed {
		err := fs.err
		fs.mu.Unlock()
		return forwardReply{}, fmt.Errorf("reach leader %s: %w", fs.leader, err)
	}
	fs.next++
	c.id = fs.next
	fs.calls[c.id] = c
	fs.mu.Unlock()
	select {
	case fs.out <- c:
	case <-fs.dead: // fail answers c
	case <-ctx.Done():
		fs.forget(c.id)
		return forwardReply{}, ctx.Err()
	}
	select {
	case a := <-c.reply:
		if a.err == nil {
			return a.rep, nil
		}
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return forwardReply{}, fmt.Errorf("reach leader %s: %w", fs.leader, a.err)
		}
		// Bytes may have left in a stream buffer: a silent partition can
		// deliver them when it heals.
		return forwardReply{}, fmt.Errorf("%w: leader %s: %w", errMaybeApplied, fs.leader, a.err)
	case <-ctx.Done():
		fs.forget(c.id)
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return forwardReply{}, ctx.Err()
		}
		return forwardReply{}, fmt.Errorf("%w: no answer from leader %s: %w", errMaybeApplied, fs.leader, ctx.Err())
	}
}

func (fs *fwdSession) forget(id uint64) {
	fs.mu.Lock()
	delete(fs.calls, id)
	fs.mu.Unlock()
}

// fail closes the session and answers every call in flight with err.
func (fs *fwdSession) fail(err error) {
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return
	}
	fs.closed, fs.err = true, err
	calls := fs.calls
	fs.calls = nil
	fs.mu.Unlock()
	close(fs.dead)
	_ = fs.s.Reset()
	r := fs.r
	r.fwdMu.Lock()
	if r.sessions[fs.leader] == fs {
		delete(r.sessions, fs.leader)
	}
	r.fwdMu.Unlock()
	for _, c := range calls {
		c.reply <- fwdAnswer{err: err}
	}
}

// writeLoop writes the queued calls, as many as are waiting in one write.
func (fs *fwdSession) writeLoop() {
	bw := bufio.NewWriterSize(fs.s, 64<<10)
	for {
		var c *fwdCall
		select {
		case c = <-fs.out:
		case <-fs.dead:
			return
		}
		for more := true; more; {
			if c.state.CompareAndSwap(callQueued, callSent) {
				if err := writeIDFrame(bw, c.id, c.cmd); err != nil {
					fs.fail(fmt.Errorf("send to leader: %w", err))
					return
				}
			}
			select {
			case c = <-fs.out:
			default:
				more = false
			}
		}
		if err := bw.Flush(); err != nil {
			fs.fail(fmt.Errorf("send to leader: %w", err))
			return
		}
	}
}

// readLoop hands the leader's answers to their calls.
func (fs *fwdSession) readLoop() {
	br := bufio.NewReaderSize(fs.s, 16<<10)
	for {
		id, raw, err := readIDFrame(br)
		if err != nil {
			fs.fail(fmt.Errorf("read leader's answer: %w", err))
			return
		}
		var rep forwardReply
		if err := json.Unmarshal(raw, &rep); err != nil {
			fs.fail(fmt.Errorf("leader's answer: %w", err))
			return
		}
		fs.mu.Lock()
		c := fs.calls[id]
		delete(fs.calls, id)
		fs.mu.Unlock()
		if c != nil {
			c.reply <- fwdAnswer{rep: rep}
		}
	}
}

// forwardOn sends one command on its own stream (RegistryProtocol).
func (r *Registry) forwardOn(ctx context.Context, s network.Stream, leader peer.ID, signed []byte) (uint64, error) {
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := writeFrame(s, signed); err != nil {
		s.Reset()
		// Bytes may have left in a stream buffer: a silent partition can
		// deliver them when it heals.
		return 0, fmt.Errorf("%w: send to leader %s: %w", errMaybeApplied, leader, err)
	}
	_ = s.CloseWrite()
	raw, err := readFrame(s)
	if err != nil {
		s.Reset()
		return 0, fmt.Errorf("%w: read leader's answer: %w", errMaybeApplied, err)
	}
	var rep forwardReply
	if err := json.Unmarshal(raw, &rep); err != nil {
		return 0, fmt.Errorf("%w: leader's answer: %w", errMaybeApplied, err)
	}
	return rep.outcome()
}

// commandAge is how long ago, by this clock, a signed command says it was
// signed, and whether that is beyond StaleAfter. A command that does not
// parse is left to the FSM to refuse.
func commandAge(signed []byte) (time.Duration, bool) {
	c, err := parseCommand(signed)
	if err != nil {
		return 0, false
	}
	age := time.Since(time.UnixMilli(c.TS))
	return age, age > StaleAfter
}

// StaleAfter bounds how late a forwarded command may reach the leader,
// by the leader's clock against the command's timestamp: a command that
// sat in a connection's buffers through a partition is refused instead of
// committed long after its submitter gave up. It allows for clock skew
// between members far beyond NTP's.
const StaleAfter = 2 * time.Minute

// errNotLeader: a forwarded command reached a member that does not lead;
// it was refused before it was queued.
var errNotLeader = errors.New("not the leader")

// admitForwarded is the leader's check of a forwarded command before it
// is queued: nil, errNotLeader or a *StaleError.
func (r *Registry) admitForwarded(signed []byte) error {
	if r.raft.State() != raft.Leader {
		return errNotLeader
	}
	if age, stale := commandAge(signed); stale {
		return &StaleError{Reason: fmt.Sprintf("the command was signed %s ago, more than %s: its submitter no longer waits for it; submit it again", age.Round(time.Second), StaleAfter)}
	}
	return nil
}

// replyFor is the leader's answer for a forwarded command's outcome.
func replyFor(index uint64, err error) forwardReply {
	var rep forwardReply
	var rej *RejectedError
	var stale *StaleError
	switch {
	case err == nil:
		rep.Index = index
	case errors.As(err, &rej):
		rep.Index, rep.Op, rep.Rejected, rep.Code = index, rej.Op, rej.Reason, rej.Code
	case errors.Is(err, errNotLeader):
		rep.Error, rep.NotLeader = err.Error(), true
	case errors.As(err, &stale):
		rep.Error, rep.Stale = stale.Reason, true
	case errors.Is(err, ErrStale):
		rep.Error, rep.Stale = err.Error(), true
	default:
		rep.Error = err.Error()
	}
	return rep
}

// handleForward is the leader's side of RegistryProtocol: one command per
// stream.
func (r *Registry) handleForward(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(r.cfg.ApplyTimeout + 5*time.Second))
	signed, err := readFrame(s)
	if err != nil {
		s.Reset()
		return
	}
	var idx uint64
	if err = r.admitForwarded(signed); err == nil {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.ApplyTimeout)
		idx, err = r.propose(ctx, signed)
		cancel()
	}
	if err := writeJSONFrame(s, replyFor(idx, err)); err != nil {
		s.Reset()
	}
}

// handlePipeline is the leader's side of RegistryPipelineProtocol: it
// queues each command as it arrives and writes each answer as its entry
// commits, as many as are ready in one write.
func (r *Registry) handlePipeline(s network.Stream) {
	if !r.serve(s) {
		_ = s.Reset()
		return
	}
	defer r.unserve(s)
	// Every command read holds a slot until its answer is written, and
	// results has room for every slot: committing never waits for this
	// stream.
	slots := make(chan struct{}, maxPipelined)
	results := make(chan result, maxPipelined)
	stop := make(chan struct{})
	written := make(chan struct{})
	go func() {
		defer close(written)
		r.pipelineWriter(s, results, slots, stop)
	}()
	defer func() {
		close(stop)
		<-written
		_ = s.Close()
	}()
	br := bufio.NewReaderSize(s, 64<<10)
	for {
		id, signed, err := readIDFrame(br)
		if err != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		if err := r.admitForwarded(signed); err != nil {
			results <- result{id: id, err: err}
			continue
		}
		select {
		case r.queue <- &pending{id: id, cmd: signed, done: results}:
		case <-r.ctx.Done():
			return
		}
	}
	// The submitter closed its side: answer what is in flight.
	for range maxPipelined {
		select {
		case slots <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
	}
}

func (r *Registry) pipelineWriter(s network.Stream, results <-chan result, slots <-chan struct{}, stop <-chan struct{}) {
	bw := bufio.NewWriterSize(s, 16<<10)
	broken := false
	for {
		var res result
		select {
		case res = <-results:
		case <-stop:
			return
		case <-r.ctx.Done():
			return
		}
		for more := true; more; {
			if !broken {
				raw, err := json.Marshal(replyFor(res.index, res.err))
				if err == nil {
					err = writeIDFrame(bw, res.id, raw)
				}
				if err != nil {
					broken = true
					_ = s.Reset()
				}
			}
			<-slots
			select {
			case res = <-results:
			default:
				more = false
			}
		}
		if !broken && bw.Flush() != nil {
			broken = true
			_ = s.Reset()
		}
	}
}

// serve records a pipelined stream the leader serves, for Close to reset.
func (r *Registry) serve(s network.Stream) bool {
	r.fwdMu.Lock()
	defer r.fwdMu.Unlock()
	if r.closing {
		return false
	}
	r.served[s] = struct{}{}
	return true
}

func (r *Registry) unserve(s network.Stream) {
	r.fwdMu.Lock()
	delete(r.served, s)
	r.fwdMu.Unlock()
}

// closeForwarding closes the forwarding streams both ways.
func (r *Registry) closeForwarding() {
	r.fwdMu.Lock()
	r.closing = true
	var sessions []*fwdSession
	for _, fs := range r.sessions {
		sessions = append(sessions, fs)
	}
	var served []network.Stream
	for s := range r.served {
		served = append(served, s)
	}
	r.fwdMu.Unlock()
	for _, fs := range sessions {
		select {
		case <-fs.ready:
			if fs.s != nil {
				fs.fail(ErrClosed)
			}
		default: // open sees closing
		}
	}
	for _, s := range served {
		_ = s.Reset()
	}
}
