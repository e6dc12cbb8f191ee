package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/tlsreload"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console"
	"github.com/xborder/xborder/node/console/sessionstore"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/policy"
	"github.com/xborder/xborder/sandbox"
)

// DHTProtocolPrefix keeps the federation's Kademlia DHT apart from the
// public IPFS DHT.
const DHTProtocolPrefix = "/xborder"

// mdnsService is the DNS-SD service name members announce on the LAN.
const mdnsService = "_xborder._udp"

// policyLoad is the outcome of compiling the policy directory.
type policyLoad struct {
	engine *policy.Engine
	err    error
}

// Option configures the pieces a Node gets injected.
type Option func(*Node)

// WithLogger sets the node's structured logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(n *Node) { n.log = l } }

// WithReloadSignal makes the node reload its policies whenever a value
// arrives on ch (`xborder run` passes SIGHUP).
func WithReloadSignal(ch <-chan os.Signal) Option { return func(n *Node) { n.reloadSig = ch } }

// Node is one federation member: its libp2p host and discovery, and the
// services it wires and runs.
type Node struct {
	dataDir string
	cfg     Config
	id      Identity
	genesis *Genesis
	fedID   string
	members map[peer.ID]Card
	log     *slog.Logger

	reloadSig <-chan os.Signal
	clock     func() time.Time // see WithClock

	reg     *prometheus.Registry
	metrics *metrics
	host    host.Host
	dht     *dht.IpfsDHT
	mdns    mdns.Service
	mesh    *mesh
	policy  *policy.Engine
	audit   *audit.Service
	// wrapTrail lets a test wrap the trail records are appended to, to
	// make its writes fail.
	wrapTrail func(auditAppender) auditAppender
	// wrapApplied lets a test hold back what the local replica applied.
	wrapApplied func(appliedWaiter) appliedWaiter

	pubsub    *pubsub.PubSub
	catalogue *exchange.Catalogue
	exchange  *exchange.Service
	// agreements negotiates model-sharing agreements over the exchange.
	agreements *exchange.Agreements
	// analyses runs federated analyses and answers other members' ones.
	analyses *analysis.Service
	// sandbox runs the WebAssembly programs (predictors, approved
	// analysis modules) that visit this node's data.
	sandbox *sandbox.Sandbox
	// dsp is the node's dataspace participant (nil unless configured), and
	// dspSigner its identity there.
	dsp       *dsp.Service
	dspSigner *dsp.Signer
	// sessions keeps the web console's sessions (DATA/sessions.db).
	sessions *sessionstore.Store
	// identities are the OpenID Connect issuers researchers sign in with
	// (nil: none configured); identityAudit records their refusals.
	identities    *oidc.Issuers
	identityAudit *identityAudit
	// policyChanged wakes the policy declaration after a reload.
	policyChanged chan struct{}
	// registry is set once raft is open; the gater reads it concurrently.
	registry atomic.Pointer[consensus.Registry]
	// clerk is the registry as the API, the console and the agreements
	// write to it: set once the policies are loaded, before any of them
	// starts.
	clerk   *consensus.Clerk
	joining bool // not a founding member: waits to be voted in
	api     *api.Server
	apiLn   net.Listener
	apiTLS  *tlsreload.Reloader // nil unless api_tls is configured

	startedAt time.Time
	ready     atomic.Bool
	cancel    context.CancelFunc
	serveErr  chan error
	wg        sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	backupMu sync.Mutex // one backup at a time (backup.go)
}

// Open loads the node's key and the federation's genesis from the data dir
// and checks that this node is one of its members. It starts nothing.
func Open(dataDir string, cfg Config, opts ...Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{dataDir: dataDir, cfg: cfg, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(n)
	}
	var err error
	if n.id, err = LoadKey(dataDir + "/" + KeyFile); err != nil {
		return nil, err
	}
	if n.genesis, err = LoadGenesis(cfg.GenesisPath(dataDir)); err != nil {
		return nil, fmt.Errorf("%w (pass --genesis FILE on first start)", err)
	}
	n.fedID = n.genesis.ID()
	n.members = make(map[peer.ID]Card, len(n.genesis.Members))
	for _, m := range n.genesis.Members {
		pid, _ := peer.Decode(m.PeerID) // validated by LoadGenesis
		n.members[pid] = m
	}
	self, ok := n.members[n.id.PeerID]
	if !ok {
		// A region admitted after genesis runs the same genesis; its
		// partners let it in once the registry lists it.
		n.joining = true
		n.log.Warn("this node is not a founding member: it is admitted once the members vote it in",
			"peer_id", n.id.PeerID, "federation", n.genesis.Federation)
	} else if self.Name != cfg.Name || self.Country != cfg.Country {
		return nil, fmt.Errorf("config says this node is %s (%s) but the genesis lists its key as %s (%s): fix config.yaml or the genesis", cfg.Name, cfg.Country, self.Name, self.Country)
	}
	if err := n.openAPITLS(); err != nil {
		return nil, err
	}
	return n, nil
}

