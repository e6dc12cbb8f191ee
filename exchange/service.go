package exchange

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ServiceConfig configures the request → grant → transfer service.
type ServiceConfig struct {
	// DataDir holds exchange.db and downloads/.
	DataDir string
	// RequestTTL is the validity of the request JWTs this node signs.
	RequestTTL time.Duration
	// MaxMessage caps every framed message read or written.
	MaxMessage int
	// ChunkSize is the unit of a transfer read from disk and written to
	// the stream, and so the granularity of progress.
	ChunkSize int
	// StreamTimeout bounds a request stream, and the header exchange
	// that opens a transfer stream.
	StreamTimeout time.Duration
	// IdleTimeout resets a transfer stream that makes no progress for
	// this long (each chunk gets a fresh deadline).
	IdleTimeout time.Duration
	// MaxTransfersPerPeer bounds the transfers served to one peer at
	// once; extra ones are refused as busy (the requester retries).
	MaxTransfersPerPeer int
	// RetryBackoff is the first pause of a job before it resumes a broken
	// transfer; it doubles up to MaxRetryBackoff and starts over after an
	// attempt that made progress. A job retries until its grant expires.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
}

// DefaultServiceConfig returns the exchange settings a node runs with.
func DefaultServiceConfig(dataDir string) ServiceConfig {
	return ServiceConfig{
		DataDir:    dataDir,
		RequestTTL: 60 * time.Second,
		MaxMessage: 1 << 20,
		// The size of go-libp2p's default yamux stream window: a bigger
		// chunk only waits longer for window updates between deadlines.
		ChunkSize:           1 << 20,
		StreamTimeout:       30 * time.Second,
		IdleTimeout:         30 * time.Second,
		MaxTransfersPerPeer: 4,
		RetryBackoff:        500 * time.Millisecond,
		MaxRetryBackoff:     30 * time.Second,
	}
}

// Validate checks the fields and how they relate.
func (c ServiceConfig) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.RequestTTL <= 0 || c.RequestTTL > maxRequestLifetime {
		errs = append(errs, fmt.Errorf("RequestTTL %v must be positive and at most %v", c.RequestTTL, maxRequestLifetime))
	}
	if c.MaxMessage < 4<<10 || c.MaxMessage > 64<<20 {
		errs = append(errs, fmt.Errorf("MaxMessage %d must be between 4 KiB and 64 MiB", c.MaxMessage))
	}
	if c.ChunkSize <= 0 || c.ChunkSize > 16<<20 {
		errs = append(errs, fmt.Errorf("ChunkSize %d must be positive and at most 16 MiB", c.ChunkSize))
	}
	if c.StreamTimeout <= 0 {
		errs = append(errs, fmt.Errorf("StreamTimeout %v must be positive", c.StreamTimeout))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("IdleTimeout %v must be positive", c.IdleTimeout))
	}
	if c.MaxTransfersPerPeer <= 0 {
		errs = append(errs, fmt.Errorf("MaxTransfersPerPeer %d must be positive", c.MaxTransfersPerPeer))
	}
	if c.RetryBackoff <= 0 || c.MaxRetryBackoff < c.RetryBackoff {
		errs = append(errs, fmt.Errorf("RetryBackoff %v must be positive and at most MaxRetryBackoff %v", c.RetryBackoff, c.MaxRetryBackoff))
	}
	return errors.Join(errs...)
}

// Source is the owner side's view of its own catalogue.
type Source interface {
	// Lookup returns a local, non-withdrawn entry.
	Lookup(id string) (Entry, bool)
	// OpenBlob opens the content with this SHA-256.
	OpenBlob(sha256 string) (io.ReadSeekCloser, error)
}

// pruneInterval is how often expired nonces and old grants are removed.
const pruneInterval = time.Minute

// Service answers and sends access requests and moves granted content
// between members. It registers RequestProtocol and TransferProtocol on
// the host; Close removes them.
//
// Trust rests on the libp2p stream: a request must be signed by the key
// embedded in the remote peer's ID, and a grant is honoured only for the
// peer it names, so a grant copied to another member is useless to it.
//
// Files under the data dir: exchange.db (request nonces, grants issued
// and held) and downloads/OWNER/ID, written as ID.partial until its
// SHA-256 matches the grant.
type Service struct {
	cfg       ServiceConfig
	host      host.Host
	key       ed25519.PrivateKey
	self      Member
	src       Source
	authz     Authorizer
	reg       Registry
	rec       Recorder
	downloads string
	db        *exchangeDB
	log       *slog.Logger
	now       func() time.Time
	hooks     serviceHooks

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	wg        sync.WaitGroup              // every goroutine, handler and call in flight
	streams   map[network.Stream]struct{} // reset by Close to unblock I/O
	serving   map[peer.ID]int             // transfers served, per peer
	jobs      map[string]*Job             // by job ID
	active    map[string]*Job             // running jobs, by owner/id
	order     []string                    // job IDs, oldest first
	closeOnce sync.Once
	closeErr  error
}

// serviceHooks let tests interfere with a transfer; nil in production.
type serviceHooks struct {
	// afterChunk runs on the owner after each chunk is written, with the
	// bytes sent on this stream so far; an error ends the stream.
	afterChunk func(st network.Stream, sent int64) error
}

