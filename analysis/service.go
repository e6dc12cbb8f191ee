package analysis

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/frame"
)

// Config configures the analysis service.
type Config struct {
	// DataDir holds analysis.db.
	DataDir string
	// QueryTTL is the validity of the queries this node signs.
	QueryTTL time.Duration
	// MaxMessage caps every frame read or written.
	MaxMessage int
	// RoundTimeout bounds one round with an owner: reading its dataset
	// the first time, computing, answering.
	RoundTimeout time.Duration
	// SessionIdle ends a GLM session that saw no iteration for this long.
	SessionIdle time.Duration
	// MaxSessions and MaxSessionsPerMember bound the GLM sessions an owner
	// holds (each holds a design matrix in memory).
	MaxSessions          int
	MaxSessionsPerMember int
	// MaxReleases bounds the results one member may receive on one
	// dataset: each release's rows are remembered to refuse differencing.
	MaxReleases int
	// MaxCachedTables bounds the parsed datasets an owner keeps in memory.
	MaxCachedTables int
	// MaxModuleRuns bounds the programs (predictors, modules) an owner
	// runs at once, each with the sandbox's memory limit; 0 means
	// DefaultMaxModuleRuns.
	MaxModuleRuns int
}

// DefaultMaxModuleRuns is how many programs an owner runs at once unless
// configured otherwise.
const DefaultMaxModuleRuns = 2

// maxLargeFrames bounds the opening frames larger than MaxMessage (those
// carrying a program) an owner reads at once: each holds up to
// MaxOpeningFrame, and its decoded bytes, in memory.
const maxLargeFrames = 2

// DefaultConfig returns the settings a node runs with.
func DefaultConfig(dataDir string) Config {
	return Config{
		DataDir:              dataDir,
		QueryTTL:             60 * time.Second,
		MaxMessage:           4 << 20,
		RoundTimeout:         2 * time.Minute,
		SessionIdle:          2 * time.Minute,
		MaxSessions:          16,
		MaxSessionsPerMember: 4,
		MaxReleases:          4096,
		MaxCachedTables:      4,
		MaxModuleRuns:        DefaultMaxModuleRuns,
	}
}

// Validate checks every field.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.QueryTTL <= 0 || c.QueryTTL > maxQueryLifetime {
		errs = append(errs, fmt.Errorf("QueryTTL %v must be positive and at most %v", c.QueryTTL, maxQueryLifetime))
	}
	if c.MaxMessage < 64<<10 || c.MaxMessage > 64<<20 {
		errs = append(errs, fmt.Errorf("MaxMessage %d must be between 64 KiB and 64 MiB", c.MaxMessage))
	}
	if c.RoundTimeout <= 0 || c.SessionIdle <= 0 {
		errs = append(errs, fmt.Errorf("RoundTimeout %v and SessionIdle %v must be positive", c.RoundTimeout, c.SessionIdle))
	}
	if c.MaxSessions <= 0 || c.MaxSessionsPerMember <= 0 || c.MaxSessionsPerMember > c.MaxSessions {
		errs = append(errs, fmt.Errorf("MaxSessionsPerMember %d must be positive and at most MaxSessions %d", c.MaxSessionsPerMember, c.MaxSessions))
	}
	if c.MaxModuleRuns < 0 {
		errs = append(errs, fmt.Errorf("MaxModuleRuns %d must not be negative", c.MaxModuleRuns))
	}
	if c.MaxReleases <= 0 || c.MaxCachedTables <= 0 {
		errs = append(errs, fmt.Errorf("MaxReleases %d and MaxCachedTables %d must be positive", c.MaxReleases, c.MaxCachedTables))
	}
	return errors.Join(errs...)
}

// maxQueryLifetime bounds exp−iat of a query: the owner keeps every jti
// until its query expires.
const maxQueryLifetime = 10 * time.Minute

// queryClockSkew is tolerated between the clocks of the asking node and
// the owner.
const queryClockSkew = 30 * time.Second

// Deps are the service's collaborators.
type Deps struct {
	Host host.Host
	// Key is the node key; its peer ID must be the host's and Self's.
	Key      ed25519.PrivateKey
	Self     Member
	Datasets Datasets
	Authz    Authorizer
	Registry Registry
	Recorder Recorder
	Log      *slog.Logger
	// Clock judges queries and sessions (nil: time.Now).
	Clock func() time.Time
	// Sandbox runs the programs of evaluations and module runs on this
	// node's data; nil: the node refuses them (it still asks others).
	Sandbox Runner
	// Ledger, when set, records every evaluation this node's researchers
	// complete (evaluation.commit); its failure is reported in the result,
	// and does not fail the analysis.
	Ledger Ledger
}

// Service is both sides of the federated analyses: it answers other
// members' queries on this node's datasets, and runs this node's
// researchers' analyses across the federation.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
	db   *store

	tables   *tableCache
	sessions *sessions
	runs     chan struct{} // a slot per program running
	large    chan struct{} // a slot per large frame being read

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	wg      sync.WaitGroup
	streams map[network.Stream]struct{}
	running map[string]*run // this node's analyses in progress, by ID
	hooks   hooks

	closeOnce sync.Once
	closeErr  error
}

// hooks let tests interfere with the owner's side; nil in production.
type hooks struct {
	// iterate runs before an owner computes a GLM iteration.
	iterate func(iteration int)
}

