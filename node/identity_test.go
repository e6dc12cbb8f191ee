package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xborder/xborder"
)

func TestInitCreatesPrivateFilesAndRefusesToOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fr")
	cfg := validConfig()
	id, err := Init(dir, cfg, xborder.Policies())
	must(t, err)
	for _, f := range []string{KeyFile, AdminTokenFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		must(t, err)
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	loaded, err := LoadKey(filepath.Join(dir, KeyFile))
	must(t, err)
	if loaded.PeerID != id.PeerID {
		t.Fatal("reloaded key has another peer ID")
	}
	keyBefore, _ := os.ReadFile(filepath.Join(dir, KeyFile))

	_, err = Init(dir, cfg, xborder.Policies())
	if !errors.Is(err, ErrKeyExists) {
		t.Fatalf("second init: %v, want ErrKeyExists", err)
	}
	keyAfter, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if string(keyAfter) != string(keyBefore) {
		t.Fatal("the key was overwritten")
	}
}

func TestLoadKeyRefusesReadableOrForeignKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFile)
	_, err := CreateKey(path)
	must(t, err)
	must(t, os.Chmod(path, 0o644))
	if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key: %v", err)
	}
	must(t, os.WriteFile(path, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600))
	if _, err := LoadKey(path); err == nil {
		t.Fatal("accepted a certificate as a key")
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "xborder init") {
		t.Fatalf("missing key: %v", err)
	}
}

func TestIdentityCardUsesAdvertisedAddresses(t *testing.T) {
	dir := t.TempDir()
	cfg := validConfig()
	cfg.Advertise = []string{"/dns4/xborder.grandest.example/tcp/7400"}
	id, err := Init(dir, cfg, xborder.Policies())
	must(t, err)
	c, err := IdentityCard(dir, cfg)
	must(t, err)
	if c.PeerID != id.PeerID.String() || len(c.Addrs) != 1 || c.Addrs[0] != cfg.Advertise[0] {
		t.Fatalf("card = %+v", c)
	}
	must(t, ValidateCard(c))
	// Without advertised addresses, wildcard listen addresses are expanded.
	cfg.Advertise = nil
	c, err = IdentityCard(dir, cfg)
	must(t, err)
	for _, a := range c.Addrs {
		if strings.Contains(a, "/0.0.0.0/") {
			t.Fatalf("card lists the wildcard address %s", a)
		}
	}
	if len(c.Addrs) == 0 {
		t.Fatal("card has no addresses")
	}
}

// A data dir that holds any of a node's state but not its key is a node
// whose key is missing: init refuses to give it a new identity, and says
// how to recover; only InitNewIdentity proceeds, and never over a key.
func TestInitNeverReplacesAnIdentity(t *testing.T) {
	for _, name := range []string{ConfigFile, AdminTokenFile, GenesisFile, "node.db", "exchange.db", "audit.db", "registry.db", "raft"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fr")
			must(t, os.MkdirAll(dir, 0o700))
			if name == "raft" {
				must(t, os.Mkdir(filepath.Join(dir, name), 0o700))
			} else {
				must(t, os.WriteFile(filepath.Join(dir, name), []byte("state\n"), 0o600))
			}
			_, err := Init(dir, validConfig(), xborder.Policies())
			if !errors.Is(err, ErrNodeState) {
				t.Fatalf("init over %s: %v, want ErrNodeState", name, err)
			}
			for _, want := range []string{name, "restore the key from backup", "--new-identity", "member rekey"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, KeyFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused init left a key: %v", err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, name)); name != "raft" && string(got) != "state\n" {
				t.Fatalf("a refused init changed %s", name)
			}
		})
	}

	// A node that lost its key: a new identity, the state kept.
	dir := filepath.Join(t.TempDir(), "fr")
	old, err := Init(dir, validConfig(), xborder.Policies())
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "audit.db"), []byte("trail"), 0o600))
	must(t, os.Remove(filepath.Join(dir, KeyFile)))
	if _, err := Init(dir, validConfig(), xborder.Policies()); !errors.Is(err, ErrNodeState) {
		t.Fatalf("init without the key: %v", err)
	}
	id, kept, err := InitNewIdentity(dir, validConfig(), xborder.Policies())
	must(t, err)
	if id.PeerID == old.PeerID {
		t.Fatal("the new identity has the old peer ID")
	}
	if strings.Join(kept, ",") != "config.yaml,admin.token,audit.db" {
		t.Fatalf("kept %v", kept)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "audit.db")); string(got) != "trail" {
		t.Fatal("the new identity touched the audit trail")
	}
	// The key is there again: not even --new-identity replaces it.
	key, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if _, _, err := InitNewIdentity(dir, validConfig(), xborder.Policies()); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("a new identity over a key: %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, KeyFile)); string(again) != string(key) {
		t.Fatal("the key was replaced")
	}
}
