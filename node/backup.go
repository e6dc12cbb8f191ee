package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/xborder/xborder/internal/backup"
	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/node/api"
)

// auditBackup is the record of a backup taken: the archive holds the
// node's key, so who took one is kept.
const auditBackup = "node.backup"

// ErrBackupRunning is returned by Backup while another backup runs.
var ErrBackupRunning = api.ErrBackupRunning

// Backup writes a backup archive of the running node to w (gzip-compressed
// when compress): its key, config.yaml, admin.token, the genesis and the
// policy files (those inside the data dir), then each store's consistent
// copy as the store makes it without stopping (audit trail, registry
// state, raft log and latest snapshot, catalogue and blobs, exchange,
// analysis, console session and dataspace stores), and last the manifest signed with the node's key. The
// backup is recorded in the audit trail first; a trail that cannot be
// written refuses it. One backup runs at a time.
//
// Each store is consistent in itself; between stores the archive holds
// what each held at its own moment of the copy.
func (n *Node) Backup(ctx context.Context, w io.Writer, compress bool) (backup.Manifest, error) {
	if !n.ready.Load() {
		return backup.Manifest{}, errors.New("the node is not running")
	}
	if !n.backupMu.TryLock() {
		return backup.Manifest{}, ErrBackupRunning
	}
	defer n.backupMu.Unlock()
	by := ""
	if u, ok := api.UserFrom(ctx); ok {
		by = u.Subject
	}
	if err := n.record(auditBackup, n.cfg.Name, map[string]any{"by": by}); err != nil {
		return backup.Manifest{}, err
	}
	a := backup.NewWriter(w, compress)
	sink := ctxSink{ctx: ctx, sink: a}
	for _, name := range []string{KeyFile, ConfigFile, AdminTokenFile} {
		if err := boltfile.CopyFile(sink, filepath.ToSlash(name), filepath.Join(n.dataDir, name)); err != nil && !(name == AdminTokenFile && errors.Is(err, fs.ErrNotExist)) {
			return backup.Manifest{}, err
		}
	}
	if rel, ok := inside(n.dataDir, n.cfg.GenesisPath(n.dataDir)); ok {
		if err := boltfile.CopyFile(sink, filepath.ToSlash(rel), filepath.Join(n.dataDir, rel)); err != nil {
			return backup.Manifest{}, err
		}
	}
	for _, rel := range n.cfg.configuredFiles(n.dataDir) {
		if err := boltfile.CopyFile(sink, filepath.ToSlash(rel), filepath.Join(n.dataDir, rel)); err != nil {
			return backup.Manifest{}, fmt.Errorf("back up %s, which config.yaml names: %w", rel, err)
		}
	}
	if rel, ok := inside(n.dataDir, n.cfg.PoliciesPath(n.dataDir)); ok {
		if err := copyDataTree(sink, n.dataDir, rel); err != nil {
			return backup.Manifest{}, fmt.Errorf("back up the policies: %w", err)
		}
	}
	stores := []struct {
		name   string
		backup func(boltfile.Sink) error
	}{
		{"the audit trail", n.audit.Backup},
		{"the registry", n.registry.Load().Backup},
		{"the catalogue", n.catalogue.Backup},
		{"the exchange", n.exchange.Backup},
		{"the analyses", n.analyses.Backup},
		{"the console sessions", n.sessions.Backup},
	}
	if n.dsp != nil {
		stores = append(stores, struct {
			name   string
			backup func(boltfile.Sink) error
		}{"the dataspace negotiations and transfers", n.dsp.Backup})
	}
	for _, s := range stores {
		if err := s.backup(sink); err != nil {
			return backup.Manifest{}, fmt.Errorf("back up %s: %w", s.name, err)
		}
	}
	return a.Close(backup.Manifest{Node: n.cfg.Name, PeerID: n.id.PeerID.String(), FederationID: n.fedID}, n.id.Key)
}

// configuredFiles are the files config.yaml names that live in the data
// dir, relative to it: the API's certificate and key, the identity
// providers' client secrets and CA files. A node restored without them
// would not start as it was (no HTTPS, nobody signed in).
func (c *Config) configuredFiles(dataDir string) []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dataDir, p)
		}
		if rel, ok := inside(dataDir, p); ok && !slices.Contains(out, rel) {
			out = append(out, rel)
		}
	}
	if c.APITLS.Enabled() {
		cert, key := c.APITLS.Paths(dataDir)
		add(cert)
		add(key)
	}
	for _, p := range c.IdentityProviders {
		add(p.ClientSecretFile)
		add(p.CAFile)
	}
	return out
}

// ctxSink stops a backup whose caller went away at the next file.
type ctxSink struct {
	ctx  context.Context
	sink boltfile.Sink
}

func (s ctxSink) Create(name string, size int64) (io.Writer, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	return s.sink.Create(name, size)
}

// inside returns path relative to dir, when path is inside it.
func inside(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// copyDataTree writes the regular files under the data dir's directory
// rel to sink; editors' hidden files and anything not a regular file are
// left out.
func copyDataTree(sink boltfile.Sink, dataDir, rel string) error {
	root := filepath.Join(dataDir, rel)
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		r, err := filepath.Rel(dataDir, path)
		if err != nil {
			return err
		}
		return boltfile.CopyFile(sink, filepath.ToSlash(r), filepath.Join(dataDir, r))
	})
}

// Restore restores a backup archive read from r into dataDir, which must
// not exist or be empty, without a running node. Besides the archive's
// own checks (see backup.Extract) it refuses an archive whose key is not
// the peer its manifest names, whose config names another node, whose
// genesis is another federation's, or, when peerID is set, that is not
// that node's. The restored node starts with `xborder run`: it rejoins
// with its identity and the leader sends the registry entries it misses.
func Restore(r io.Reader, dataDir, peerID string) (backup.Manifest, error) {
	return backup.Extract(r, dataDir, backup.ExtractOptions{PeerID: peerID, Check: checkRestored})
}

// checkRestored checks an extracted archive against its manifest.
func checkRestored(dir string, m backup.Manifest) error {
	foreign := func(format string, args ...any) error {
		return &backup.Error{Err: fmt.Errorf("%w: %s", backup.ErrForeign, fmt.Sprintf(format, args...))}
	}
	id, err := LoadKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return foreign("the archive holds no usable node key: %v", err)
	}
	if id.PeerID.String() != m.PeerID {
		return foreign("its key is %s's, the manifest names %s", id.PeerID, m.PeerID)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		return foreign("the archive holds no usable config.yaml: %v", err)
	}
	if cfg.Name != m.Node {
		return foreign("its config.yaml is %s's, the manifest names %s", cfg.Name, m.Node)
	}
	if _, ok := inside(dir, cfg.GenesisPath(dir)); ok {
		g, err := LoadGenesis(cfg.GenesisPath(dir))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return foreign("its genesis: %v", err)
		}
		if err == nil && g.ID() != m.FederationID {
			return foreign("its genesis is federation %s, the manifest names %s", g.ID(), m.FederationID)
		}
	}
	return nil
}
