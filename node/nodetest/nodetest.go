// Package nodetest starts federations of in-process xborder nodes for
// tests, the way net/http/httptest starts servers: each member gets its
// own data dir (node.Init with the shipped policies), one genesis lists
// them all, and every node listens on loopback ports of its own.
//
// The test configuration is the one place that says how a test node
// differs from a production one: no mDNS (the mesh must form from the
// genesis alone), fast redials, a short audit anchor interval, logs
// through t.Log at Warn, and generous policy decision deadlines, so that
// a decision on a loaded two-core machine is not refused for its time.
// A test that asserts a deadline sets its own through WithConfig or
// Configs before it starts the node.
//
// Package node's own tests cannot import this package (it imports node):
// their testFed (node/federation_test.go) builds the same configuration
// and must be kept in step with Config here.
package nodetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node"
)

// Countries are the regions tests name their members after; a name not
// listed runs in France.
var Countries = map[string]string{
	"fr-grandest": "FR", "de-bw": "DE", "ch-basel": "CH", "be-wallonie": "BE", "lu-luxembourg": "LU", "nl-limburg": "NL",
}

// FiveRegions are the members of the Grand Est federation.
var FiveRegions = []string{"fr-grandest", "de-bw", "ch-basel", "be-wallonie", "lu-luxembourg"}

// Config is a test node's configuration for member name.
func Config(t testing.TB, name string) node.Config {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.Name, cfg.Country, cfg.Org = name, Countries[name], "Region "+name
	if cfg.Country == "" {
		cfg.Country = "FR"
	}
	port := testkit.FreePort(t, true)
	cfg.Listen = []string{
		fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port),
		fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port),
	}
	cfg.API = "127.0.0.1:0"
	cfg.Discovery.MDNS = false
	cfg.Discovery.RedialMin = node.Duration(100 * time.Millisecond)
	cfg.Discovery.RedialMax = node.Duration(time.Second)
	cfg.ShutdownTimeout = node.Duration(10 * time.Second)
	cfg.AuditAnchorInterval = node.Duration(time.Second)
	cfg.Policy.DecisionTimeout = node.Duration(testkit.PolicyDecisionTimeout)
	for p := range cfg.Policy.Timeouts {
		cfg.Policy.Timeouts[p] = node.Duration(testkit.PolicyDecisionTimeout)
	}
	return cfg
}

// Logger sends a node's logs at Warn and above to the test log, so that
// they show up only when the test fails.
func Logger(t testing.TB, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", name)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Option adjusts a federation before its members are initialised.
type Option func(*options)

type options struct {
	federation string
	withAddrs  func(i int) bool
	tweak      func(i int, cfg *node.Config)
	nodeOpts   []node.Option
}

// Named names the federation (default "grand-est-ai"); two federations
// with other names have other IDs.
func Named(federation string) Option { return func(o *options) { o.federation = federation } }

// WithAddrs decides which members' addresses the genesis carries (default:
// every member's); the others must be found through the DHT.
func WithAddrs(with func(i int) bool) Option { return func(o *options) { o.withAddrs = with } }

// WithConfig changes member i's configuration before its data dir is
// initialised.
func WithConfig(tweak func(i int, cfg *node.Config)) Option {
	return func(o *options) { o.tweak = tweak }
}

// WithNodeOptions opens every member with opts too (a clock, say).
func WithNodeOptions(opts ...node.Option) Option {
	return func(o *options) { o.nodeOpts = append(o.nodeOpts, opts...) }
}

// Federation is a federation of in-process nodes on loopback. Its fields
// may be changed before the members they concern are opened.
type Federation struct {
	t testing.TB
	// Dirs and Configs are each member's data dir and configuration.
	Dirs    []string
	Configs []node.Config
	// Genesis lists the members; WriteGenesis gives each one its copy.
	Genesis  *node.Genesis
	nodeOpts []node.Option
}

// NewFederation initialises one data dir per name and a genesis listing
// them all. Nodes opened from it are closed when the test ends.
func NewFederation(t testing.TB, names []string, opts ...Option) *Federation {
	t.Helper()
	o := options{federation: "grand-est-ai"}
	for _, opt := range opts {
		opt(&o)
	}
	f := &Federation{t: t, Genesis: &node.Genesis{Federation: o.federation}, nodeOpts: o.nodeOpts}
	for i, name := range names {
		dir := filepath.Join(t.TempDir(), name)
		cfg := Config(t, name)
		if o.tweak != nil {
			o.tweak(i, &cfg)
		}
		if _, err := node.Init(dir, cfg, xborder.Policies()); err != nil {
			t.Fatal(err)
		}
		card, err := node.IdentityCard(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if o.withAddrs != nil && !o.withAddrs(i) {
			card.Addrs = nil
		}
		f.Dirs, f.Configs = append(f.Dirs, dir), append(f.Configs, cfg)
		f.Genesis.Members = append(f.Genesis.Members, card)
	}
	f.WriteGenesis()
	return f
}

// WriteGenesis writes f.Genesis into every member's data dir.
func (f *Federation) WriteGenesis() {
	f.t.Helper()
	for i, dir := range f.Dirs {
		if err := os.WriteFile(f.Configs[i].GenesisPath(dir), f.Genesis.Marshal(), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

// Identity is member i's key.
func (f *Federation) Identity(i int) node.Identity {
	f.t.Helper()
	id, err := node.LoadKey(filepath.Join(f.Dirs[i], node.KeyFile))
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// Open opens member i without starting it, with a test logger, the
// federation's node options and opts. The node is closed when the test
// ends.
func (f *Federation) Open(i int, opts ...node.Option) *node.Node {
	f.t.Helper()
	all := append([]node.Option{node.WithLogger(Logger(f.t, f.Configs[i].Name))}, f.nodeOpts...)
	n, err := node.Open(f.Dirs[i], f.Configs[i], append(all, opts...)...)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = n.Close() })
	return n
}

// Start opens and starts member i.
func (f *Federation) Start(i int, opts ...node.Option) *node.Node {
	f.t.Helper()
	n := f.Open(i, opts...)
	if err := n.Start(context.Background()); err != nil {
		f.t.Fatalf("start %s: %v", f.Configs[i].Name, err)
	}
	return n
}

// StartAll starts every member, in order.
func (f *Federation) StartAll() []*node.Node {
	f.t.Helper()
	nodes := make([]*node.Node, len(f.Dirs))
	for i := range f.Dirs {
		nodes[i] = f.Start(i)
	}
	return nodes
}
