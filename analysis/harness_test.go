package analysis

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"go.uber.org/goleak"

	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/policy"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// Service must have stopped its runs, handlers and pruner by Close. The
// policy engine the tests share is closed first (it plans in the
// background).
func TestMain(m *testing.M) {
	code := m.Run()
	closeTestSandboxes()
	engineMu.Lock()
	if engine != nil {
		_ = engine.Close()
	}
	engineMu.Unlock()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/open-policy-agent/opa/v1/topdown/cache.(*interQueryCache).cleanStaleValues")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var countries = map[string]string{"fr-grandest": "FR", "de-bw": "DE", "ch-basel": "CH", "be-wallonie": "BE", "lu-luxembourg": "LU",
	"nl-limburg": "NL", "us-stranger": "US"}

// memRegistry is a registry held in memory, shared by a test's nodes.
type memRegistry struct {
	mu       sync.Mutex
	members  map[peer.ID]Member
	projects map[string]policy.Project
	modules  map[string]Module // by project/sha256
	behind   error
}

func (r *memRegistry) Module(project, sum string) (Module, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.modules[project+"/"+sum]
	return m, ok
}

// propose registers a module in a project, approved by the members named.
func (r *memRegistry) propose(m Module) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.modules[m.Project+"/"+m.SHA256] = m
}

func (r *memRegistry) MemberByPeer(p peer.ID) (Member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.members[p]
	return m, ok
}

func (r *memRegistry) MemberByName(name string) (Member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

func (r *memRegistry) Project(id string) (policy.Project, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.projects[id]
	return p, ok
}

func (r *memRegistry) Current() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.behind
}

// memDatasets is a catalogue in memory: every node of a test lists every
// node's datasets (as a synced catalogue would), and holds the content of
// its own.
type memDatasets struct {
	self  string
	mu    *sync.Mutex
	all   map[string]Dataset // by owner/id, shared
	blobs map[string][]byte  // by digest, this node's
}

func (d *memDatasets) Own(id string) (Dataset, bool) { return d.Listed(d.self, id) }

func (d *memDatasets) Listed(owner, id string) (Dataset, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ds, ok := d.all[owner+"/"+id]
	return ds, ok
}

func (d *memDatasets) Open(sum string) (Content, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.blobs[sum]
	if !ok {
		return nil, errors.New("no such content")
	}
	return memContent{bytes.NewReader(b)}, nil
}

// memContent is content held in memory.
type memContent struct{ *bytes.Reader }

func (memContent) Close() error { return nil }

// memRecorder is an audit trail in memory that can be made to fail.
type memRecorder struct {
	mu      sync.Mutex
	records []recorded
	fail    bool
}

type recorded struct {
	Type, Subject string
	Details       json.RawMessage
}

func (r *memRecorder) Record(typ, subject string, details any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("disk full")
	}
	raw, _ := json.Marshal(details)
	r.records = append(r.records, recorded{typ, subject, raw})
	return nil
}

func (r *memRecorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Type == typ {
			n++
		}
	}
	return n
}

func (r *memRecorder) setFail(v bool) {
	r.mu.Lock()
	r.fail = v
	r.mu.Unlock()
}

type testNode struct {
	m    Member
	key  ed25519.PrivateKey
	svc  *Service
	data *memDatasets
	rec  *memRecorder
	deps Deps
	cfg  Config
}

type federation struct {
	t      testing.TB
	reg    *memRegistry
	nodes  map[string]*testNode
	mu     sync.Mutex
	all    map[string]Dataset
	engine *policy.Engine
}

// engine is the shipped policy, loaded once per test binary and closed by
// TestMain.
var (
	engineMu sync.Mutex
	engine   *policy.Engine
)

func sharedEngine() (*policy.Engine, error) {
	engineMu.Lock()
	defer engineMu.Unlock()
	if engine != nil {
		return engine, nil
	}
	e, err := policy.NewEngine(context.Background(), "../policies", nil)
	if err != nil {
		return nil, err
	}
	engine = e
	return e, nil
}