// IsMember implements MemberSet: the registry's members once it is open
// (so that votes admit and remove members), the genesis before.
func (n *Node) IsMember(p peer.ID) bool {
	if p == n.id.PeerID {
		return true
	}
	if reg := n.registry.Load(); reg != nil {
		return reg.IsMember(p)
	}
	_, ok := n.members[p]
	return ok
}

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.id.PeerID }

// FederationID returns the federation ID from the genesis.
func (n *Node) FederationID() string { return n.fedID }

// APIAddr returns the address the API listens on (after Start).
func (n *Node) APIAddr() string { return n.apiLn.Addr().String() }

// Start brings the node up, phase by phase: the network, the registry,
// LAN discovery, the services, their loops and the local API (each phase
// says why it comes where it does). The policies compile meanwhile, from
// the start. On error everything started so far is stopped again.
func (n *Node) Start(ctx context.Context) (err error) {
	if n.cancel != nil {
		return errors.New("node already started")
	}
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.serveErr = make(chan error, 1)
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	n.startedAt = time.Now()
	defer startGC()()
	n.reg = prometheus.NewRegistry()
	n.metrics = newMetrics(n.reg)
	n.registerHealth(n.reg)
	// Compiling the policies is the slowest step of a start: it runs while
	// the host, discovery and the registry come up.
	// The plan of the policies (decisions from it are faster than
	// topdown's) is made once the node is ready, not while it starts:
	// it takes about a second of CPU. It allocates about 150 MB, garbage
	// once the plan is made, which would otherwise stay mapped for minutes
	// (the runtime returns idle heap to the system slowly); a node that
	// idles next to other services gives it back at once.
	compiled := make(chan policyLoad, 1)
	planAfter := make(chan struct{})
	go func() {
		e, err := policy.NewEngine(ctx, n.cfg.PoliciesPath(n.dataDir), n.log.With("component", "policy"),
			policy.WithEvaluator(n.cfg.Policy.Evaluator), policy.WithPlanAfter(planAfter),
			policy.WithOnPlanned(func(policy.Info) { releasePlannerGarbage() }))
		compiled <- policyLoad{e, err}
	}()
	defer func() {
		if compiled != nil { // returned early: do not leave the engine behind
			if l := <-compiled; l.engine != nil {
				_ = l.engine.Close()
			}
		}
	}()
	if err := n.startNetwork(ctx); err != nil {
		return err
	}
	if err := n.openRegistry(); err != nil {
		return err
	}
	n.startMDNS()
	l := <-compiled
	compiled = nil
	if l.err != nil {
		return fmt.Errorf("load policies: %w", l.err)
	}
	if err := n.startServices(ctx, l.engine); err != nil {
		return err
	}
	if err := n.startLoops(ctx); err != nil {
		return err
	}
	if err := n.serveAPI(); err != nil {
		return err
	}
	n.ready.Store(true)
	close(planAfter)
	n.log.Info("node started", "name", n.cfg.Name, "peer_id", n.id.PeerID, "federation", n.genesis.Federation,
		"federation_id", n.fedID, "listen", n.host.Addrs(), "api", n.apiLn.Addr().String())
	return nil
}

