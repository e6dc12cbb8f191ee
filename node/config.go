package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"gopkg.in/yaml.v3"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/policy"
)

// ConfigFile is the name of the configuration file inside the data dir.
const ConfigFile = "config.yaml"

// Default ports: the p2p port serves TCP and QUIC, the API listens on
// loopback only unless an operator says otherwise.
const (
	DefaultP2PPort = 7400
	DefaultAPIAddr = "127.0.0.1:7401"
)

// Config is a node's configuration: config.yaml in the data dir, overridden
// by environment variables and then by flags (see Set).
type Config struct {
	Name    string `yaml:"name"`
	Country string `yaml:"country"`
	Org     string `yaml:"org"`

	// Listen are the multiaddrs the libp2p host listens on (TCP and QUIC).
	Listen []string `yaml:"listen"`
	// Advertise, when set, replaces the listen addresses in the identity
	// card and in what peers learn through identify (NAT, containers).
	Advertise []string `yaml:"advertise"`
	// API is the host:port of the local HTTP API and web console.
	API string `yaml:"api"`
	// APITLS makes the API listener (the API, the web console and the
	// Dataspace Protocol under /dsp) serve HTTPS from the operator's
	// certificate files (off when empty).
	APITLS APITLSConfig `yaml:"api_tls,omitempty"`
	// PublicURL is the node's public base URL: the DCAT catalogue's IRIs
	// are under it. Empty: http(s)://API, for local use (see
	// PublicBaseURL).
	PublicURL string `yaml:"public_url,omitempty"`
	// Genesis is the federation file, relative to the data dir.
	Genesis string `yaml:"genesis"`
	// Policies is the Rego policy directory, relative to the data dir.
	Policies string `yaml:"policies"`
	// Policy selects how the policies are evaluated and bounds how long a
	// decision may take.
	Policy PolicyConfig `yaml:"policy"`

	Log       LogConfig       `yaml:"log"`
	Discovery DiscoveryConfig `yaml:"discovery"`
	Limits    LimitsConfig    `yaml:"limits"`
	// Registry tunes the replicated registry's raft and its writes.
	Registry RegistryConfig `yaml:"registry"`

	// Dataspace makes the node a participant of European dataspaces
	// through the Dataspace Protocol (off by default).
	Dataspace DataspaceConfig `yaml:"dataspace,omitempty"`

	// AuditAnchorInterval is how often the node commits its audit head to
	// the registry (when it changed).
	AuditAnchorInterval Duration `yaml:"audit_anchor_interval"`

	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`

	// Console tunes the web console's sessions.
	Console ConsoleConfig `yaml:"console,omitempty"`

	// IdentityProviders are the OpenID Connect issuers (a region's
	// Keycloak, an eduGAIN proxy, LS Login) researchers sign in with at
	// the console, and whose access tokens API clients may present; the
	// policy (data.xborder.api.role) gives each identity its role.
	IdentityProviders []oidc.Config `yaml:"identity_providers,omitempty"`
}

// ConsoleConfig bounds the web console's sessions (kept in
// DATA/sessions.db): a session ends SessionLifetime after sign-in
// whatever its activity, or after SessionIdleTimeout without a request.
// Zero: 12h and 1h.
type ConsoleConfig struct {
	SessionLifetime    Duration `yaml:"session_lifetime,omitempty"`
	SessionIdleTimeout Duration `yaml:"session_idle_timeout,omitempty"`
}

// APITLSConfig names the PEM certificate chain (leaf first) and private
// key the API serves, relative to the data dir or absolute: both or
// neither. Files written over (a renewal) are served without a restart.
type APITLSConfig struct {
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
}

// Enabled reports whether the API serves HTTPS.
func (c APITLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// Paths resolves the two files against the data dir.
func (c APITLSConfig) Paths(dataDir string) (certFile, keyFile string) {
	resolve := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dataDir, p)
	}
	return resolve(c.CertFile), resolve(c.KeyFile)
}

func (c APITLSConfig) validate(p *problems) {
	switch {
	case c.CertFile == "" && c.KeyFile != "":
		p.addf("api_tls.cert_file: empty while api_tls.key_file is set; name both files or neither")
	case c.KeyFile == "" && c.CertFile != "":
		p.addf("api_tls.key_file: empty while api_tls.cert_file is set; name both files or neither")
	case c.Enabled() && c.CertFile == c.KeyFile:
		p.addf("api_tls.key_file: %q is also the certificate file; the key is a file of its own", c.KeyFile)
	}
}

// PolicyConfig selects how the policy engine evaluates decisions and bounds
// them: a decision that takes longer than its deadline is a denial ("the
// policy took longer than N ms to decide"), counted in
// xborder_policy_timeouts_total.
type PolicyConfig struct {
	// Evaluator is "plan" (decide from OPA's plan of the policy, the
	// default) or "topdown" (never plan: OPA's tree-walking evaluator takes
	// every decision, more slowly).
	Evaluator string `yaml:"evaluator"`
	// DecisionTimeout bounds every decision point without its own entry in
	// Timeouts.
	DecisionTimeout Duration `yaml:"decision_timeout"`
	// Timeouts bound single decision points, named without the
	// data.xborder. prefix: api.allow, catalogue.visible, exchange.decision,
	// agreements.decision, registry.decision, membership.decision,
	// audit.decision, analysis.decision.
	Timeouts map[string]Duration `yaml:"timeouts"`
}

// Deadlines turns the configuration into the policy engine's deadlines.
func (c PolicyConfig) Deadlines() (policy.Deadlines, error) {
	d := policy.Deadlines{Default: c.DecisionTimeout.Std(), Points: make(map[policy.Point]time.Duration, len(c.Timeouts))}
	for name, t := range c.Timeouts {
		d.Points[policy.Point("data.xborder."+name)] = t.Std()
	}
	return d, d.Validate()
}

// LogConfig selects the structured log output.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (text on a terminal, else JSON), json, text
}

// DiscoveryConfig selects how members find each other.
type DiscoveryConfig struct {
	MDNS bool `yaml:"mdns"`
	DHT  bool `yaml:"dht"`
	// RedialMin and RedialMax bound the exponential backoff between dials
	// to an unreachable member.
	RedialMin Duration `yaml:"redial_min"`
	RedialMax Duration `yaml:"redial_max"`
	// RefusedRedialMax bounds the backoff for a member that refuses this
	// node (closes its connections before they can be verified): a
	// candidate waiting for its vote, a node that runs another genesis.
	// Members dial a candidate themselves once it is voted in.
	RefusedRedialMax Duration `yaml:"refused_redial_max"`
}

// LimitsConfig are the resource manager's system-wide limits.
type LimitsConfig struct {
	MaxConnections int `yaml:"max_connections"`
	MaxStreams     int `yaml:"max_streams"`
	MaxMemoryMB    int `yaml:"max_memory_mb"`
	MaxFDs         int `yaml:"max_fds"`
}

// RegistryConfig is the operator's part of consensus.Config: every field
// but the directory, which is the data dir. The defaults are
// consensus.DefaultConfig's.
type RegistryConfig struct {
	HeartbeatTimeout   Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout    Duration `yaml:"election_timeout"`
	LeaderLeaseTimeout Duration `yaml:"leader_lease_timeout"`
	CommitTimeout      Duration `yaml:"commit_timeout"`
	SnapshotThreshold  uint64   `yaml:"snapshot_threshold"`
	SnapshotInterval   Duration `yaml:"snapshot_interval"`
	TrailingLogs       uint64   `yaml:"trailing_logs"`
	// ApplyTimeout bounds a write's reaching a leader and being committed;
	// ApplyWait how long it then waits for this node's replica to apply it.
	ApplyTimeout Duration `yaml:"apply_timeout"`
	ApplyWait    Duration `yaml:"apply_wait"`
	MaxBatch     int      `yaml:"max_batch"`
}

func defaultRegistryConfig() RegistryConfig {
	d := consensus.DefaultConfig("")
	return RegistryConfig{
		HeartbeatTimeout: Duration(d.HeartbeatTimeout), ElectionTimeout: Duration(d.ElectionTimeout),
		LeaderLeaseTimeout: Duration(d.LeaderLeaseTimeout), CommitTimeout: Duration(d.CommitTimeout),
		SnapshotThreshold: d.SnapshotThreshold, SnapshotInterval: Duration(d.SnapshotInterval), TrailingLogs: d.TrailingLogs,
		ApplyTimeout: Duration(d.ApplyTimeout), ApplyWait: Duration(d.ApplyWait), MaxBatch: d.MaxBatch,
	}
}

// Consensus is the registry's configuration for a data dir.
func (c RegistryConfig) Consensus(dataDir string) consensus.Config {
	return consensus.Config{
		Dir:              dataDir,
		HeartbeatTimeout: c.HeartbeatTimeout.Std(), ElectionTimeout: c.ElectionTimeout.Std(),
		LeaderLeaseTimeout: c.LeaderLeaseTimeout.Std(), CommitTimeout: c.CommitTimeout.Std(),
		SnapshotThreshold: c.SnapshotThreshold, SnapshotInterval: c.SnapshotInterval.Std(), TrailingLogs: c.TrailingLogs,
		ApplyTimeout: c.ApplyTimeout.Std(), ApplyWait: c.ApplyWait.Std(), MaxBatch: c.MaxBatch,
	}
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 10s, 1m30s)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// PublicBaseURL is PublicURL, or else the API's address as an http URL,
// https when api_tls is set (loopback when the API listens on every
// interface).
func (c *Config) PublicBaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	scheme := "http://"
	if c.APITLS.Enabled() {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(c.API)
	if err != nil {
		return scheme + c.API
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

// DefaultConfig returns the configuration `xborder init` writes, before the
// name, country and organisation are filled in.
func DefaultConfig() Config {
	return Config{
		Listen: []string{
			fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultP2PPort),
			fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultP2PPort),
		},
		API:      DefaultAPIAddr,
		Genesis:  GenesisFile,
		Policies: PoliciesDir,
		Policy:   defaultPolicyConfig(),
		Log:      LogConfig{Level: "info", Format: "auto"},
		Discovery: DiscoveryConfig{
			MDNS:             true,
			DHT:              true,
			RedialMin:        Duration(250 * time.Millisecond),
			RedialMax:        Duration(30 * time.Second),
			RefusedRedialMax: Duration(5 * time.Minute),
		},
		Limits: LimitsConfig{
			MaxConnections: 128,
			MaxStreams:     1024,
			MaxMemoryMB:    512,
			MaxFDs:         512,
		},
		Registry:            defaultRegistryConfig(),
		AuditAnchorInterval: Duration(30 * time.Second),
		ShutdownTimeout:     Duration(10 * time.Second),
	}
}

func defaultPolicyConfig() PolicyConfig {
	d := policy.DefaultDeadlines()
	c := PolicyConfig{Evaluator: policy.EvaluatorPlan, DecisionTimeout: Duration(d.Default), Timeouts: map[string]Duration{}}
	for p, t := range d.Points {
		c.Timeouts[strings.TrimPrefix(string(p), "data.xborder.")] = Duration(t)
	}
	return c
}

// Validate checks every field and returns a *ValidationError naming each
// bad one.
func (c *Config) Validate() error {
	var p problems
	if !memberName.MatchString(c.Name) {
		p.addf("name: %q must be lower-case letters, digits and dashes (e.g. fr-grandest)", c.Name)
	}
	if !IsCountryCode(c.Country) {
		p.addf("country: %q is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, CH)", c.Country)
	}
	if strings.TrimSpace(c.Org) == "" {
		p.addf("org: the organisation is empty")
	}
	if len(c.Listen) == 0 {
		p.addf("listen: at least one listen multiaddr is needed")
	}
	for i, a := range c.Listen {
		if _, err := ma.NewMultiaddr(a); err != nil {
			p.addf("listen[%d]: %q is not a multiaddr: %v", i, a, err)
		}
	}
	for i, a := range c.Advertise {
		if _, err := ma.NewMultiaddr(a); err != nil {
			p.addf("advertise[%d]: %q is not a multiaddr: %v", i, a, err)
		}
	}
	if _, port, err := net.SplitHostPort(c.API); err != nil {
		p.addf("api: %q is not host:port: %v", c.API, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.addf("api: port %q is not a number between 0 and 65535", port)
	}
	c.APITLS.validate(&p)
	if c.PublicURL != "" {
		if err := exchange.ValidatePublicURL(c.PublicURL); err != nil {
			p.addf("public_url: %v", err)
		}
	}
	if c.Genesis == "" {
		p.addf("genesis: the genesis file path is empty")
	}
	if c.Policies == "" {
		p.addf("policies: the policy directory path is empty")
	}
	if c.Policy.DecisionTimeout <= 0 || c.Policy.DecisionTimeout.Std() > policy.MaxDecisionTimeout {
		p.addf("policy.decision_timeout: %v must be positive and at most %v", c.Policy.DecisionTimeout.Std(), policy.MaxDecisionTimeout)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Policy.Timeouts)) {
		t := c.Policy.Timeouts[name]
		if !slices.Contains(policy.Points, policy.Point("data.xborder."+name)) {
			p.addf("policy.timeouts.%s: not a decision point (api.allow, catalogue.visible, exchange.decision, agreements.decision, registry.decision, membership.decision, audit.decision, analysis.decision, dataspace.decision, api.role)", name)
		} else if t <= 0 || t.Std() > policy.MaxDecisionTimeout {
			p.addf("policy.timeouts.%s: %v must be positive and at most %v", name, t.Std(), policy.MaxDecisionTimeout)
		}
	}
	if !slices.Contains(policy.Evaluators, c.Policy.Evaluator) {
		p.addf("policy.evaluator: %q is not one of %s", c.Policy.Evaluator, strings.Join(policy.Evaluators, ", "))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		p.addf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{"auto", "json", "text"}, c.Log.Format) {
		p.addf("log.format: %q is not one of auto, json, text", c.Log.Format)
	}
	if c.Discovery.RedialMin <= 0 {
		p.addf("discovery.redial_min: must be positive")
	}
	if c.Discovery.RedialMax < c.Discovery.RedialMin {
		p.addf("discovery.redial_max: %v is less than discovery.redial_min %v", c.Discovery.RedialMax.Std(), c.Discovery.RedialMin.Std())
	}
	if c.Discovery.RefusedRedialMax < c.Discovery.RedialMax {
		p.addf("discovery.refused_redial_max: %v is less than discovery.redial_max %v", c.Discovery.RefusedRedialMax.Std(), c.Discovery.RedialMax.Std())
	}
	if c.Limits.MaxConnections < 8 {
		p.addf("limits.max_connections: %d is too low; a federation member needs at least 8", c.Limits.MaxConnections)
	}
	if c.Limits.MaxStreams < 64 {
		p.addf("limits.max_streams: %d is too low; at least 64 are needed", c.Limits.MaxStreams)
	}
	if c.Limits.MaxMemoryMB < 32 {
		p.addf("limits.max_memory_mb: %d is too low; at least 32 are needed", c.Limits.MaxMemoryMB)
	}
	if c.Limits.MaxFDs < 32 {
		p.addf("limits.max_fds: %d is too low; at least 32 are needed", c.Limits.MaxFDs)
	}
	c.Dataspace.validate(c, &p)
	c.validateIdentityProviders(&p)
	// Any directory will do: the data dir is checked where it is opened.
	if err := c.Registry.Consensus(".").Validate(); err != nil {
		var each interface{ Unwrap() []error }
		if !errors.As(err, &each) {
			p.addf("registry: %v", err)
		} else {
			for _, e := range each.Unwrap() {
				p.addf("registry.%v", e)
			}
		}
	}
	if c.AuditAnchorInterval < Duration(time.Second) {
		p.addf("audit_anchor_interval: %v is too short; at least 1s", c.AuditAnchorInterval.Std())
	}
	if c.Console.SessionLifetime != 0 && c.Console.SessionLifetime < Duration(time.Minute) {
		p.addf("console.session_lifetime: %v is too short; at least 1m", c.Console.SessionLifetime.Std())
	}
	if c.Console.SessionIdleTimeout != 0 && c.Console.SessionIdleTimeout < Duration(time.Minute) {
		p.addf("console.session_idle_timeout: %v is too short; at least 1m", c.Console.SessionIdleTimeout.Std())
	}
	if c.ShutdownTimeout <= 0 {
		p.addf("shutdown_timeout: must be positive")
	}
	// The audit trail's configuration is derived from the fields above
	// (auditConfig); what the audit service would refuse at start is
	// refused here.
	if len(p) == 0 {
		if err := c.auditConfig(".").Validate(); err != nil {
			p.addf("audit_anchor_interval, shutdown_timeout: %v", err)
		}
	}
	return p.err("configuration")
}

// Settable lists the configuration keys that Set accepts. The CLI derives
// from each key an environment variable (XBORDER_LOG_LEVEL for log.level)
// and a flag of `xborder run` (--log-level), so the three stay in step.
var Settable = []struct{ Key, Help string }{
	{"listen", "libp2p listen multiaddrs, comma-separated"},
	{"advertise", "multiaddrs to advertise instead of the listen addresses, comma-separated"},
	{"api", "host:port of the local HTTP API"},
	{"api_tls.cert_file", "PEM certificate chain the API serves over HTTPS, relative to the data dir (with api_tls.key_file)"},
	{"api_tls.key_file", "PEM private key of the API's certificate, relative to the data dir (with api_tls.cert_file)"},
	{"public_url", "public base URL of the node, under which the DCAT catalogue names its entries"},
	{"policies", "Rego policy directory, relative to the data dir"},
	{"policy.evaluator", "how decisions are evaluated: plan (default) or topdown"},
	{"log.level", "log level: debug, info, warn, error"},
	{"log.format", "log format: auto, json, text"},
	{"discovery.mdns", "discover members on the LAN with mDNS (true/false)"},
	{"discovery.dht", "find members through the private Kademlia DHT (true/false)"},
	{"shutdown_timeout", "bound on a graceful shutdown (e.g. 10s)"},
}

// Set overrides one configuration key with a string value, as given by an
// environment variable or a flag.
func (c *Config) Set(key, value string) error {
	list := func() []string {
		var out []string
		for s := range strings.SplitSeq(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	boolean := func(dst *bool) error {
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%s: %q is not true or false", key, value)
		}
		*dst = b
		return nil
	}
	switch key {
	case "listen":
		c.Listen = list()
	case "advertise":
		c.Advertise = list()
	case "api":
		c.API = value
	case "api_tls.cert_file":
		c.APITLS.CertFile = value
	case "api_tls.key_file":
		c.APITLS.KeyFile = value
	case "public_url":
		c.PublicURL = value
	case "policies":
		c.Policies = value
	case "policy.evaluator":
		c.Policy.Evaluator = value
	case "log.level":
		c.Log.Level = value
	case "log.format":
		c.Log.Format = value
	case "discovery.mdns":
		return boolean(&c.Discovery.MDNS)
	case "discovery.dht":
		return boolean(&c.Discovery.DHT)
	case "shutdown_timeout":
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration (e.g. 10s)", key, value)
		}
		c.ShutdownTimeout = Duration(d)
	default:
		return fmt.Errorf("unknown configuration key %q", key)
	}
	return nil
}

// LoadConfig reads config.yaml from the data dir over DefaultConfig, so a
// file that omits a field gets its default. Unknown fields are errors: a
// misspelt key must not be silently ignored.
func LoadConfig(dataDir string) (Config, error) {
	cfg := DefaultConfig()
	path := filepath.Join(dataDir, ConfigFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, fmt.Errorf("no %s in %s: run `xborder init` first or pass --data", ConfigFile, dataDir)
	}
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// WriteConfig writes the configuration to config.yaml in the data dir.
func WriteConfig(dataDir string, cfg Config) error {
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	header := "# xborder node configuration. Environment variables (XBORDER_LOG_LEVEL, ...)\n" +
		"# and flags of `xborder run` (--log-level, ...) override these values.\n"
	return os.WriteFile(filepath.Join(dataDir, ConfigFile), append([]byte(header), raw...), 0o644)
}

// PoliciesDir is the default policy directory inside the data dir.
const PoliciesDir = "policies"

// PoliciesPath resolves the configured policy directory against the data dir.
func (c *Config) PoliciesPath(dataDir string) string {
	if filepath.IsAbs(c.Policies) {
		return c.Policies
	}
	return filepath.Join(dataDir, c.Policies)
}

// GenesisPath resolves the configured genesis file against the data dir.
func (c *Config) GenesisPath(dataDir string) string {
	if filepath.IsAbs(c.Genesis) {
		return c.Genesis
	}
	return filepath.Join(dataDir, c.Genesis)
}
