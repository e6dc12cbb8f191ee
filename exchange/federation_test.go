package exchange

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/policy"
)

// The one in-process federation of the exchange's tests: real libp2p
// hosts on loopback and, as a test asks, real catalogues over gossip or
// exchange services over a fake catalogue; fake policy, registry and
// audit trail.

// testAuthz shows confidential entries only to their named partners, as
// the shipped catalogue policy does (and, to the public, open entries and
// the restricted and sensitive ones their owner lists), allows open data
// and denies everything else with a reason.
type testAuthz struct {
	mu     sync.Mutex
	inputs []policy.ExchangeInput
}

func (*testAuthz) CatalogueVisible(_ context.Context, in policy.CatalogueInput) (bool, error) {
	if in.Requester.Public {
		c := in.Entry.Classification
		return c == "open" || (c == "restricted" || c == "sensitive") && in.Entry.PublicListing, nil
	}
	if in.Entry.Classification != "confidential" {
		return true, nil
	}
	return slices.Contains(in.Entry.Partners, in.Requester.Node), nil
}

func (a *testAuthz) Exchange(_ context.Context, in policy.ExchangeInput) (policy.Decision, error) {
	a.mu.Lock()
	a.inputs = append(a.inputs, in)
	a.mu.Unlock()
	if in.Resource.Classification == "open" {
		return policy.Decision{Allow: true, Reasons: []string{"Open data may be shared."}, Rules: []string{"open_data"},
			Obligations: []string{"cite the source"}, MaxValiditySeconds: 3600, Bundle: "test-bundle"}, nil
	}
	return policy.Decision{Reasons: []string{"Restricted data needs a joint project."}, Rules: []string{"needs_project"},
		Obligations: []string{}, Bundle: "test-bundle"}, nil
}

func (a *testAuthz) last(t testing.TB) policy.ExchangeInput {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.inputs) == 0 {
		t.Fatal("the policy was never asked")
	}
	return a.inputs[len(a.inputs)-1]
}

// testRegistry lists the members and projects every node sees.
type testRegistry struct {
	members map[peer.ID]Member

	mu       sync.Mutex
	projects map[string]policy.Project
	behind   error // what Current says: a replica catching up
}

func (r *testRegistry) Current() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.behind
}

// setBehind makes the registry a replica catching up (err) or current (nil).
func (r *testRegistry) setBehind(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.behind = err
}

func (r *testRegistry) MemberByPeer(p peer.ID) (Member, bool) { m, ok := r.members[p]; return m, ok }
func (r *testRegistry) MemberByName(name string) (Member, bool) {
	for _, m := range r.members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}
func (r *testRegistry) Project(id string) (policy.Project, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.projects[id]
	return p, ok
}

// setProject changes a project, as a registry command applied would.
func (r *testRegistry) setProject(p policy.Project) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.projects[p.ID] = p
}
func (*testRegistry) Agreements(string) []policy.Agreement { return nil }

// testRecord is one audit record a fake recorder saw.
type testRecord struct {
	typ, subject string
	details      any
}

type testRecorder struct {
	mu      sync.Mutex
	records []testRecord
	fail    error // while set, nothing is written and Record returns it
}

func (r *testRecorder) Record(typ, subject string, details any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.records = append(r.records, testRecord{typ, subject, details})
	return nil
}

// failWith makes every later Record fail with err (nil: work again), as
// an audit trail on a full disk does.
func (r *testRecorder) failWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// of returns the records of one type, in order.
func (r *testRecorder) of(typ string) []testRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []testRecord
	for _, rec := range r.records {
		if rec.typ == typ {
			out = append(out, rec)
		}
	}
	return out
}

// testSource is an in-memory catalogue of local entries and blobs.
type testSource struct {
	mu      sync.Mutex
	entries map[string]Entry
	blobs   map[string][]byte
}

func (s *testSource) Lookup(id string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	return e, ok && !e.Withdrawn
}

func (s *testSource) OpenBlob(sum string) (io.ReadSeekCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[sum]
	if !ok {
		return nil, ErrNoBlob
	}
	return nopSeekCloser{bytes.NewReader(b)}, nil
}

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