// New opens DATA/analysis.db and registers Protocol on the host.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("analysis config: %w", err)
	}
	if d.Host == nil || d.Datasets == nil || d.Authz == nil || d.Registry == nil || d.Recorder == nil {
		return nil, errors.New("analysis: host, datasets, authorizer, registry and recorder are required")
	}
	if len(d.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("analysis: the node key is not an Ed25519 private key")
	}
	if d.Self.PeerID != d.Host.ID() {
		return nil, fmt.Errorf("analysis: self (%s) and host (%s) must share one peer ID", d.Self.PeerID, d.Host.ID())
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	db, err := openStore(filepath.Join(cfg.DataDir, DBFile))
	if err != nil {
		return nil, fmt.Errorf("analysis: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, deps: d, log: d.Log, now: time.Now, db: db,
		tables:   newTableCache(cfg.MaxCachedTables),
		sessions: newSessions(cfg.MaxSessions, cfg.MaxSessionsPerMember),
		runs:     make(chan struct{}, cmp.Or(cfg.MaxModuleRuns, DefaultMaxModuleRuns)),
		large:    make(chan struct{}, maxLargeFrames),
		ctx:      ctx, cancel: cancel,
		streams: map[network.Stream]struct{}{},
		running: map[string]*run{},
	}
	if d.Clock != nil {
		s.now = d.Clock
	}
	if err := s.failInterrupted(); err != nil {
		db.Close()
		cancel()
		return nil, fmt.Errorf("analysis: %w", err)
	}
	s.goroutine(s.pruneLoop)
	d.Host.SetStreamHandler(Protocol, s.handle)
	return s, nil
}

// Close removes the stream handler, ends the analyses in progress (they
// are stored as failed), resets the streams in flight, waits for every
// goroutine and closes analysis.db. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.deps.Host.RemoveStreamHandler(Protocol)
		s.mu.Lock()
		s.closed = true
		streams := make([]network.Stream, 0, len(s.streams))
		for st := range s.streams {
			streams = append(streams, st)
		}
		s.mu.Unlock()
		s.cancel()
		for _, st := range streams {
			_ = st.Reset()
		}
		s.wg.Wait()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// begin registers work in flight; false once Close has begun.
func (s *Service) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Service) goroutine(f func()) bool {
	if !s.begin() {
		return false
	}
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *Service) track(st network.Stream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.streams[st] = struct{}{}
	return true
}

func (s *Service) untrack(st network.Stream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
}

const pruneInterval = 30 * time.Second

func (s *Service) pruneLoop() {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		if err := s.db.pruneNonces(now); err != nil {
			s.log.Error("prune analysis nonces", "err", err)
		}
		s.sessions.expire(now.Add(-s.cfg.SessionIdle))
	}
}

// handle answers one round on an incoming stream.
func (s *Service) handle(st network.Stream) {
	if !s.begin() {
		_ = st.Reset()
		return
	}
	defer s.wg.Done()
	if !s.track(st) {
		_ = st.Reset()
		return
	}
	defer s.untrack(st)
	remote := st.Conn().RemotePeer()
	_ = st.SetDeadline(s.now().Add(s.cfg.RoundTimeout))
	var req request
	if err := s.readRequest(st, remote, &req); err != nil {
		s.log.Warn("reset analysis stream", "peer", remote, "reason", err)
		_ = st.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RoundTimeout)
	defer cancel()
	reply := s.answer(ctx, remote, req)
	if err := frame.Write(st, s.cfg.MaxMessage, reply); err != nil {
		s.log.Warn("reset analysis stream", "peer", remote, "reason", fmt.Errorf("write answer: %w", err))
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// readRequest reads a request frame. A frame larger than MaxMessage is read
// only from a member, up to MaxOpeningFrame, and only maxLargeFrames at
// once: it carries a program (an evaluation's predictor, a module), and
// it is held in memory twice over while it is decoded, so an owner holds
// at most maxLargeFrames × 2 × MaxOpeningFrame for them.
func (s *Service) readRequest(r io.Reader, remote peer.ID, req *request) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := int64(binary.BigEndian.Uint32(n[:]))
	limit := int64(s.cfg.MaxMessage)
	if size > limit {
		if _, member := s.deps.Registry.MemberByPeer(remote); member {
			limit = max(limit, MaxOpeningFrame)
		}
		if size > limit {
			return fmt.Errorf("%w: %d bytes announced, limit %d", frame.ErrTooLarge, size, limit)
		}
		select {
		case s.large <- struct{}{}:
			defer func() { <-s.large }()
		default:
			return fmt.Errorf("already reading %d large frames", maxLargeFrames)
		}
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return err
	}
	return frame.Decode(raw, req)
}

// roundTrip sends one frame to an owner and reads its answer.
func (s *Service) roundTrip(ctx context.Context, p peer.ID, req request) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RoundTimeout)
	defer cancel()
	stopOnClose := context.AfterFunc(s.ctx, cancel)
	defer stopOnClose()
	st, err := s.deps.Host.NewStream(ctx, p, Protocol)
	if err != nil {
		if s.ctx.Err() != nil {
			return answer{}, ErrClosed
		}
		return answer{}, fmt.Errorf("open %s stream: %w", Protocol, err)
	}
	if !s.track(st) {
		_ = st.Reset()
		return answer{}, ErrClosed
	}
	defer s.untrack(st)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	var ans answer
	limit := s.cfg.MaxMessage
	if len(req.Module) > 0 || len(req.Parameters) > 0 {
		limit = max(limit, MaxOpeningFrame)
	}
	err = frame.Write(st, limit, req)
	if err == nil {
		_ = st.CloseWrite()
		err = frame.Read(st, s.cfg.MaxMessage, &ans)
	}
	if err != nil {
		_ = st.Reset()
		switch {
		case s.ctx.Err() != nil:
			return answer{}, ErrClosed
		case ctx.Err() != nil:
			return answer{}, ctx.Err()
		}
		return answer{}, err
	}
	_ = st.Close()
	return ans, nil
}
