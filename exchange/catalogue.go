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
	"math"
	"mime"
	"net/http"
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
	if len(probs) > 0 {
		return fmt.Errorf("catalogue config: %s", strings.Join(probs, "; "))
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
	blobs *Blobs

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
	// Log is the catalogue's logger (nil: discard).
	Log *slog.Logger
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
	c := &Catalogue{cfg: cfg, host: h, ps: ps, self: d.Self, authz: d.Authz, reg: d.Registry, rec: d.Recorder, log: log,
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

// Publication is what an operator gives to publish or update an entry.
type Publication struct {
	ID              string   `json:"id"`
	Kind            string   `json:"kind"`
	Title           string   `json:"title"`
	Description     string   `json:"description"`
	Theme           string   `json:"theme"`
	Classification  string   `json:"classification"`
	Partners        []string `json:"partners"`
	PersonalData    bool     `json:"personal_data"`
	RequiresProject bool     `json:"requires_project"`
	License         string   `json:"license"`
	Keywords        []string `json:"keywords"`
	MediaType       string   `json:"media_type"`
	FileName        string   `json:"file_name"` // for the media type when none is given
	// Model is the model card; required for kind model, refused for datasets.
	Model *ModelCard `json:"model,omitempty"`
}

// ValidationError is input a caller gave that cannot be used: a
// publication, an agreement, an ID, a request. The caller corrects it; an
// API answers it 400 with the problems.
type ValidationError struct {
	// What was invalid, for the message ("agreement"); empty means a
	// catalogue entry.
	What     string
	Problems []string
	// Err, when set, is a sentinel callers branch on (ErrBadID).
	Err error
}

func (e *ValidationError) Error() string {
	what := e.What
	if what == "" {
		what = "catalogue entry"
	}
	return "invalid " + what + ": " + strings.Join(e.Problems, "; ")
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Validate checks a publication field by field.
func (p *Publication) Validate() error {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if why := idProblem(p.ID); why != "" {
		add("id: %q %s (see exchange.ValidateID)", p.ID, why)
	}
	if p.Kind == "" {
		p.Kind = KindDataset
	}
	if p.Kind != KindDataset && p.Kind != KindModel {
		add("kind: %q is not dataset or model", p.Kind)
	}
	if strings.TrimSpace(p.Title) == "" {
		add("title: empty")
	}
	if !slices.Contains(Themes, p.Theme) {
		add("theme: %q is not one of %s", p.Theme, strings.Join(Themes, ", "))
	}
	if !slices.Contains(Classifications, p.Classification) {
		add("classification: %q is not one of %s", p.Classification, strings.Join(Classifications, ", "))
	}
	if p.Classification == "confidential" && len(p.Partners) == 0 {
		add("partners: a confidential entry names the partners who may see it")
	}
	switch {
	case p.Kind == KindModel && p.Model == nil:
		add("model: a model entry carries a model card (task, architecture, training datasets, metrics, intended and excluded uses)")
	case p.Kind == KindModel:
		probs = append(probs, p.Model.problems()...)
	case p.Model != nil:
		add("model: only a model entry carries a model card")
	}
	probs = append(probs, p.limitProblems()...)
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// Publish stores content and publishes (or updates) the entry, then
// announces the new catalogue version and records the publication.
func (c *Catalogue) Publish(ctx context.Context, p Publication, content io.Reader) (Entry, error) {
	e, err := c.publish(ctx, p, content)
	if err == nil {
		c.record(RecordCataloguePublish, e, map[string]any{"sha256": e.SHA256, "size": e.Size,
			"classification": e.Classification, "version": e.Version})
	}
	return e, err
}

func (c *Catalogue) publish(ctx context.Context, p Publication, content io.Reader) (Entry, error) {
	if err := p.Validate(); err != nil {
		return Entry{}, err
	}
	if err := c.checkEntrySize(p); err != nil {
		return Entry{}, err
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(content, head)
	head = head[:n]
	sum, size, err := c.blobs.Put(io.MultiReader(strings.NewReader(string(head)), content))
	if err != nil {
		return Entry{}, err
	}
	media := p.MediaType
	if media == "" {
		media = mime.TypeByExtension(filepath.Ext(p.FileName))
	}
	if media == "" {
		media = http.DetectContentType(head)
	}
	now := time.Now().UTC().Truncate(time.Second)
	e := Entry{ID: p.ID, Kind: p.Kind, Title: p.Title, Description: p.Description, Owner: c.self.Name,
		Publisher: c.self.Org, Country: c.self.Country, Theme: p.Theme, Classification: p.Classification,
		Partners: sortedSet(p.Partners), PersonalData: p.PersonalData, RequiresProject: p.RequiresProject,
		License: p.License, Keywords: sortedSet(p.Keywords), MediaType: media, Size: size, SHA256: sum,
		Issued: now, Modified: now, Model: p.Model.normalized()}
	c.mu.Lock()
	if old, ok := c.own[p.ID]; ok && !old.Withdrawn {
		e.Issued = old.Issued
	}
	return c.commitOwn(ctx, e)
}

// checkEntrySize refuses, before anything is stored, a publication whose
// entry would encode to more than MaxEntryBytes: it measures the entry
// with the largest values the fields Publish fills in can take.
func (c *Catalogue) checkEntrySize(p Publication) error {
	media := p.MediaType
	if media == "" {
		media = mime.TypeByExtension(filepath.Ext(p.FileName))
	}
	if media == "" {
		media = strings.Repeat("m", 64) // longer than any sniffed type
	}
	now := time.Now().UTC().Truncate(time.Second)
	e := Entry{ID: p.ID, Kind: p.Kind, Title: p.Title, Description: p.Description, Owner: c.self.Name,
		Publisher: c.self.Org, Country: c.self.Country, Theme: p.Theme, Classification: p.Classification,
		Partners: sortedSet(p.Partners), PersonalData: p.PersonalData, RequiresProject: p.RequiresProject,
		License: p.License, Keywords: sortedSet(p.Keywords), MediaType: media, Size: math.MaxInt64,
		SHA256: strings.Repeat("0", sha256.Size*2), Issued: now, Modified: now, Version: math.MaxUint64,
		Model: p.Model.normalized()}
	if n := encodedSize(e); n > MaxEntryBytes {
		return &ValidationError{Problems: []string{fmt.Sprintf("entry: %d bytes as JSON, limit %d bytes", n, MaxEntryBytes)}}
	}
	return nil
}

// commitOwn stores an own entry under a new version, mirrors it in memory
// and announces the version. It is called with c.mu held and releases it
// before announcing.
func (c *Catalogue) commitOwn(ctx context.Context, e Entry) (Entry, error) {
	err := c.db.Update(func(tx *bolt.Tx) (err error) {
		e, err = putOwn(tx, e)
		return err
	})
	if err == nil {
		c.setOwn(e)
	}
	c.mu.Unlock()
	if err != nil {
		return Entry{}, err
	}
	c.announce(ctx)
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return e, nil
}

// setOwn records an own entry in memory; c.mu is held.
func (c *Catalogue) setOwn(e Entry) {
	c.own[e.ID] = e
	if e.Withdrawn {
		delete(c.listed, e.Ref())
		return
	}
	c.listed[e.Ref()], _ = json.Marshal(Listing{Entry: e, Local: true})
}

// setRemote records a partner's entry in memory; c.mu is held.
func (c *Catalogue) setRemote(r RemoteEntry) {
	c.remote[r.Ref()] = r
	c.listed[r.Ref()], _ = json.Marshal(Listing{Entry: r.Entry, FetchedAt: r.FetchedAt})
}

// dropRemote forgets a partner's entry; c.mu is held.
func (c *Catalogue) dropRemote(ref string) {
	delete(c.remote, ref)
	delete(c.listed, ref)
}

// ListingJSON is the whole federation catalogue as a JSON array of
// listings, sorted by owner/id, assembled from entries encoded when they
// changed: listing ten thousand entries encodes none of them.
func (c *Catalogue) ListingJSON(context.Context) []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	refs := slices.Sorted(maps.Keys(c.listed))
	size := 2
	for _, r := range refs {
		size += len(c.listed[r]) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	for i, r := range refs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, c.listed[r]...)
	}
	return append(out, ']')
}

// Withdraw removes an own entry from the catalogue; partners drop it on
// their next sync. The withdrawal is recorded.
func (c *Catalogue) Withdraw(ctx context.Context, id string) (Entry, error) {
	c.mu.Lock()
	e, ok := c.own[id]
	if !ok || e.Withdrawn {
		c.mu.Unlock()
		return Entry{}, fmt.Errorf("%s/%s: %w", c.self.Name, id, ErrNotFound)
	}
	e.Withdrawn, e.Modified = true, time.Now().UTC().Truncate(time.Second)
	e, err := c.commitOwn(ctx, e)
	if err == nil {
		c.record(RecordCatalogueWithdraw, e, map[string]any{"version": e.Version})
	}
	return e, err
}

// Audit record types of the catalogue.
const (
	RecordCataloguePublish  = "catalogue.publish"
	RecordCatalogueWithdraw = "catalogue.withdraw"
)

// record keeps a change of an own entry in the audit trail. The change is
// made and announced by then: a record that cannot be written is logged,
// not undone.
func (c *Catalogue) record(typ string, e Entry, details map[string]any) {
	if err := c.rec.Record(typ, e.Ref(), details); err != nil {
		c.log.Error("audit record not written", "type", typ, "subject", e.Ref(), "err", err)
	}
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

// Filter selects catalogue entries.
type Filter struct {
	Theme, Country, Owner, Kind, Classification string
	Q                                           string // words in title, description or keywords
}

// Listing is one entry of the federation catalogue as this node sees it.
type Listing struct {
	Entry
	Local     bool      `json:"local"`
	FetchedAt time.Time `json:"fetched_at,omitzero"` // when the owner last confirmed it
}

// Search lists own and cached entries that match, sorted by owner and id.
func (c *Catalogue) Search(_ context.Context, f Filter) []Listing { return c.search(f) }

func (c *Catalogue) search(f Filter) []Listing {
	words := strings.Fields(strings.ToLower(f.Q))
	match := func(e Entry) bool {
		switch {
		case e.Withdrawn,
			f.Theme != "" && e.Theme != f.Theme,
			f.Country != "" && !strings.EqualFold(e.Country, f.Country),
			f.Owner != "" && e.Owner != f.Owner,
			f.Kind != "" && e.Kind != f.Kind,
			f.Classification != "" && e.Classification != f.Classification:
			return false
		}
		if len(words) == 0 {
			return true
		}
		text := strings.ToLower(e.Title + " " + e.Description + " " + strings.Join(e.Keywords, " "))
		for _, w := range words {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	}
	c.mu.RLock()
	out := make([]Listing, 0, len(c.own)+len(c.remote))
	for _, e := range c.own {
		if match(e) {
			out = append(out, Listing{Entry: e, Local: true})
		}
	}
	for _, r := range c.remote {
		if match(r.Entry) {
			out = append(out, Listing{Entry: r.Entry, FetchedAt: r.FetchedAt})
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b Listing) int {
		if c := strings.Compare(a.Owner, b.Owner); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Entry returns one entry of the federation catalogue.
func (c *Catalogue) Entry(_ context.Context, owner, id string) (Listing, error) {
	return c.Get(owner, id)
}

// Get returns one entry of the federation catalogue.
func (c *Catalogue) Get(owner, id string) (Listing, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if owner == c.self.Name {
		if e, ok := c.own[id]; ok && !e.Withdrawn {
			return Listing{Entry: e, Local: true}, nil
		}
	} else if r, ok := c.remote[owner+"/"+id]; ok {
		return Listing{Entry: r.Entry, FetchedAt: r.FetchedAt}, nil
	}
	return Listing{}, fmt.Errorf("%s/%s: %w", owner, id, ErrNotFound)
}

func sortedSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
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
			Theme: e.Theme, Partners: e.Partners},
	}
}
