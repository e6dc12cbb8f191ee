package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/policy"
)

// CatalogueProtocol serves catalogue deltas to members.
const CatalogueProtocol = "/xborder/catalogue/1.0.0"

// CatalogueConfig tunes the catalogue.
type CatalogueConfig struct {
	// DataDir holds node.db and blobs/.
	DataDir string
	// Topic is the GossipSub topic for announcements (scoped to the
	// federation by the caller).
	Topic string
	// AnnounceEvery re-announces the current version, so that a member
	// that missed an announcement catches up.
	AnnounceEvery time.Duration
	// PageSize bounds the entries in one delta message.
	PageSize int
	// PageBytes bounds the encoded entries of one delta message, so that
	// a page stays under the reader's frame cap whatever the entries;
	// between MaxEntryBytes (one entry always fits) and the frame cap
	// less a page's envelope.
	PageBytes int
	// StreamTimeout bounds one delta exchange.
	StreamTimeout time.Duration
	// PublicURL is the node's public base URL (absolute http or https):
	// the DCAT export names the catalogue, its datasets, distributions
	// and publishers with IRIs under it, so that they stay the same
	// whoever asks and however they reach the node.
	PublicURL string
}

// DefaultCatalogueConfig returns the defaults for a data dir.
func DefaultCatalogueConfig(dataDir, topic string) CatalogueConfig {
	return CatalogueConfig{DataDir: dataDir, Topic: topic, AnnounceEvery: 5 * time.Second, PageSize: 500,
		PageBytes: 4 << 20, StreamTimeout: 30 * time.Second}
}

// Validate checks the configuration's fields against each other and the
// protocol's frame cap.
func (c CatalogueConfig) Validate() error {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if c.DataDir == "" {
		add("data dir: empty")
	}
	if c.Topic == "" {
		add("topic: empty")
	}
	if c.AnnounceEvery <= 0 {
		add("announce every: %v is not positive", c.AnnounceEvery)
	}
	if c.PageSize < 1 {
		add("page size: %d, at least 1", c.PageSize)
	}
	if c.PageBytes < MaxEntryBytes || c.PageBytes > maxDeltaFrame-pageEnvelope {
		add("page bytes: %d, between %d and %d", c.PageBytes, MaxEntryBytes, maxDeltaFrame-pageEnvelope)
	}
	if c.StreamTimeout <= 0 {
		add("stream timeout: %v is not positive", c.StreamTimeout)
	}
	if err := ValidatePublicURL(c.PublicURL); err != nil {
		add("public url: %v", err)
	}
	if len(probs) > 0 {
		return fmt.Errorf("catalogue config: %s", strings.Join(probs, "; "))
	}
	return nil
}

// ValidatePublicURL checks a public base URL: absolute http or https, with
// a host and neither query nor fragment.
func ValidatePublicURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return errors.New("empty")
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.Opaque != "":
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q has a query, fragment or user info; a base URL has none", s)
	}
	return nil
}

// maxAnnouncement and maxDeltaFrame cap what a member reads from others.
// pageEnvelope bounds what a delta page adds to its entries (owner name,
// versions, commas); the owner's name is a member name of at most 63
// bytes.
const (
	maxAnnouncement = 1 << 10
	maxDeltaFrame   = 16 << 20
	pageEnvelope    = 4 << 10
)

// announcement is all that travels over gossip: no metadata.
type announcement struct {
	Node    string `json:"node"`
	Version uint64 `json:"version"`
	Digest  string `json:"digest"`
}

type deltaRequest struct {
	Since uint64 `json:"since"`
}

type deltaPage struct {
	Owner   string  `json:"owner"`
	Version uint64  `json:"version"` // the owner's current catalogue version
	Entries []Entry `json:"entries"`
	Next    uint64  `json:"next"` // ask again with since=Next while More
	More    bool    `json:"more"`
}