// startNetwork starts the libp2p host behind the membership gater, gossip,
// the mesh that keeps this node connected to every member (seeded with the
// genesis addresses) and the private DHT. It comes first: every service
// runs over the host, and the registry's raft needs the mesh to reach a
// leader.
func (n *Node) startNetwork(ctx context.Context) (err error) {
	g := newGater(n, n.log.With("component", "gater"), n.metrics)
	if n.host, err = newHost(&n.cfg, n.id, n.fedID, g, n.reg); err != nil {
		return err
	}
	// Gossip is served before the mesh dials anyone: a member's gossip
	// router opens its stream to us once, when the connection comes up,
	// and gives up on us for as long as it lasts if we do not speak the
	// protocol yet, so that after a restart our catalogue announcements
	// would reach no one.
	if n.pubsub, err = pubsub.NewGossipSub(ctx, n.host); err != nil {
		return fmt.Errorf("start gossip: %w", err)
	}
	var bootstrap []peer.AddrInfo
	var memberIDs []peer.ID
	for pid, m := range n.members {
		memberIDs = append(memberIDs, pid)
		if pid == n.id.PeerID {
			continue
		}
		addrs := parseAddrs(m.Addrs)
		n.host.Peerstore().AddAddrs(pid, addrs, peerstore.PermanentAddrTTL)
		if len(addrs) > 0 {
			bootstrap = append(bootstrap, peer.AddrInfo{ID: pid, Addrs: addrs})
		}
	}
	n.mesh = newMesh(n.host, memberIDs, n.fedID, g, n.log.With("component", "mesh"), n.metrics,
		n.cfg.Discovery.RedialMin.Std(), n.cfg.Discovery.RedialMax.Std(), n.cfg.Discovery.RefusedRedialMax.Std())
	if n.cfg.Discovery.DHT {
		n.dht, err = dht.New(n.host,
			dht.Mode(dht.ModeServer),
			dht.ProtocolPrefix(DHTProtocolPrefix),
			dht.DisableProviders(),
			dht.DisableValues(),
			dht.BootstrapPeers(bootstrap...),
		)
		if err != nil {
			return fmt.Errorf("start DHT: %w", err)
		}
		n.mesh.finder = n.dht
	}
	if err := n.mesh.start(ctx); err != nil {
		return fmt.Errorf("start mesh: %w", err)
	}
	return nil
}

// openRegistry opens the replicated registry over the host and makes the
// mesh, the peerstore and the gater follow its member list from then on
// (members voted in after genesis included). It needs nothing but the
// network, so it comes up while the policies still compile.
func (n *Node) openRegistry() error {
	reg, err := consensus.Open(n.cfg.Registry.Consensus(n.dataDir), consensus.Deps{
		Host: n.host, Key: n.id.Key, Genesis: n.genesis.registryMembers(), Log: n.log.With("component", "registry")})
	if err != nil {
		return fmt.Errorf("open registry: %w", err)
	}
	n.registry.Store(reg)
	reg.OnMembershipChange(func(ch consensus.MembershipChange) {
		if ch.FormerPeerID != "" {
			// The replaced key's connections are closed by the mesh below,
			// and the gater refuses it from now on.
			n.log.Warn("a member's node key was replaced by vote", "member", ch.Member.Name,
				"peer_id", ch.Member.PeerID, "former_peer_id", ch.FormerPeerID)
		} else {
			n.log.Info("membership changed by vote", "member", ch.Member.Name, "added", ch.Added)
		}
		n.syncMembership()
	})
	n.syncMembership()
	return nil
}

// startMDNS announces the node on the LAN and dials the members it finds
// there. It comes after openRegistry, so that the mesh already knows
// every member the registry lists when the first one is found.
func (n *Node) startMDNS() {
	if !n.cfg.Discovery.MDNS {
		return
	}
	svc := mdns.NewMdnsService(n.host, mdnsService, n.mesh)
	if err := svc.Start(); err != nil {
		// A host without multicast (some containers) still meshes
		// through genesis addresses and the DHT.
		n.log.Warn("mDNS discovery unavailable", "err", err)
		return
	}
	n.mdns = svc
}

