package dsp

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/xborder/xborder/policy"
)

// Config is a node's dataspace participation.
type Config struct {
	// ParticipantID names this node in the dataspace: the audience of the
	// tokens it accepts and the issuer of those it sends.
	ParticipantID string
	// PublicURL is where the dataspace reaches this node's HTTP listener
	// (scheme and host, maybe a path); the protocol is served under
	// PublicURL + BasePath.
	PublicURL string
	// BasePath is where the protocol's endpoints are mounted, e.g. "/dsp".
	BasePath string
	// DataDir holds dsp.db.
	DataDir string
	// DataTokenTTL is how long a data-plane token lasts.
	DataTokenTTL time.Duration
	// CallbackTimeout bounds one message sent to the other party.
	CallbackTimeout time.Duration
	// DeliveryAttempts bounds how often a message to the other party is
	// tried before the process is terminated (with backoff between).
	DeliveryAttempts int
}

// DefaultConfig returns the defaults for a node with the given data dir.
func DefaultConfig(dataDir string) Config {
	return Config{
		BasePath:         "/dsp",
		DataDir:          dataDir,
		DataTokenTTL:     10 * time.Minute,
		CallbackTimeout:  10 * time.Second,
		DeliveryAttempts: 8,
	}
}

// Validate checks the fields against each other.
func (c Config) Validate() error {
	var errs []error
	if c.ParticipantID == "" || strings.ContainsAny(c.ParticipantID, " \t\r\n") {
		errs = append(errs, fmt.Errorf("dataspace.participant_id %q: must be a non-empty identifier without spaces (a URI such as did:web:region.example)", c.ParticipantID))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("dataspace: public_url %q must be an absolute http(s) URL: the dataspace reaches the node there", c.PublicURL))
	}
	if !strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") || strings.ContainsAny(c.BasePath, "{}? ") {
		errs = append(errs, fmt.Errorf("dataspace.base_path %q: must start with / and not end with one, e.g. /dsp", c.BasePath))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataspace: data dir is empty"))
	}
	if c.DataTokenTTL < 10*time.Second || c.DataTokenTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("dataspace.data_token_ttl %s: must be between 10s and 24h", c.DataTokenTTL))
	}
	if c.CallbackTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dataspace: callback timeout %s must be positive", c.CallbackTimeout))
	}
	if c.DeliveryAttempts < 1 {
		errs = append(errs, fmt.Errorf("dataspace: delivery attempts %d must be at least 1", c.DeliveryAttempts))
	}
	return errors.Join(errs...)
}

// BaseURL is the protocol's base as other participants address it.
func (c Config) BaseURL() string { return strings.TrimSuffix(c.PublicURL, "/") + c.BasePath }

// Entry is one of this node's catalogue entries as the provider serves
// it: the DCAT-AP description (built by the catalogue's mapping), the
// content's digest, and the facts the policy decides on.
type Entry struct {
	ID        string
	SHA256    string
	Size      int64
	MediaType string
	DCAT      DCAT
	// Visibility is the entry as data.xborder.catalogue.visible sees it,
	// Resource as data.xborder.exchange.decision does.
	Visibility policy.CatalogueEntry
	Resource   policy.Resource
}

// Catalogue is what the provider reads of the node's own catalogue.
type Catalogue interface {
	// Entries lists this node's entries that are not withdrawn.
	Entries(ctx context.Context) []Entry
	// Entry finds one of them.
	Entry(ctx context.Context, id string) (Entry, bool)
	// Open opens an entry's content, which must hash to sha256.
	Open(ctx context.Context, sha256 string) (io.ReadSeekCloser, error)
}

// Policy is the node's policy engine as the provider asks it.
type Policy interface {
	CatalogueVisible(ctx context.Context, in policy.CatalogueInput) (bool, error)
	Exchange(ctx context.Context, in policy.ExchangeInput) (policy.Decision, error)
	// Purposes is the purpose vocabulary: the provider derives its offers
	// by asking the exchange decision once for each.
	Purposes() []string
}

// Recorder writes the audit trail. An action whose record cannot be
// written does not happen.
type Recorder interface {
	Record(typ, subject string, details any) error
}

// TokenSource gives this node's bearer token for a message to a
// participant (the audience).
type TokenSource interface {
	Authorization(audience string) (string, error)
}

// Deps are the pieces the node plugs in.
type Deps struct {
	Catalogue Catalogue
	Policy    Policy
	// ConsumerPolicy decides what a local researcher may take from
	// another provider; nil: nothing is taken.
	ConsumerPolicy ConsumerPolicy
	Recorder       Recorder
	Verifier       Verifier
	Tokens         TokenSource
	// Participants finds a configured participant by ID (for the
	// consumer's messages to a provider, and the policy's facts).
	Participants func(id string) (Participant, bool)
	// Key signs agreements (the node key).
	Key ed25519.PrivateKey
	// Self is this node as the policy knows it.
	Self policy.Node
	// Hold, when set, lets a test play the provider's operator in the
	// compatibility kit's cases: a reaction it holds is not taken, and the
	// process waits in its state for the operator's methods
	// (TerminateNegotiation, SuspendTransfer, ...). Nil in production.
	Hold       func(Hold) bool
	HTTPClient *http.Client
	Log        *slog.Logger
	Clock      func() time.Time
}

// Hold is a reaction the provider is about to take: to a negotiation or
// a transfer ("negotiation" or "transfer") of a dataset, in a state.
type Hold struct {
	Kind    string
	Dataset string
	State   string
}

// Service is a node's dataspace participant: provider and consumer.
type Service struct {
	cfg   Config
	d     Deps
	store *store
	log   *slog.Logger
	now   func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	waiters map[string][]chan struct{} // process key → who waits for its next change
	sending map[string]bool            // processes whose owed message is being delivered
}

// Open opens DATA/dsp.db and resumes every message still owed to another
// party (an agreement, a start, a finalisation) from before a restart.
func Open(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case d.Catalogue == nil, d.Policy == nil, d.Recorder == nil, d.Verifier == nil, d.Tokens == nil, d.Key == nil, d.Participants == nil:
		return nil, errors.New("dsp: catalogue, policy, recorder, verifier, tokens, participants and key are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: cfg.CallbackTimeout}
	}
	st, err := openStore(filepath.Join(cfg.DataDir, "dsp.db"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, d: d, store: st, log: d.Log.With("room", "dsp"), now: d.Clock,
		ctx: ctx, cancel: cancel, waiters: map[string][]chan struct{}{}, sending: map[string]bool{}}
	if err := s.resume(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops sending, waits for every goroutine and closes dsp.db.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.store.Close()
}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) goroutine(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// changed wakes whoever waits for a process's next change.
func (s *Service) changed(key string) {
	s.mu.Lock()
	ws := s.waiters[key]
	delete(s.waiters, key)
	s.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// next returns a channel closed at the process's next change.
func (s *Service) next(key string) <-chan struct{} {
	c := make(chan struct{})
	s.mu.Lock()
	s.waiters[key] = append(s.waiters[key], c)
	s.mu.Unlock()
	return c
}