// Catalogue is this node's catalogue and its cache of the partners'.
type Catalogue struct {
	cfg   CatalogueConfig
	host  host.Host
	self  Member
	authz Authorizer
	reg   Registry
	rec   Recorder
	log   *slog.Logger
	db    *bolt.DB
	// quality is the models' measured performance (nil: none).
	quality ModelQuality
	blobs   *Blobs

	ps    *pubsub.PubSub
	topic *pubsub.Topic
	sub   *pubsub.Subscription

	mu     sync.RWMutex
	own    map[string]Entry       // by id, tombstones included
	remote map[string]RemoteEntry // by owner/id
	peers  map[string]PeerState   // by owner name
	// listed holds each live entry's Listing, encoded once when it changes,
	// so that listing the whole catalogue costs no encoding; by owner/id.
	listed map[string][]byte

	syncing map[string]bool // owners with a pull in flight
	again   map[string]bool // owners announced again during a pull
	changed chan struct{}   // an own change was announced: re-announce at the fast rate again

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// CatalogueDeps are the catalogue's collaborators.
type CatalogueDeps struct {
	Host   host.Host
	PubSub *pubsub.PubSub
	// Self is this node as a member: the owner of its entries.
	Self Member
	// Authz decides which own entries a partner may see.
	Authz Authorizer
	// Registry names the peers that ask for entries.
	Registry Registry
	// Recorder keeps publications and withdrawals in the audit trail.
	Recorder Recorder
	// Quality, when set, tells the DCAT export the measured performance
	// of models (from the evaluations committed to the registry).
	Quality ModelQuality
	// Log is the catalogue's logger (nil: discard).
	Log *slog.Logger
}

// ModelQuality is where the DCAT export finds a model's measured
// performance.
type ModelQuality interface {
	// ModelQuality returns the measurements of the model owner/id.
	ModelQuality(ctx context.Context, ref string) []QualityMeasurement
}

// QualityMeasurement is one measured figure of a model, from an evaluation
// whose data owners signed their part.
type QualityMeasurement struct {
	// Metric is auc, brier, n, or accuracy, sensitivity or specificity
	// at a threshold ("sensitivity@0.5").
	Metric string
	Value  float64
	// Lower and Upper bound the value's confidence interval, when
	// Interval.
	Lower, Upper float64
	Interval     bool
	// Region is the member whose data the figure was measured on; "" for
	// the figure pooled over every region of the evaluation.
	Region string
	// Analysis is the evaluation's ID.
	Analysis string
}

// OpenCatalogue opens node.db and the blob store, joins the announcement
// topic and serves deltas to members.
func OpenCatalogue(cfg CatalogueConfig, d CatalogueDeps) (_ *Catalogue, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Host == nil || d.PubSub == nil || d.Authz == nil || d.Registry == nil || d.Recorder == nil {
		return nil, errors.New("catalogue: host, pubsub, authorizer, registry and recorder are required")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, ps := d.Host, d.PubSub
	c := &Catalogue{cfg: cfg, host: h, ps: ps, self: d.Self, authz: d.Authz, reg: d.Registry, rec: d.Recorder, log: log, quality: d.Quality,
		own: map[string]Entry{}, remote: map[string]RemoteEntry{}, peers: map[string]PeerState{}, listed: map[string][]byte{},
		syncing: map[string]bool{}, again: map[string]bool{}, changed: make(chan struct{}, 1)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer func() {
		// c, not the named result, which a failed return sets to nil.
		if err != nil {
			_ = c.Close()
		}
	}()
	if c.blobs, err = OpenBlobs(cfg.DataDir); err != nil {
		return nil, err
	}
	if c.db, err = openStore(filepath.Join(cfg.DataDir, "node.db")); err != nil {
		return nil, err
	}
	if err = c.load(); err != nil {
		return nil, err
	}
	if c.topic, err = ps.Join(cfg.Topic); err != nil {
		return nil, fmt.Errorf("join catalogue topic: %w", err)
	}
	if c.sub, err = c.topic.Subscribe(); err != nil {
		return nil, fmt.Errorf("subscribe to catalogue topic: %w", err)
	}
	h.SetStreamHandler(CatalogueProtocol, c.serveDelta)
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.listen() }()
	go func() { defer c.wg.Done(); c.announceLoop() }()
	return c, nil
}

// load mirrors node.db in memory: searches never touch the disk.
func (c *Catalogue) load() error {
	return c.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bEntries).ForEach(func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			c.setOwn(e)
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bRemote).ForEach(func(k, v []byte) error {
			var e RemoteEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			c.setRemote(e)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bPeers).ForEach(func(k, v []byte) error {
			var p PeerState
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			c.peers[string(k)] = p
			return nil
		})
	})
}

// Close leaves the topic, stops serving and closes node.db. Idempotent.
func (c *Catalogue) Close() error {
	var err error
	c.once.Do(func() {
		c.cancel()
		if c.host != nil {
			c.host.RemoveStreamHandler(CatalogueProtocol)
		}
		if c.sub != nil {
			c.sub.Cancel()
		}
		c.wg.Wait()
		if c.topic != nil {
			err = errors.Join(err, c.topic.Close())
		}
		if c.db != nil {
			err = errors.Join(err, c.db.Close())
		}
	})
	return err
}

// Lookup returns an own entry that is not withdrawn (exchange.Source).
func (c *Catalogue) Lookup(id string) (Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.own[id]
	return e, ok && !e.Withdrawn
}

// OpenBlob opens a stored blob (exchange.Source).
func (c *Catalogue) OpenBlob(sum string) (io.ReadSeekCloser, error) { return c.blobs.Open(sum) }

// Version is this node's catalogue version.
func (c *Catalogue) Version() uint64 {
	var v uint64
	_ = c.db.View(func(tx *bolt.Tx) error { v = currentVersion(tx); return nil })
	return v
}

// Counts reports own (live) and cached remote entries.
func (c *Catalogue) Counts() (own, remote int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.own {
		if !e.Withdrawn {
			own++
		}
	}
	return own, len(c.remote)
}

// CatalogueSyncs reports what is known of each partner's catalogue.
func (c *Catalogue) CatalogueSyncs(context.Context) []PeerState { return c.Peers() }

// Peers reports what is known of each partner's catalogue.
func (c *Catalogue) Peers() []PeerState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := slices.Collect(maps.Values(c.peers))
	slices.SortFunc(out, func(a, b PeerState) int { return strings.Compare(a.Owner, b.Owner) })
	return out
}

// catalogueDigest summarises a version for announcements.
func catalogueDigest(owner string, version uint64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", owner, version))
	return hex.EncodeToString(sum[:8])
}

func visibleInput(requester Member, e Entry) policy.CatalogueInput {
	return policy.CatalogueInput{
		Requester: policy.Node{Node: requester.Name, Country: requester.Country, Org: requester.Org},
		Entry: policy.CatalogueEntry{ID: e.ID, Owner: e.Owner, Kind: e.Kind, Classification: e.Classification,
			Theme: e.Theme, Partners: e.Partners, PersonalData: e.PersonalData, PublicListing: e.PublicListing},
	}
}

// publicInput is the input of data.xborder.catalogue.visible when the
// public asks: a requester with public true and no node.
func publicInput(e Entry) policy.CatalogueInput {
	in := visibleInput(Member{}, e)
	in.Requester = policy.Node{Public: true}
	return in
}