// serviceOption adjusts a Service for tests.
type serviceOption func(*Service)

// ServiceDeps are the service's collaborators.
type ServiceDeps struct {
	Host host.Host
	// Key is the node key; its peer ID must be the host's and Self's.
	Key  ed25519.PrivateKey
	Self Member
	// Source is this node's own catalogue, which it serves from.
	Source Source
	// Authz decides requests with the node's policy.
	Authz Authorizer
	// Registry gives the members, projects and agreements.
	Registry Registry
	// Recorder keeps decisions, grants and transfers in the audit trail.
	Recorder Recorder
	// Log is the service's logger (nil: discard).
	Log *slog.Logger
	// Clock is the time requests, grants and agreements are judged by
	// (nil: time.Now); tests move it past an expiry instead of waiting.
	Clock func() time.Time
}

// NewService starts the exchange service: it opens DATA/exchange.db,
// registers the stream handlers and starts the pruning of old nonces.
func NewService(cfg ServiceConfig, d ServiceDeps) (*Service, error) {
	return newService(cfg, d)
}

func newService(cfg ServiceConfig, d ServiceDeps, opts ...serviceOption) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("exchange config: %w", err)
	}
	h, key, self, src, authz, reg, rec, log := d.Host, d.Key, d.Self, d.Source, d.Authz, d.Registry, d.Recorder, d.Log
	if h == nil || src == nil || authz == nil || reg == nil || rec == nil {
		return nil, errors.New("exchange: host, source, authorizer, registry and recorder are required")
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("exchange: the node key is not an Ed25519 private key")
	}
	pub, err := crypto.UnmarshalEd25519PublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("exchange: node key: %w", err)
	}
	pid, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("exchange: peer ID of the node key: %w", err)
	}
	if pid != h.ID() || self.PeerID != h.ID() {
		return nil, fmt.Errorf("exchange: node key (%s), host (%s) and self (%s) must share one peer ID", pid, h.ID(), self.PeerID)
	}
	if !validName(self.Name) {
		return nil, fmt.Errorf("exchange: member name %q: %w", self.Name, ErrBadName)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	downloads := filepath.Join(cfg.DataDir, "downloads")
	if err := os.MkdirAll(downloads, 0o700); err != nil {
		return nil, fmt.Errorf("exchange: create downloads directory: %w", err)
	}
	db, err := openExchangeDB(filepath.Join(cfg.DataDir, ExchangeDBFile))
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, host: h, key: key, self: self, src: src, authz: authz, reg: reg, rec: rec,
		downloads: downloads, db: db, log: log, now: time.Now,
		ctx: ctx, cancel: cancel,
		streams: map[network.Stream]struct{}{},
		serving: map[peer.ID]int{},
		jobs:    map[string]*Job{},
		active:  map[string]*Job{},
	}
	if d.Clock != nil {
		s.now = d.Clock
	}
	for _, o := range opts {
		o(s)
	}
	s.goroutine(s.pruneLoop)
	h.SetStreamHandler(RequestProtocol, s.handleRequest)
	h.SetStreamHandler(TransferProtocol, s.handleTransfer)
	return s, nil
}

// Close removes the stream handlers, stops every job (their partial files
// stay, so a later Fetch resumes), resets the streams in flight, waits for
// every goroutine and closes exchange.db. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.host.RemoveStreamHandler(RequestProtocol)
		s.host.RemoveStreamHandler(TransferProtocol)
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

// goroutine runs f on a goroutine Close waits for; false once closed.
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

// begin registers a call in flight; false once Close has begun. Each
// successful begin is matched by s.wg.Done.
func (s *Service) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// track registers a stream for Close to reset; false once closed (the
// caller then resets it itself).
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

// adopt takes an incoming stream under the service's ownership: the
// handler goroutine is libp2p's, but Close must still wait for it.
func (s *Service) adopt(st network.Stream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	s.streams[st] = struct{}{}
	return true
}

func (s *Service) release(st network.Stream) {
	s.untrack(st)
	s.wg.Done()
}

func (s *Service) pruneLoop() {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		if n, err := s.db.prune(s.now()); err != nil {
			s.log.Error("prune exchange.db", "err", err)
		} else if n > 0 {
			s.log.Debug("pruned exchange.db", "records", n)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// record writes an audit record. A failure is logged and returned wrapping
// ErrAuditUnavailable: callers that are about to act refuse instead.
func (s *Service) record(typ, subject string, details any) error {
	if err := s.rec.Record(typ, subject, details); err != nil {
		s.log.Error("audit record not written", "type", typ, "subject", subject, "err", err)
		return fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	return nil
}

// auditRefusal is the refusal of an owner that cannot write its trail.
func auditRefusal(what string) *RefusedError {
	return refusef(RefusalAuditUnavailable, "the owner's audit trail cannot be written, so it refuses to %s until it can; try again later", what)
}

// streamDeadline is the earlier of now+d and ctx's deadline.
func streamDeadline(ctx context.Context, now time.Time, d time.Duration) time.Time {
	dl := now.Add(d)
	if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
		return cd
	}
	return dl
}