// add publishes content as id; it returns the entry.
func (s *testSource) add(owner, id, class string, content []byte) Entry {
	sum := sha256.Sum256(content)
	e := Entry{ID: id, Kind: KindDataset, Title: id, Owner: owner, Theme: "health", Classification: class,
		License: "CC-BY-4.0", Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[id] = e
	s.blobs[e.SHA256] = content
	return e
}

// corrupt flips a byte of the stored blob of id, keeping its size and
// the digest it is stored under.
func (s *testSource) corrupt(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.entries[id].SHA256
	b := bytes.Clone(s.blobs[sum])
	b[len(b)/2] ^= 0xff
	s.blobs[sum] = b
}

// testNode is one member (or stranger) of a test federation.
type testNode struct {
	m    Member
	key  ed25519.PrivateKey
	h    host.Host
	dir  string
	reg  *testRegistry
	auth *testAuthz
	rec  *testRecorder
	// src is the fake catalogue a service serves from; cat is the real
	// one, when the federation runs catalogues.
	src *testSource
	ps  *pubsub.PubSub
	cat *Catalogue
	svc *Service
}

// fedOptions shape a test federation.
type fedOptions struct {
	// catalogues runs a real catalogue on every node, its configuration
	// adjusted by tuneCatalogue; services runs an exchange service on
	// every node, over the fake catalogue, its configuration adjusted by
	// cfg.
	catalogues    bool
	tuneCatalogue func(*CatalogueConfig)
	services      bool
	cfg           func(*ServiceConfig)
	opts          map[string][]serviceOption // per member name
	strangers     []string                   // names kept out of the registry
	quality       ModelQuality               // the catalogues' models' measured performance
}

func testServiceConfig() ServiceConfig {
	c := DefaultServiceConfig("unset")
	c.MaxMessage = 64 << 10
	c.ChunkSize = 64 << 10
	c.StreamTimeout = 10 * time.Second
	c.IdleTimeout = 5 * time.Second
	c.RetryBackoff = 10 * time.Millisecond
	c.MaxRetryBackoff = 200 * time.Millisecond
	return c
}

var testCountries = map[string]string{"fr-grandest": "FR", "de-bw": "DE", "ch-basel": "CH", "be-wallonie": "BE", "lu-luxembourg": "LU"}

// newFederation starts one host per name, all known to each other, then
// what o asks for on each.
func newFederation(t testing.TB, o fedOptions, names ...string) []*testNode {
	t.Helper()
	reg := &testRegistry{members: map[peer.ID]Member{}, projects: map[string]policy.Project{
		"cardio-x": {ID: "cardio-x", Title: "Cardio cross-border", Themes: []string{"health"}, Lead: "fr-grandest",
			Partners: []string{"fr-grandest", "de-bw"}, Status: "active"},
	}}
	var nodes []*testNode
	for _, name := range names {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pk, _ := crypto.UnmarshalEd25519PrivateKey(k)
		h, err := libp2p.New(libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		country := testCountries[name]
		if country == "" {
			country = "IT"
		}
		nodes = append(nodes, &testNode{
			m:   Member{Name: name, Country: country, Org: "Org " + name, PeerID: h.ID()},
			key: k, h: h, dir: t.TempDir(), reg: reg,
			src:  &testSource{entries: map[string]Entry{}, blobs: map[string][]byte{}},
			auth: &testAuthz{}, rec: &testRecorder{},
		})
	}
	// Gossip lives until the hosts are closed.
	gossipCtx, stopGossip := context.WithCancel(context.Background())
	// Every member's connections close before any host does: a host that
	// closes while members still send it identify pushes (each catalogue's
	// Close changes its protocols) can stall in libp2p's event bus, as seen
	// with 50 members. Services and catalogues, started later, are closed
	// before this runs.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() { _ = n.h.Network().Close() })
		}
		wg.Wait()
		for _, n := range nodes {
			wg.Go(func() { _ = n.h.Close() })
		}
		wg.Wait()
		stopGossip()
	})
	for _, n := range nodes {
		if !slices.Contains(o.strangers, n.m.Name) {
			reg.members[n.h.ID()] = n.m
		}
		for _, p := range nodes {
			if p != n {
				n.h.Peerstore().AddAddrs(p.h.ID(), p.h.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	if o.catalogues {
		startCatalogues(t, gossipCtx, nodes, o.tuneCatalogue, o.quality)
	}
	if o.services {
		for _, n := range nodes {
			cfg := testServiceConfig()
			if o.cfg != nil {
				o.cfg(&cfg)
			}
			n.startService(t, cfg, o.opts[n.m.Name]...)
		}
	}
	return nodes
}

// startCatalogues connects the nodes and opens a catalogue on each.
func startCatalogues(t testing.TB, gossipCtx context.Context, nodes []*testNode, tune func(*CatalogueConfig), quality ModelQuality) {
	t.Helper()
	// Small federations are fully meshed; large ones connect each node to
	// its next six on a ring (gossip spreads announcements, pulls dial the
	// owner directly), as a real federation's partial connectivity would.
	for i, n := range nodes {
		for j := 1; j < len(nodes); j++ {
			if len(nodes) > 10 && j > 6 {
				break
			}
			o := nodes[(i+j)%len(nodes)]
			if err := n.h.Connect(context.Background(), peer.AddrInfo{ID: o.h.ID(), Addrs: o.h.Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range nodes {
		ps, err := pubsub.NewGossipSub(gossipCtx, n.h)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultCatalogueConfig(t.TempDir(), "/xborder/test/catalogue")
		cfg.AnnounceEvery = 200 * time.Millisecond
		cfg.PublicURL = "https://" + n.m.Name + ".example.org"
		if tune != nil {
			tune(&cfg)
		}
		n.ps = ps
		n.cat, err = OpenCatalogue(cfg, CatalogueDeps{Host: n.h, PubSub: ps, Self: n.m, Authz: n.auth, Registry: n.reg, Recorder: n.rec,
			Quality: quality})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() { _ = n.cat.Close() })
		}
		wg.Wait()
	})
}

// newCatFederation is a federation of catalogues.
func newCatFederation(t testing.TB, names ...string) []*testNode {
	t.Helper()
	return newFederation(t, fedOptions{catalogues: true}, names...)
}

// newCatFederationWith is a federation of catalogues whose configuration
// tune adjusts.
func newCatFederationWith(t testing.TB, tune func(*CatalogueConfig), names ...string) []*testNode {
	t.Helper()
	return newFederation(t, fedOptions{catalogues: true, tuneCatalogue: tune}, names...)
}

// newReqFed is a federation of exchange services, by name.
func newReqFed(t testing.TB, o fedOptions, names ...string) map[string]*testNode {
	t.Helper()
	o.services = true
	byName := map[string]*testNode{}
	for _, n := range newFederation(t, o, names...) {
		byName[n.m.Name] = n
	}
	return byName
}

// startService (re)starts the node's exchange service on its data dir.
func (n *testNode) startService(t testing.TB, cfg ServiceConfig, opts ...serviceOption) {
	t.Helper()
	cfg.DataDir = n.dir
	svc, err := newService(cfg, n.serviceDeps(n.auth), opts...)
	if err != nil {
		t.Fatal(err)
	}
	n.svc = svc
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("close %s: %v", n.m.Name, err)
		}
	})
}

// serviceDeps are the node's fakes as a service's collaborators, deciding
// with authz.
func (n *testNode) serviceDeps(authz Authorizer) ServiceDeps {
	return ServiceDeps{Host: n.h, Key: n.key, Self: n.m, Source: n.src, Authz: authz, Registry: n.reg, Recorder: n.rec}
}

// publish publishes a small dataset in the node's catalogue.
func publish(t testing.TB, n *testNode, id, class string, partners ...string) Entry {
	t.Helper()
	e, err := n.cat.Publish(context.Background(), Publication{ID: id, Title: "Dataset " + id, Description: "about " + id,
		Theme: "health", Classification: class, Partners: partners, License: "CC-BY-4.0", Keywords: []string{"icu"}, FileName: id + ".csv"},
		strings.NewReader("a,b\n1,2\n"+id))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var testResearcher = policy.Researcher{Sub: "anna.schmidt@uni-freiburg.de", Org: "Universität Freiburg", Role: "researcher"}

// rawExchange sends one frame to another node's protocol from a bare
// stream and reads one frame back; what a misbehaving peer would do.
func rawExchange(t testing.TB, from *testNode, to peer.ID, proto protocol.ID, req, resp any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := from.h.NewStream(ctx, to, proto)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := frame.Write(st, 1<<20, req); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite()
	return frame.Read(st, 1<<20, resp)
}

// testRequestClaims are valid claims from one node to another.
func testRequestClaims(from, to *testNode, resource string, now time.Time) requestClaims {
	return requestClaims{
		Issuer: from.m.PeerID.String(), Audience: to.m.PeerID.String(), ID: newTokenID(),
		IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(),
		Researcher: testResearcher, Resource: resource, Purpose: "research",
	}
}

// testContent is n bytes of deterministic, non-repeating-looking content.
func testContent(n int) []byte {
	b := make([]byte, n)
	var x uint32 = 2463534242
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// The catalogue is the Source the node plugs in.
var _ Source = (*Catalogue)(nil)
