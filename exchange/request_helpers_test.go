package exchange

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/xborder/xborder/policy"
)

// Fakes and a small in-process federation for the request and transfer
// tests: real libp2p hosts on loopback, fake policy, registry, audit and
// catalogue.

// reqAuthz allows open data and denies everything else with a reason.
type reqAuthz struct {
	mu     sync.Mutex
	inputs []policy.ExchangeInput
}

func (*reqAuthz) CatalogueVisible(context.Context, policy.CatalogueInput) (bool, error) {
	return true, nil
}

func (a *reqAuthz) Exchange(_ context.Context, in policy.ExchangeInput) (policy.Decision, error) {
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

func (a *reqAuthz) last(t *testing.T) policy.ExchangeInput {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.inputs) == 0 {
		t.Fatal("the policy was never asked")
	}
	return a.inputs[len(a.inputs)-1]
}

// reqRegistry lists the members and projects every node sees.
type reqRegistry struct {
	members map[peer.ID]Member

	mu       sync.Mutex
	projects map[string]policy.Project
	behind   error // what Current says: a replica catching up
}

func (r *reqRegistry) Current() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.behind
}

// setBehind makes the registry a replica catching up (err) or current (nil).
func (r *reqRegistry) setBehind(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.behind = err
}

func (r *reqRegistry) MemberByPeer(p peer.ID) (Member, bool) { m, ok := r.members[p]; return m, ok }
func (r *reqRegistry) Project(id string) (policy.Project, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.projects[id]
	return p, ok
}

// setProject changes a project, as a registry command applied would.
func (r *reqRegistry) setProject(p policy.Project) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.projects[p.ID] = p
}
func (*reqRegistry) Agreements(string) []policy.Agreement { return nil }

// reqRecord is one audit record a fake recorder saw.
type reqRecord struct {
	typ, subject string
	details      any
}

type reqRecorder struct {
	mu      sync.Mutex
	records []reqRecord
	fail    error // while set, nothing is written and Record returns it
}

func (r *reqRecorder) Record(typ, subject string, details any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.records = append(r.records, reqRecord{typ, subject, details})
	return nil
}

// failWith makes every later Record fail with err (nil: work again), as
// an audit trail on a full disk does.
func (r *reqRecorder) failWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// of returns the records of one type, in order.
func (r *reqRecorder) of(typ string) []reqRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []reqRecord
	for _, rec := range r.records {
		if rec.typ == typ {
			out = append(out, rec)
		}
	}
	return out
}

// reqSource is an in-memory catalogue of local entries and blobs.
type reqSource struct {
	mu      sync.Mutex
	entries map[string]Entry
	blobs   map[string][]byte
}

func (s *reqSource) Lookup(id string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	return e, ok && !e.Withdrawn
}

func (s *reqSource) OpenBlob(sum string) (io.ReadSeekCloser, error) {
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
func (s *reqSource) add(owner, id, class string, content []byte) Entry {
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
func (s *reqSource) corrupt(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.entries[id].SHA256
	b := bytes.Clone(s.blobs[sum])
	b[len(b)/2] ^= 0xff
	s.blobs[sum] = b
}

// reqNode is one member (or stranger) of a test federation.
type reqNode struct {
	m    Member
	key  ed25519.PrivateKey
	h    host.Host
	dir  string
	src  *reqSource
	auth *reqAuthz
	rec  *reqRecorder
	svc  *Service
	reg  *reqRegistry
}

// reqFedOptions shape a test federation.
type reqFedOptions struct {
	cfg       func(*ExchangeConfig)
	opts      map[string][]serviceOption // per member name
	strangers []string                   // names kept out of the registry
}

func testExchangeConfig() ExchangeConfig {
	c := DefaultConfig()
	c.MaxMessage = 64 << 10
	c.ChunkSize = 64 << 10
	c.StreamTimeout = 10 * time.Second
	c.IdleTimeout = 5 * time.Second
	c.RetryBackoff = 10 * time.Millisecond
	c.MaxRetryBackoff = 200 * time.Millisecond
	return c
}

var reqCountries = map[string]string{"fr-grandest": "FR", "de-bw": "DE", "ch-basel": "CH", "be-wallonie": "BE", "lu-luxembourg": "LU"}

// newReqFed starts one host and service per name, all connected.
func newReqFed(t *testing.T, o reqFedOptions, names ...string) map[string]*reqNode {
	t.Helper()
	reg := &reqRegistry{members: map[peer.ID]Member{}, projects: map[string]policy.Project{
		"cardio-x": {ID: "cardio-x", Title: "Cardio cross-border", Themes: []string{"health"}, Lead: "fr-grandest",
			Partners: []string{"fr-grandest", "de-bw"}, Status: "active"},
	}}
	nodes := map[string]*reqNode{}
	var order []*reqNode
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
		t.Cleanup(func() { _ = h.Close() })
		country := reqCountries[name]
		if country == "" {
			country = "IT"
		}
		n := &reqNode{
			m:   Member{Name: name, Country: country, Org: "Org " + name, PeerID: h.ID()},
			key: k, h: h, dir: t.TempDir(), reg: reg,
			src:  &reqSource{entries: map[string]Entry{}, blobs: map[string][]byte{}},
			auth: &reqAuthz{}, rec: &reqRecorder{},
		}
		nodes[name] = n
		order = append(order, n)
	}
	for _, n := range order {
		stranger := false
		for _, s := range o.strangers {
			stranger = stranger || s == n.m.Name
		}
		if !stranger {
			reg.members[n.h.ID()] = n.m
		}
	}
	for _, n := range order {
		for _, p := range order {
			if p != n {
				n.h.Peerstore().AddAddrs(p.h.ID(), p.h.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	for _, n := range order {
		cfg := testExchangeConfig()
		if o.cfg != nil {
			o.cfg(&cfg)
		}
		n.startService(t, cfg, o.opts[n.m.Name]...)
	}
	return nodes
}

// startService (re)starts the node's exchange service on its data dir.
func (n *reqNode) startService(t *testing.T, cfg ExchangeConfig, opts ...serviceOption) {
	t.Helper()
	svc, err := newService(cfg, n.h, n.key, n.m, n.src, n.auth, n.reg, n.rec, n.dir, nil, opts...)
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

var testResearcher = policy.Researcher{Sub: "anna.schmidt@uni-freiburg.de", Org: "Universität Freiburg", Role: "researcher"}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawExchange sends one frame to another node's protocol from a bare
// stream and reads one frame back; what a misbehaving peer would do.
func rawExchange(t *testing.T, from *reqNode, to peer.ID, proto protocol.ID, req, resp any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := from.h.NewStream(ctx, to, proto)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeExchangeFrame(st, 1<<20, req); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseWrite()
	return readExchangeFrame(st, 1<<20, resp)
}

// testRequestClaims are valid claims from one node to another.
func testRequestClaims(from, to *reqNode, resource string, now time.Time) requestClaims {
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