// newFederation starts one node per name on loopback, all members of one
// registry, each with the shipped policies.
func newFederation(t testing.TB, names ...string) *federation {
	t.Helper()
	return newFederationWith(t, federationOptions{}, names...)
}

// federationOptions adjust the nodes newFederationWith starts; the zero
// value is the tests' federation.
type federationOptions struct {
	// roundTimeout, when set, replaces the tests' round timeout: an owner
	// parses a large dataset in its first round.
	roundTimeout time.Duration
	// wire, when set, gives the reporter a node's host logs the bytes of
	// its streams to (libp2p.BandwidthReporter).
	wire func(name string) metrics.Reporter
	// sandbox, when set, runs the nodes' programs (evaluations, modules);
	// ledger records their evaluations.
	sandbox Runner
	ledger  Ledger
}

func newFederationWith(t testing.TB, opts federationOptions, names ...string) *federation {
	t.Helper()
	eng, err := sharedEngine()
	if err != nil {
		t.Fatal(err)
	}
	f := &federation{t: t, nodes: map[string]*testNode{}, all: map[string]Dataset{}, engine: eng,
		reg: &memRegistry{members: map[peer.ID]Member{}, projects: map[string]policy.Project{}, modules: map[string]Module{}}}
	var hosts []*testNode
	for _, name := range names {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pk, _ := crypto.UnmarshalEd25519PrivateKey(k)
		hostOpts := []libp2p.Option{libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics()}
		if opts.wire != nil {
			hostOpts = append(hostOpts, libp2p.BandwidthReporter(opts.wire(name)))
		}
		h, err := libp2p.New(hostOpts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		m := Member{Name: name, Country: countries[name], Org: "Org " + name, PeerID: h.ID()}
		n := &testNode{m: m, key: k, rec: &memRecorder{},
			data: &memDatasets{self: name, mu: &f.mu, all: f.all, blobs: map[string][]byte{}}}
		n.deps = Deps{Host: h, Key: k, Self: m, Datasets: n.data, Authz: eng, Registry: f.reg, Recorder: n.rec,
			Sandbox: opts.sandbox, Ledger: opts.ledger}
		n.cfg = DefaultConfig(t.TempDir())
		n.cfg.RoundTimeout = testkit.PolicyDecisionTimeout + 20*time.Second
		if opts.roundTimeout > 0 {
			n.cfg.RoundTimeout = opts.roundTimeout
		}
		f.nodes[name] = n
		hosts = append(hosts, n)
		if name != "us-stranger" {
			f.reg.members[h.ID()] = m
		}
	}
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				a.deps.Host.Peerstore().AddAddrs(b.m.PeerID, b.deps.Host.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	for _, n := range hosts {
		f.start(n)
	}
	return f
}

func (f *federation) start(n *testNode) {
	f.t.Helper()
	svc, err := New(n.cfg, n.deps)
	if err != nil {
		f.t.Fatal(err)
	}
	n.svc = svc
	f.t.Cleanup(func() { _ = svc.Close() })
}

// publish lists a dataset of owner, with content, in every node's
// catalogue.
func (f *federation) publish(owner string, d Dataset, content []byte) {
	sum := sha256.Sum256(content)
	d.Owner, d.Kind, d.SHA256 = owner, "dataset", hex.EncodeToString(sum[:])
	if d.Theme == "" {
		d.Theme = "health"
	}
	f.mu.Lock()
	f.all[d.Ref()] = d
	f.nodes[owner].data.blobs[d.SHA256] = content
	f.mu.Unlock()
}

// run runs spec as researcher at node and waits for its end.
func (f *federation) run(node string, spec Spec) Status {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := f.nodes[node].svc.Run(ctx, researcher, spec)
	if err != nil {
		f.t.Fatalf("run %s: %v", spec.Kind, err)
	}
	if !st.Done() {
		f.t.Fatalf("%s did not finish in time: %+v", spec.Kind, st)
	}
	return st
}

var researcher = Caller{Subject: "alice@uni-freiburg.de", Org: "Universität Freiburg", Role: "researcher"}

// dictionaryOf returns a pointer to a copy of d.
func dictionaryOf(d tabular.Dictionary) *tabular.Dictionary { return &d }
