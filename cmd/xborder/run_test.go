package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xborder/xborder/internal/boltfile"
	"github.com/xborder/xborder/internal/boltfile/damage"
	"github.com/xborder/xborder/node"
)

// `xborder run` on a data dir with a damaged bbolt file exits 1 with one
// line that names the file and says what to do, and starts nothing.
func TestRunOnADamagedStoreSaysWhichFileAndWhatToDo(t *testing.T) {
	tmp := t.TempDir()
	golden := filepath.Join(tmp, "fr")
	initNode(t, golden, "fr-grandest", "FR")
	gen := filepath.Join(tmp, "federation.json")
	if code, _, errs := xb(t, "genesis", "--federation", "grand-est-ai", "--out", gen, golden); code != 0 {
		t.Fatal(errs)
	}
	cfg, err := node.LoadConfig(golden)
	must(t, err)
	cfg.Discovery.MDNS = false
	must(t, node.InstallGenesis(golden, cfg, gen))
	// A first run writes every file: audit records, the raft log, the
	// registry, the catalogue's and the exchange's buckets.
	n, err := node.Open(golden, cfg)
	must(t, err)
	must(t, n.Start(context.Background()))
	must(t, n.Close())

	for _, c := range []struct {
		file   string
		damage func(string) error
		remedy string
	}{
		{"node.db", damage.Garbage, boltfile.RestoreFromBackup},
		{"exchange.db", damage.ZeroMeta, boltfile.RestoreFromBackup},
		{"audit.db", damage.OverwriteRoot, boltfile.RestoreFromBackup},
		{"registry.db", damage.ZeroMeta, boltfile.ResyncFromPartners},
		{filepath.Join("raft", "raft.db"), damage.Truncate, boltfile.ResyncFromPartners},
	} {
		t.Run(c.file, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fr")
			must(t, os.CopyFS(dir, os.DirFS(golden)))
			must(t, os.Chmod(filepath.Join(dir, node.KeyFile), 0o600))
			path := filepath.Join(dir, c.file)
			must(t, c.damage(path))

			code, _, errs := xb(t, "--data", dir, "run", "--discovery-mdns", "false")
			if code != exitError {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitError, errs)
			}
			var msgs []string
			for _, l := range strings.Split(errs, "\n") {
				if strings.HasPrefix(l, "xborder: ") {
					msgs = append(msgs, l)
				}
			}
			if len(msgs) != 1 || !strings.Contains(msgs[0], path+" is damaged") || !strings.HasSuffix(msgs[0], c.remedy) {
				t.Fatalf("want one line naming %s and %q; stderr:\n%s", path, c.remedy, errs)
			}
			if strings.Contains(errs, "panic") {
				t.Fatalf("stderr shows a panic:\n%s", errs)
			}
		})
	}
}