// startServices takes the compiled policy engine and builds, in the order
// each needs the previous ones: the audit trail (every later service
// records to it; the engine's hooks record reloads), the registry's clerk
// (writes admitted by the engine), the catalogue (on the gossip that
// startNetwork serves), the exchange service, agreement negotiation and
// the federated analyses. Their loops start in startLoops.
func (n *Node) startServices(ctx context.Context, engine *policy.Engine) (err error) {
	n.policy = engine
	deadlines, err := n.cfg.Policy.Deadlines()
	if err == nil {
		err = n.policy.SetDeadlines(deadlines)
	}
	if err != nil {
		return fmt.Errorf("policy timeouts: %w", err)
	}
	if n.audit, err = audit.OpenService(n.cfg.auditConfig(n.dataDir), audit.Deps{Key: n.id.Key, Host: n.host,
		Registry: auditRegistry{n}, Members: auditMembers{n}, Policy: n.policy,
		Log: n.log.With("component", "audit"), WrapTrail: n.wrapTrail}); err != nil {
		return err
	}
	n.policy.OnTimeout = func(p policy.Point) {
		n.metrics.policyTimeouts.WithLabelValues(strings.TrimPrefix(string(p), "data.xborder.")).Inc()
	}
	n.policyChanged = make(chan struct{}, 1)
	n.policy.OnReload = func(i policy.Info) {
		n.record(auditPolicyReload, i.Hash, map[string]any{"hash": i.Hash, "files": len(i.Files)})
		select {
		case n.policyChanged <- struct{}{}:
		default: // a declaration is already due
		}
	}
	n.policy.OnRefused = func(err error) {
		n.record(auditPolicyRefused, n.policy.Info().Hash, map[string]any{"error": err.Error(), "active": n.policy.Info().Hash})
	}
	if n.clerk, err = n.registryClerk(n.registry.Load()); err != nil {
		return fmt.Errorf("registry writes: %w", err)
	}
	self := exchange.Member{Name: n.cfg.Name, Country: n.cfg.Country, Org: n.cfg.Org, PeerID: n.id.PeerID}
	catCfg := exchange.DefaultCatalogueConfig(n.dataDir, catalogueTopic(n.fedID))
	catCfg.PublicURL = n.cfg.PublicBaseURL()
	if n.catalogue, err = exchange.OpenCatalogue(catCfg, exchange.CatalogueDeps{
		Host: n.host, PubSub: n.pubsub, Self: self, Authz: n.policy, Registry: exchangeRegistry{n}, Recorder: auditRecorder{n},
		Quality: modelQuality{n},
		Log:     n.log.With("component", "catalogue")}); err != nil {
		return fmt.Errorf("open catalogue: %w", err)
	}
	if n.exchange, err = exchange.NewService(exchange.DefaultServiceConfig(n.dataDir), exchange.ServiceDeps{
		Host: n.host, Key: n.id.Key, Self: self, Source: n.catalogue, Authz: n.policy, Registry: exchangeRegistry{n},
		Recorder: auditRecorder{n}, Log: n.log.With("component", "exchange"), Clock: n.now}); err != nil {
		return fmt.Errorf("start exchange: %w", err)
	}
	if n.agreements, err = exchange.NewAgreements(exchange.AgreementsDeps{Service: n.exchange, Catalogue: n.catalogue,
		Policy: n.policy, Registry: exchangeRegistry{n}}); err != nil {
		return fmt.Errorf("start agreements: %w", err)
	}
	sbCfg := sandbox.DefaultConfig()
	sbCfg.CacheDir = filepath.Join(n.dataDir, "sandbox-cache")
	if n.sandbox, err = sandbox.New(sbCfg); err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	if n.analyses, err = analysis.New(analysis.DefaultConfig(n.dataDir), analysis.Deps{
		Host: n.host, Key: n.id.Key, Self: analysis.Member(self), Datasets: analysisDatasets{n.catalogue},
		Authz: n.policy, Registry: analysisRegistry{exchangeRegistry{n}}, Recorder: auditRecorder{n},
		Sandbox: n.sandbox, Ledger: evaluationLedger{n},
		Log: n.log.With("component", "analysis"), Clock: n.now}); err != nil {
		return fmt.Errorf("start analyses: %w", err)
	}
	if err := n.openIdentityProviders(); err != nil {
		return err
	}
	if err := n.openSessions(); err != nil {
		return err
	}
	return n.openDataspace()
}

