package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/xborder/xborder/node/api"
)

// AdminTokenFile holds the operator token `xborder init` mints, which the
// CLI uses by default.
const AdminTokenFile = "admin.token"

// AdminTokenTTL is the lifetime of the token written at init; operators
// mint a fresh one with `xborder token issue --role operator --out ...`.
const AdminTokenTTL = 365 * 24 * time.Hour

// ErrNodeState is returned by Init for a data dir that holds a node's
// state but no key: a new key there would give that node another
// identity, which its partners do not know.
var ErrNodeState = errors.New("the data dir holds a node's state")

// Init creates a node's data dir: the key (0600), config.yaml, an
// operator token in admin.token (0600) and, from the policies given (the
// shipped ones, usually), the policy directory the legal team adapts. It
// refuses a data dir that already holds a key (ErrKeyExists) or, without
// one, any of a node's state (ErrNodeState): the key may only be missing
// from a backup.
func Init(dataDir string, cfg Config, policies fs.FS) (Identity, error) {
	return initDataDir(dataDir, cfg, policies, false)
}

// InitNewIdentity is Init for a node that lost its key for good: in a data
// dir that holds its state but no key, it creates a new key, config.yaml
// and admin.token (the old token was signed by the lost key) and leaves the
// state in place. It returns the state it found. The node's peer ID
// changes: the other members re-key it by vote (consensus.ActionRekey). It still refuses a data dir
// that holds a key.
func InitNewIdentity(dataDir string, cfg Config, policies fs.FS) (Identity, []string, error) {
	found, err := nodeState(dataDir)
	if err != nil {
		return Identity{}, nil, err
	}
	id, err := initDataDir(dataDir, cfg, policies, true)
	return id, found, err
}

// stateFiles are what a node keeps in its data dir besides its key; a
// policies/ directory alone is not a node (a legal team may prepare it).
var stateFiles = []string{ConfigFile, AdminTokenFile, GenesisFile, "node.db", "exchange.db", "audit.db", "registry.db", "raft"}

// nodeState lists the state files the data dir holds.
func nodeState(dataDir string) ([]string, error) {
	var found []string
	for _, name := range stateFiles {
		_, err := os.Stat(filepath.Join(dataDir, name))
		switch {
		case err == nil:
			found = append(found, name)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	return found, nil
}

func initDataDir(dataDir string, cfg Config, policies fs.FS, newIdentity bool) (Identity, error) {
	if err := cfg.Validate(); err != nil {
		return Identity{}, err
	}
	keyPath := filepath.Join(dataDir, KeyFile)
	if _, err := os.Stat(keyPath); err == nil {
		return Identity{}, fmt.Errorf("%s: %w; refusing to overwrite the node's identity (use another --data dir)", keyPath, ErrKeyExists)
	}
	if !newIdentity {
		found, err := nodeState(dataDir)
		if err != nil {
			return Identity{}, err
		}
		if len(found) > 0 {
			return Identity{}, fmt.Errorf("%s holds %s but no key: %w; refusing to create a new identity there: "+
				"restore the key from backup into %s, or, if it is lost for good, run init --new-identity "+
				"(the peer ID changes and the other members re-key the node by vote: xborder member rekey)",
				dataDir, strings.Join(found, ", "), ErrNodeState, keyPath)
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Identity{}, fmt.Errorf("create data dir: %w", err)
	}
	id, err := CreateKey(keyPath)
	if err != nil {
		return Identity{}, err
	}
	if err := WriteConfig(dataDir, cfg); err != nil {
		return Identity{}, err
	}
	tok, err := api.IssueToken(id.Key, id.PeerID.String(),
		api.User{Subject: "admin", Role: api.RoleOperator, Org: cfg.Org}, AdminTokenTTL, time.Now())
	if err != nil {
		return Identity{}, err
	}
	if err := WriteSecret(filepath.Join(dataDir, AdminTokenFile), []byte(tok+"\n")); err != nil {
		return Identity{}, err
	}
	if err := InstallPolicies(cfg.PoliciesPath(dataDir), policies); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// InstallPolicies copies a policy tree into dir. An existing directory is
// left alone: it holds the legal team's own rules.
func InstallPolicies(dir string, policies fs.FS) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.CopyFS(dir, policies); err != nil {
		return fmt.Errorf("install policies into %s: %w", dir, err)
	}
	return nil
}

// WriteSecret writes a file readable by its owner only, replacing it
// atomically.
func WriteSecret(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// IdentityCard returns the node's public identity card: the addresses are
// the advertised ones or, failing those, the listen addresses with
// wildcard IPs expanded to this machine's interface addresses.
func IdentityCard(dataDir string, cfg Config) (Card, error) {
	id, err := LoadKey(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return Card{}, err
	}
	c := Card{Name: cfg.Name, Country: cfg.Country, Org: cfg.Org, PeerID: id.PeerID.String(), Addrs: []string{}}
	if len(cfg.Advertise) > 0 {
		c.Addrs = append(c.Addrs, cfg.Advertise...)
		return c, nil
	}
	listen := parseAddrs(cfg.Listen)
	ifaces, err := manet.InterfaceMultiaddrs()
	if err != nil {
		return Card{}, fmt.Errorf("list interface addresses: %w", err)
	}
	resolved, err := manet.ResolveUnspecifiedAddresses(listen, ifaces)
	if err != nil {
		return Card{}, fmt.Errorf("resolve listen addresses: %w", err)
	}
	// Loopback addresses are useless to partners unless they are all we have.
	var routable []ma.Multiaddr
	for _, a := range resolved {
		if !manet.IsIPLoopback(a) {
			routable = append(routable, a)
		}
	}
	if len(routable) == 0 {
		routable = resolved
	}
	for _, a := range routable {
		c.Addrs = append(c.Addrs, a.String())
	}
	return c, nil
}

// InstallGenesis copies the genesis file at src into the data dir on a
// node's first start. A data dir that already holds a genesis keeps it:
// installing a different one is refused, because the node's state belongs
// to that federation.
func InstallGenesis(dataDir string, cfg Config, src string) error {
	dst := cfg.GenesisPath(dataDir)
	g, err := LoadGenesis(src)
	if err != nil {
		return err
	}
	existing, err := LoadGenesis(dst)
	switch {
	case err == nil:
		if existing.ID() != g.ID() {
			return fmt.Errorf("the data dir already belongs to federation %q (%s); %s defines %q (%s): refusing to switch federations",
				existing.Federation, existing.ID()[:12], src, g.Federation, g.ID()[:12])
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return os.WriteFile(dst, g.Marshal(), 0o644)
	default:
		return fmt.Errorf("existing genesis: %w", err)
	}
}
