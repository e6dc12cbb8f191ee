package consensus

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
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
	snaps *raft.FileSnapshotStore
	trans *raft.NetworkTransport
	raft  *raft.Raft

	// testHookCopyEntry, when set, runs as a backup copies each log
	// entry (backup.go).
	testHookCopyEntry func(index uint64)

	queue   chan *pending
	changes chan MembershipChange
	// leaders signals each change of leader to writes waiting for one.
	leaders *leaderWatch
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

// Deps are the registry's collaborators.
type Deps struct {
	// Host carries raft and the forwarding protocols; its peer ID is this
	// member's raft server ID.
	Host host.Host
	// Key signs this member's commands; it is the key of Host's peer ID.
	Key ed25519.PrivateKey
	// Genesis are the founding members: the state a new registry starts
	// from, and the first raft configuration.
	Genesis []Member
	// Log gets the registry's and raft's log lines (default: discard).
	Log *slog.Logger
}

// Open opens (or creates) the registry in cfg.Dir and joins raft over the
// host. Founding members bootstrap the cluster from the genesis on their
// first start; a node with raft state never bootstraps again, and a member
// admitted later waits for the leader to add it.
func Open(cfg Config, deps Deps) (_ *Registry, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("registry configuration: %w", err)
	}
	if deps.Host == nil || deps.Key == nil {
		return nil, errors.New("open registry: a host and its key are needed")
	}
	h, key, genesis, log := deps.Host, deps.Key, deps.Genesis, deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raftDir := filepath.Join(cfg.Dir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, host: h, self: h.ID(), key: key, log: log,
		queue: make(chan *pending, 4096), changes: make(chan MembershipChange, 64), leaders: newLeaderWatch(),
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
	hlog := newRaftLogger(log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("open raft snapshots: %w", err)
	}
	r.snaps = snaps
	layer, err := newStreamLayer(r.ctx, h)
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
	r.wg.Add(3)
	go func() { defer r.wg.Done(); r.batch() }()
	go func() { defer r.wg.Done(); r.reconcile() }()
	go func() { defer r.wg.Done(); r.watchLeader() }()
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

// keyAppliedHighWater is the stable-store key of the applied index a
// clean stop left.
var keyAppliedHighWater = []byte("xborder_applied_high_water")

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
