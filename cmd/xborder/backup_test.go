package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xborder/xborder/node"
)

// The CLI backs up a running node into a file and restores it offline,
// refusing a damaged archive, another node's, a non-empty target and a
// caller without the operator role.
func TestBackupAndRestoreFromTheCommandLine(t *testing.T) {
	tmp := t.TempDir()
	fr := filepath.Join(tmp, "fr")
	initNode(t, fr, "fr-grandest", "FR")
	gen := filepath.Join(tmp, "federation.json")
	if code, _, errs := xb(t, "genesis", "--federation", "grand-est-ai", "--out", gen, fr); code != 0 {
		t.Fatal(errs)
	}
	cfg, err := node.LoadConfig(fr)
	must(t, err)
	cfg.Discovery.MDNS = false
	must(t, node.InstallGenesis(fr, cfg, gen))
	n, err := node.Open(fr, cfg)
	must(t, err)
	must(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })

	file := filepath.Join(tmp, "backups", "fr.tar.gz")
	must(t, os.MkdirAll(filepath.Dir(file), 0o700))
	_, tok, _ := xb(t, "--data", fr, "token", "issue", "--sub", "alice", "--role", "researcher", "--ttl", "1h")
	if code, _, errs := xb(t, "--data", fr, "--token", strings.TrimSpace(tok), "backup", file); code != exitError || !strings.Contains(errs, "not allowed") {
		t.Fatalf("researcher backup: %d %q", code, errs)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatal("a refused backup left a file")
	}
	code, out, errs := xb(t, "--data", fr, "backup", file, "--json")
	if code != 0 {
		t.Fatalf("backup: %d %s", code, errs)
	}
	var res backupResult
	must(t, json.Unmarshal([]byte(out), &res))
	info, err := os.Stat(file)
	must(t, err)
	if res.Bytes != info.Size() || res.Files < 8 || res.Manifest.PeerID != n.ID().String() || info.Mode().Perm() != 0o600 {
		t.Fatalf("backup result %+v, file %d bytes mode %v", res, info.Size(), info.Mode())
	}
	if left, _ := os.ReadDir(filepath.Dir(file)); len(left) != 1 {
		t.Fatalf("backup dir holds %v", left)
	}
	if code, _, _ := xb(t, "--data", fr, "backup", file); code != exitUsage {
		t.Fatalf("backup over an existing file: exit %d", code)
	}

	restored := filepath.Join(tmp, "restored")
	if code, out, errs := xb(t, "--data", restored, "restore", file, "--peer-id", n.ID().String()); code != 0 || !strings.Contains(out, "xborder run --data") {
		t.Fatalf("restore: %d %q %q", code, out, errs)
	}
	if _, err := node.LoadKey(filepath.Join(restored, node.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := xb(t, "--data", restored, "restore", file); code != exitUsage || !strings.Contains(errs, "not empty") {
		t.Fatalf("restore over a node: %d %q", code, errs)
	}
	if code, _, errs := xb(t, "--data", filepath.Join(tmp, "other"), "restore", file, "--peer-id", "12D3KooWRNdnqJzK4mBqZmkwX2VpYvgtnGCV2u5gzqVqnZnzUSWa"); code != exitIntegrity || !strings.Contains(errs, "another node") {
		t.Fatalf("restore of another node's archive: %d %q", code, errs)
	}
	raw, err := os.ReadFile(file)
	must(t, err)
	raw[len(raw)/2] ^= 0xff
	damaged := filepath.Join(tmp, "damaged.tar.gz")
	must(t, os.WriteFile(damaged, raw, 0o600))
	if code, _, errs := xb(t, "--data", filepath.Join(tmp, "from-damaged"), "restore", damaged); code != exitIntegrity || !strings.Contains(errs, "refused") {
		t.Fatalf("restore of a damaged archive: %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(tmp, "from-damaged")); !os.IsNotExist(err) {
		t.Fatal("a refused restore left the data dir behind")
	}
}
