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