// startLoops starts what runs on its own once every service exists: the
// catalogue's pulls from each member as it connects, the audit trail's
// anchoring (after the node.start record), the declaration of the active
// policy bundle in the registry after every reload, and the reloads on a
// change of the policy files or on the reload signal.
func (n *Node) startLoops(ctx context.Context) error {
	// Catch up with every member now connected, and with each one that
	// connects later.
	cat := n.catalogue
	pull := func(p peer.ID) {
		if m, ok := (exchangeRegistry{n}).MemberByPeer(p); ok {
			cat.PullAsync(m)
		}
	}
	n.mesh.setOnVerified(pull)
	for _, p := range n.mesh.memberList() {
		if n.mesh.connected(p) {
			pull(p)
		}
	}
	n.audit.Start(ctx)
	n.record(auditNodeStart, n.cfg.Name, map[string]any{"version": Version, "peer_id": n.id.PeerID.String(),
		"federation_id": n.fedID, "policy": n.policy.Info().Hash})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.policyLoop(ctx, n.policyChanged)
	}()
	if err := n.policy.Watch(); err != nil {
		return fmt.Errorf("watch policies: %w", err)
	}
	if n.reloadSig != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-n.reloadSig:
					n.log.Info("reloading policies on signal")
					_, _ = n.policy.Reload(ctx) // a refusal is logged by the engine
				}
			}
		}()
	}
	return nil
}

// serveAPI builds the web console and the local HTTP API over the
// services and serves them. It comes last: a caller reaches only a node
// whose services all run.
func (n *Node) serveAPI() (err error) {
	cd := console.Deps{
		Backend:    n,
		Policies:   n.policy,
		Registry:   n.clerk,
		Audit:      n.audit,
		Catalogue:  n.catalogue,
		Exchange:   n.exchange,
		Agreements: n.agreements,
		Analyses:   n.analyses,
		Modules:    n.clerk,
		Authz:      n.policy,
		Key:        n.id.PublicKey(),
		NodeID:     n.id.PeerID.String(),
		Sessions:   n.sessions,
		Recorder:   auditRecorder{n},
		PublicURL:  n.cfg.PublicBaseURL(),
		Name:       n.cfg.Name,
		// Secure cookies behind a TLS-terminating proxy too.
		SecureCookies: n.secureCookies(),
		Log:           n.log.With("component", "console"),
	}
	if n.identities != nil {
		cd.Identities, cd.Roles, cd.IdentityAudit = n.identities, n.policy, n.identityAudit
	}
	web, err := console.New(cd)
	if err != nil {
		return fmt.Errorf("web console: %w", err)
	}
	deps := api.Deps{
		Backend:    n,
		Policies:   n.policy,
		Registry:   n.clerk,
		Audit:      n.audit,
		Catalogue:  n.catalogue,
		Exchange:   n.exchange,
		Agreements: n.agreements,
		Analyses:   n.analyses,
		Modules:    n.clerk,
		Backups:    n,
		Tokens:     &api.Verifier{Key: n.id.PublicKey(), NodeID: n.id.PeerID.String()},
		Authz:      n.policy,
		Console:    web,
		Sessions:   consoleSessions{n},
		Log:        n.log.With("component", "api"),
		Registerer: n.reg,
		Gatherer:   n.reg,
	}
	if n.identities != nil {
		deps.Identities, deps.Roles, deps.IdentityAudit = n.identities, n.policy, n.identityAudit
	}
	if n.dsp != nil {
		deps.Dataspace = dataspaceAPI{Service: n.dsp, n: n}
		deps.DataspaceProtocol, deps.DataspaceWellKnown = n.dsp.Handler(), n.dsp.WellKnown()
		deps.DataspaceBasePath = n.dsp.Config().BasePath
	}
	n.api = api.NewServer(deps)
	if n.apiLn, err = n.listenAPI(); err != nil {
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.api.Serve(n.apiLn); err != nil {
			n.serveErr <- fmt.Errorf("API server: %w", err)
		}
	}()
	return nil
}

// Run starts the node and serves until ctx is cancelled (SIGINT/SIGTERM in
// `xborder run`), then shuts down within the configured timeout.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
		n.log.Info("shutting down", "timeout", n.cfg.ShutdownTimeout.Std().String())
	case runErr = <-n.serveErr:
		n.log.Error("stopping after a fatal error", "err", runErr)
	}
	done := make(chan error, 1)
	go func() { done <- n.Close() }()
	select {
	case err := <-done:
		if err != nil {
			return errors.Join(runErr, err)
		}
		n.log.Info("stopped")
		return runErr
	case <-time.After(n.cfg.ShutdownTimeout.Std()):
		err := fmt.Errorf("shutdown did not finish within %v", n.cfg.ShutdownTimeout.Std())
		if path, derr := dumpStacks(n.dataDir); derr == nil {
			err = fmt.Errorf("%w; what was still running is in %s", err, path)
		}
		return errors.Join(runErr, err)
	}
}

