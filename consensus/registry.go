package consensus

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// Config tunes the registry's raft.
type Config struct {
	// Dir holds raft/ (log store, snapshots) and registry.db (the state).
	Dir string
	// Timeouts for a cross-border network: members are tens of
	// milliseconds apart, so half a second of silence means trouble.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is the number of log entries between snapshots.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs are kept after a snapshot, so that a member that was
	// briefly away catches up from the log rather than a whole snapshot.
	TrailingLogs uint64
	// ApplyTimeout bounds one Submit.
	ApplyTimeout time.Duration
	// MaxBatch bounds how many concurrent commands share one log entry.
	MaxBatch int
}

// DefaultConfig returns the registry configuration for a data dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                dir,
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		SnapshotThreshold:  1024,
		SnapshotInterval:   2 * time.Minute,
		TrailingLogs:       10240,
		ApplyTimeout:       10 * time.Second,
		MaxBatch:           512,
	}
}

// Errors a caller may branch on.
var (
	ErrNoLeader = errors.New("the registry has no leader (a majority of voters is unreachable)")
	ErrClosed   = errors.New("the registry is closed")
	// ErrOutcomeUnknown: the command reached the leader (or its queue) but
	// no answer came back in time. It may still be committed, until the
	// leader's staleness bound (StaleAfter) has passed: read the registry
	// before submitting it again.
	ErrOutcomeUnknown = errors.New("the command reached the leader, but whether it was committed is unknown")
	// ErrStale: the leader refused a command signed more than StaleAfter
	// ago; it was not applied.
	ErrStale = errors.New("the leader refused a stale command")
)

// Registry is one member's replica of the federation registry.
type Registry struct {
	cfg   Config
	host  host.Host
	self  peer.ID
	key   ed25519.PrivateKey
	log   *slog.Logger
	fsm   *fsm
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
	raft  *raft.Raft

	queue   chan *pending
	changes chan MembershipChange
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once

	mu        sync.Mutex
	listeners []func(MembershipChange)

	// forwarding streams (forward.go)
	fwdMu    sync.Mutex
	sessions map[peer.ID]*fwdSession     // to leaders, as a follower
	served   map[network.Stream]struct{} // from followers, as the leader
	closing  bool
}

// pending is a command waiting for its batch to commit.
type pending struct {
	id   uint64 // a forwarded command's ID on its stream
	cmd  []byte
	done chan result
}

type result struct {
	id    uint64
	index uint64
	err   error
}

// Open opens (or creates) the registry in cfg.Dir and joins raft over the
// host. Founding members bootstrap the cluster from the genesis on their
// first start; a node with raft state never bootstraps again, and a member
// admitted later waits for the leader to add it.
func Open(cfg Config, h host.Host, key ed25519.PrivateKey, genesis []Member, log *slog.Logger) (_ *Registry, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raftDir := filepath.Join(cfg.Dir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, host: h, self: h.ID(), key: key, log: log,
		queue: make(chan *pending, 4096), changes: make(chan MembershipChange, 64),
		sessions: map[peer.ID]*fwdSession{}, served: map[network.Stream]struct{}{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	defer func() {
		// r, not the named result, which a failed return sets to nil.
		if err != nil {
			_ = r.Close()
		}
	}()
	if r.fsm, err = openFSM(filepath.Join(cfg.Dir, "registry.db"), genesis); err != nil {
		return nil, err
	}
	r.fsm.onChange = func(c MembershipChange) {
		select {
		case r.changes <- c:
		default:
			// The reconciler also runs periodically; a dropped nudge is
			// caught up there.
		}
		r.notify(c)
	}
	// The log store syncs every write (raft needs that), but not bbolt's
	// free-page list: bbolt rebuilds it by scanning the file when it
	// opens after a crash, and writing it on every append costs a page
	// write per entry that grows with the file.
	logOpts := &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
	logPath := filepath.Join(raftDir, "raft.db")
	// raft-boltdb opens the file itself: check it first, so that bbolt's
	// walk of a damaged file at open cannot panic where nobody recovers.
	if err := boltfile.Check(logPath, logOpts, boltfile.ResyncFromPartners); err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	if err := boltfile.Guard(logPath, boltfile.ResyncFromPartners, func() (err error) {
		r.store, err = raftboltdb.New(raftboltdb.Options{Path: logPath, BoltOptions: logOpts})
		return err
	}); err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{log}})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("open raft snapshots: %w", err)
	}
	layer, err := newStreamLayer(h)
	if err != nil {
		return nil, err
	}
	r.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 4, Timeout: 10 * time.Second, Logger: hlog,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(r.self.String())
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.Logger = hlog
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	existing, err := raft.HasExistingState(r.store, r.store, snaps)
	if err != nil {
		return nil, err
	}
	// registry.db is not synced per apply: after a crash it may hold less
	// than the node had applied. The log store is synced, and keeps the
	// high-water mark of each clean stop.
	if hw, err := r.store.GetUint64(keyAppliedHighWater); err == nil && hw > r.fsm.resumeAt {
		r.fsm.resumeAt = hw
	}
	if r.raft, err = raft.NewRaft(rc, r.fsm, r.store, r.store, snaps, r.trans); err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	if !existing && slices.ContainsFunc(genesis, func(m Member) bool { return m.PeerID == r.self.String() }) {
		if err := r.raft.BootstrapCluster(bootstrapConfig(genesis)).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("bootstrap raft from genesis: %w", err)
		}
	}
	h.SetStreamHandler(RegistryProtocol, r.handleForward)
	h.SetStreamHandler(RegistryPipelineProtocol, r.handlePipeline)
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.batch() }()
	go func() { defer r.wg.Done(); r.reconcile() }()
	return r, nil
}

