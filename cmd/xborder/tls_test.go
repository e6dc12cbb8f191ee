package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
)

// A node serving HTTPS with a certificate for its public name only is
// reached by the CLI on loopback: healthcheck, status and the console
// link use https and trust the configured certificate file, and nothing
// else.
func TestCLIReachesANodeServingHTTPS(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "fr")
	initNode(t, dir, "fr-grandest", "FR")
	gen := filepath.Join(tmp, "federation.json")
	if code, _, errs := xb(t, "genesis", "--federation", "tls-cli", "--out", gen, dir); code != 0 {
		t.Fatal(errs)
	}
	must(t, os.MkdirAll(filepath.Join(dir, "tls"), 0o700))
	certPEM, keyPEM := testkit.SelfSignedCert(t, 7, "xborder.grandest.example")
	must(t, os.WriteFile(filepath.Join(dir, "tls", "cert.pem"), certPEM, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "tls", "key.pem"), keyPEM, 0o600))
	cfg, err := node.LoadConfig(dir)
	must(t, err)
	cfg.Discovery.MDNS = false
	cfg.APITLS = node.APITLSConfig{CertFile: "tls/cert.pem", KeyFile: "tls/key.pem"}
	must(t, node.WriteConfig(dir, cfg))
	must(t, node.InstallGenesis(dir, cfg, gen))
	n, err := node.Open(dir, cfg)
	must(t, err)
	must(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })

	if code, out, errs := xb(t, "--data", dir, "healthcheck"); code != 0 || strings.TrimSpace(out) != "ready" {
		t.Fatalf("healthcheck over TLS: exit %d, %q %q", code, out, errs)
	}
	code, out, errs := xb(t, "--data", dir, "status", "--json")
	var st api.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Name != "fr-grandest" {
		t.Fatalf("status over TLS: exit %d, %q %q", code, out, errs)
	}
	if code, out, _ := xb(t, "--data", dir, "console", "--no-open"); code != 0 || !strings.HasPrefix(out, "https://127.0.0.1:") {
		t.Fatalf("console link: exit %d, %q", code, out)
	}
	// The address given as host:port gets https too.
	addr := n.APIAddr()
	if code, _, errs := xb(t, "--data", dir, "--addr", addr, "healthcheck"); code != 0 {
		t.Fatalf("healthcheck --addr host:port: %q", errs)
	}

	// Without the node's config, the system's roots do not know the
	// self-signed certificate: refused.
	if code, _, errs := xb(t, "--data", filepath.Join(tmp, "none"), "--addr", "https://"+addr, "healthcheck"); code == 0 || !strings.Contains(errs, "certificate") {
		t.Fatalf("untrusted certificate accepted: exit %d, %q", code, errs)
	}
	// Another server, with another certificate, is not the pinned one.
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	other.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake, expected
	other.StartTLS()
	t.Cleanup(other.Close)
	if code, _, errs := xb(t, "--data", dir, "--addr", other.URL, "healthcheck"); code == 0 || !strings.Contains(errs, "not the one in") {
		t.Fatalf("a server with another certificate was trusted: exit %d, %q", code, errs)
	}
}