// Close stops the phases of Start in reverse and waits for their
// goroutines. It is idempotent, and stops only what was started.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.ready.Store(false)
		errs := []error{n.stopAPI()}
		errs = append(errs, n.stopServices()...)
		// The loops end with the node's context.
		if n.cancel != nil {
			n.cancel()
		}
		errs = append(errs, n.stopNetwork()...)
		// The engine closes once nothing that asks it runs.
		if n.policy != nil {
			errs = append(errs, n.policy.Close())
		}
		n.wg.Wait()
		// The trail closes last: everything above may still record.
		if n.audit != nil {
			errs = append(errs, n.audit.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// stopAPI stops serving callers first, so that none reaches a service
// that is stopping.
func (n *Node) stopAPI() error {
	if n.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout.Std())
		defer cancel()
		return n.api.Shutdown(ctx)
	}
	if n.apiLn != nil {
		return n.apiLn.Close()
	}
	return nil
}

// stopServices stops the services of startServices in reverse, then the
// audit trail's anchoring, whose last anchor (covering this stop) is
// committed while the registry and the mesh still run.
func (n *Node) stopServices() []error {
	var errs []error
	if n.dsp != nil {
		errs = append(errs, n.dsp.Close())
	}
	if n.sessions != nil {
		errs = append(errs, n.sessions.Close())
	}
	if n.analyses != nil {
		errs = append(errs, n.analyses.Close())
	}
	if n.sandbox != nil {
		errs = append(errs, n.sandbox.Close())
	}
	if n.agreements != nil {
		n.agreements.Close()
	}
	if n.exchange != nil {
		errs = append(errs, n.exchange.Close())
	}
	// The catalogue leaves its topic while gossip still runs.
	if n.catalogue != nil {
		n.mesh.setOnVerified(nil)
		errs = append(errs, n.catalogue.Close())
	}
	if n.audit != nil {
		n.audit.Stop()
	}
	return errs
}