// bootstrapConfig makes the founding members the first configuration:
// the first MaxVoters by name are voters, the others non-voters. Every
// founder computes the same configuration.
func bootstrapConfig(genesis []Member) raft.Configuration {
	sorted := slices.Clone(genesis)
	slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	var c raft.Configuration
	for i, m := range sorted {
		s := raft.Server{ID: raft.ServerID(m.PeerID), Address: raft.ServerAddress(m.PeerID), Suffrage: raft.Voter}
		if i >= MaxVoters {
			s.Suffrage = raft.Nonvoter
		}
		c.Servers = append(c.Servers, s)
	}
	return c
}

// OnMembershipChange registers a function called after a vote adds or
// removes a member (the node admits, dials or drops the peer).
func (r *Registry) OnMembershipChange(fn func(MembershipChange)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, fn)
}

func (r *Registry) notify(c MembershipChange) {
	r.mu.Lock()
	ls := slices.Clone(r.listeners)
	r.mu.Unlock()
	for _, fn := range ls {
		fn(c)
	}
}

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

func (r *Registry) submitSigned(ctx context.Context, signed []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ApplyTimeout)
	defer cancel()
	retried, delivered := false, false
	for {
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
		select {
		case <-ctx.Done():
			if delivered {
				return 0, fmt.Errorf("%w (last error: %v)", ErrOutcomeUnknown, err)
			}
			return 0, fmt.Errorf("%w (last error: %v)", ErrNoLeader, err)
		case <-time.After(50 * time.Millisecond):
		}
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

// keyAppliedHighWater is the stable-store key of the applied index a
// clean stop left.
var keyAppliedHighWater = []byte("xborder_applied_high_water")

// ErrCatchingUp is wrapped by Current while the replica is older than it
// was when the node last stopped.
var ErrCatchingUp = errors.New("the registry replica is catching up after a restart")

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

// Close leaves raft and closes the stores; it waits for its goroutines.
func (r *Registry) Close() error {
	var errs []error
	r.once.Do(func() {
		r.cancel()
		if r.host != nil {
			r.host.RemoveStreamHandler(RegistryProtocol)
			r.host.RemoveStreamHandler(RegistryPipelineProtocol)
		}
		r.closeForwarding()
		if r.raft != nil {
			errs = append(errs, r.raft.Shutdown().Error())
		}
		r.wg.Wait()
		if r.trans != nil {
			errs = append(errs, r.trans.Close())
		}
		if r.store != nil && r.fsm != nil {
			// What this replica had applied, synced: at the next start it
			// is not current before it has applied as much again.
			if applied := r.AppliedIndex(); applied > 0 {
				errs = append(errs, r.store.SetUint64(keyAppliedHighWater, applied))
			}
		}
		if r.store != nil {
			errs = append(errs, r.store.Close())
		}
		if r.fsm != nil {
			errs = append(errs, r.fsm.close())
		}
	})
	return errors.Join(errs...)
}

// slogWriter turns raft's hclog lines into structured log records.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimSpace(string(p)), "component", "raft")
	return len(p), nil
}