// stopNetwork closes LAN discovery, the registry, the mesh, the DHT and
// the host, in that order (the reverse of startNetwork, openRegistry and
// startMDNS).
func (n *Node) stopNetwork() []error {
	var errs []error
	if n.mdns != nil {
		errs = append(errs, n.mdns.Close())
	}
	if reg := n.registry.Load(); reg != nil {
		errs = append(errs, reg.Close())
	}
	if n.mesh != nil {
		n.mesh.wait()
	}
	if n.dht != nil {
		errs = append(errs, n.dht.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	return errs
}

// Status implements api.Backend.
func (n *Node) Status(context.Context) api.Status {
	s := api.Status{
		Name: n.cfg.Name, PeerID: n.id.PeerID.String(), Country: n.cfg.Country, Org: n.cfg.Org,
		Federation: n.genesis.Federation, FederationID: n.fedID, Version: Version,
		Ready: n.ready.Load(), Members: len(n.registryMembers()), ListenAddrs: []string{},
		StartedAt: n.startedAt.UTC().Truncate(time.Second),
		UptimeS:   int64(time.Since(n.startedAt).Seconds()),
	}
	if n.policy != nil {
		info := n.policy.Info()
		s.Policy = api.PolicyStatus{Hash: info.Hash, LoadedAt: info.LoadedAt.Truncate(time.Second), LastError: info.LastError,
			Evaluator: info.Evaluator, EvaluatorConfigured: info.EvaluatorConfigured}
	}
	s.Raft = n.raftStatus()
	if n.catalogue != nil {
		own, remote := n.catalogue.Counts()
		s.Catalogue = &api.CatalogueStatus{Version: n.catalogue.Version(), Entries: own, RemoteEntries: remote}
	}
	if n.audit != nil {
		if h, err := n.audit.Head(); err == nil {
			s.Audit = &api.AuditStatus{Seq: h.Seq, Head: h.Hash}
		}
	}
	if n.host != nil {
		s.PeersConnected = n.mesh.connectedCount()
		for _, a := range n.host.Addrs() {
			s.ListenAddrs = append(s.ListenAddrs, a.String())
		}
	}
	return s
}

// Peers implements api.Backend: every member, sorted by name.
func (n *Node) Peers(context.Context) []api.Peer {
	members := n.registryMembers()
	out := make([]api.Peer, 0, len(members))
	for _, m := range members {
		pid, err := peer.Decode(m.PeerID)
		if err != nil {
			continue
		}
		p := api.Peer{Name: m.Name, Country: m.Country, Org: m.Org, PeerID: m.PeerID, Self: pid == n.id.PeerID, Addrs: []string{}}
		switch {
		case p.Self:
			p.Connected = true
			for _, a := range n.host.Addrs() {
				p.Addrs = append(p.Addrs, a.String())
			}
		default:
			p.Connected = n.mesh.connected(pid)
			for _, a := range n.host.Peerstore().Addrs(pid) {
				p.Addrs = append(p.Addrs, a.String())
			}
			slices.Sort(p.Addrs)
			if rtt := n.host.Peerstore().LatencyEWMA(pid); rtt > 0 {
				p.RTTms = float64(rtt.Microseconds()) / 1000
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b api.Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Readiness implements api.Backend.
func (n *Node) Readiness(context.Context) api.Readiness {
	r := api.Readiness{Ready: n.ready.Load(), Checks: map[string]string{}}
	if n.ready.Load() {
		r.Checks["host"] = fmt.Sprintf("listening on %d addresses", len(n.host.Addrs()))
		r.Checks["api"] = "serving"
	} else {
		r.Checks["host"] = "not started"
	}
	r.Checks["peers"] = fmt.Sprintf("%d of %d other members connected", n.mesh.connectedCount(), len(n.registryMembers())-1)
	if rs := n.raftStatus(); rs != nil {
		r.Checks["registry"] = fmt.Sprintf("%s, leader %q, applied index %d", rs.State, rs.Leader, rs.AppliedIndex)
	}
	n.checkWrites(&r)
	return r
}

func parseAddrs(ss []string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		if a, err := ma.NewMultiaddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// dumpStacks writes every goroutine's stack to the data dir, so that an
// operator (or a bug report) can see what a shutdown that overran was
// waiting for.
func dumpStacks(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "shutdown-stacks.txt")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := pprof.Lookup("goroutine").WriteTo(f, 2); err != nil {
		return "", err
	}
	return path, f.Close()
}

// startGCPercent is the garbage collector's target while nodes start: a
// start allocates some 20 MB, most of it the policy compiler's, of which
// about 7 MB stay; with the default GOGC of 100 the collector ran five
// times meanwhile (11% of the CPU, on the cores the start waits for), with
// 400 once. The heap may grow to 16 MB until the start ends; the plan
// made after it leaves more garbage than that, which the node returns to
// the system (see Start).
const startGCPercent = 400

var startGCState struct {
	sync.Mutex
	starting int // nodes of this process starting now
	restore  int // the GOGC to restore when the last is done
	raised   bool
}

// startGC raises the collector's target for a start and returns what
// lowers it again. Overlapping starts (a test's federation in one process)
// share one raise; a GOGC the operator set higher, or off, is kept.
func startGC() (done func()) {
	s := &startGCState
	s.Lock()
	defer s.Unlock()
	if s.starting == 0 {
		prev := debug.SetGCPercent(startGCPercent)
		s.raised = prev >= 0 && prev < startGCPercent
		if !s.raised {
			debug.SetGCPercent(prev)
		}
		s.restore = prev
	}
	s.starting++
	return func() {
		s.Lock()
		defer s.Unlock()
		s.starting--
		if s.starting == 0 && s.raised {
			debug.SetGCPercent(s.restore)
			s.raised = false
		}
	}
}

// releasePlannerGarbage returns the heap the planner left behind to the
// system. The first collection moves what OPA's sync.Pools hold into
// their victim caches, where the second (FreeOSMemory's) frees it: with
// FreeOSMemory alone, a node kept, every other start, some 10 MiB more
// resident than it needs, depending on when the last collection ran.
func releasePlannerGarbage() {
	runtime.GC()
	debug.FreeOSMemory()
}
