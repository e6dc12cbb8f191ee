package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/oidc"
)

// serveAt runs the provider of dir behind httptest's TLS listener and
// returns a client that reaches it as https://idp:PORT, trusting only
// the testnet CA.
func serveAt(t *testing.T, dir string) (issuer string, c *http.Client) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	issuer = "https://idp:" + port
	handler, tlsCfg, _, err := provider(dir, issuer, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h = handler
	srv.TLS = tlsCfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	raw, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(raw) {
		t.Fatalf("ca.pem: %v", err)
	}
	addr := srv.Listener.Addr().String()
	jar, _ := cookiejar.New(nil)
	c = &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if strings.HasPrefix(a, "idp:") {
				a = addr
			}
			return (&net.Dialer{}).DialContext(ctx, network, a)
		}}}
	return issuer, c
}

func TestInitThenServe(t *testing.T) {
	dir := t.TempDir()
	if err := initDir([]string{"-out", dir, "fr-grandest=http://fr-grandest:7401", "de-bw=http://de-bw:7401/"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	regions, err := readRegions(dir)
	if err != nil || len(regions) != 2 || regions[1].PublicURL != "http://de-bw:7401" {
		t.Fatalf("regions %+v, %v", regions, err)
	}
	sec, err := os.ReadFile(filepath.Join(dir, "fr-grandest.secret"))
	if err != nil || strings.TrimSpace(string(sec)) != regions[0].Secret || len(regions[0].Secret) < 32 || regions[0].Secret == regions[1].Secret {
		t.Fatalf("fr-grandest.secret %q, %v; regions %+v", sec, err, regions)
	}
	issuer, c := serveAt(t, dir)

	// A region's web client: the authorisation request with its callback
	// reaches the login page; another callback is refused.
	authorize := func(client, redirect string) *http.Response {
		q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid email"}, "state": {"s"}, "code_challenge": {"x2n5qPzLSOFcPmmTMmpJOhGYPCZ3AelTR6pvX8I0TE8"},
			"code_challenge_method": {"S256"}}
		resp, err := c.Get(issuer + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := authorize("xborder-fr-grandest", "http://fr-grandest:7401/console/oidc/callback"); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" {
		t.Fatalf("authorize: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if resp := authorize("xborder-fr-grandest", "http://de-bw:7401/console/oidc/callback"); resp.Request.URL.Path == "/login" {
		t.Fatal("another region's callback reached the login page")
	}

	// The CLI's device client, a researcher approving on the device page.
	tok, err := oidc.DeviceLogin(context.Background(), oidc.DeviceConfig{Issuer: issuer, ClientID: CLIClient, HTTPClient: c},
		func(p oidc.DevicePrompt) error {
			resp, err := c.PostForm(issuer+"/device", url.Values{"user_code": {p.UserCode}, "username": {"anna"}, "password": {"anna-testnet"}})
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("device approval: %d", resp.StatusCode)
			}
			return nil
		})
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("device login: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-out", dir},
		{"fr=http://fr:7401"},
		{"-out", dir, "FR=http://fr:7401"},
		{"-out", dir, "fr=ftp://fr:7401"},
		{"-out", dir, "fr=http://fr:7401/console"},
		{"-out", dir, "fr"},
		{"-out", dir, "fr=http://fr:7401?x"},
		{"-out", dir, "fr=http://u@fr:7401"},
		{"-out", dir, "fr=http://fr:7401", "fr=http://fr:7402"},
	} {
		if err := initDir(args, time.Now()); err == nil {
			t.Errorf("init %v accepted", args)
		}
	}
	if _, _, _, err := provider(dir, "https://idp:8443", slog.New(slog.DiscardHandler)); err == nil {
		t.Error("serve without init accepted")
	}
}

// FuzzParseRegion: any argument is a region with a name and an http(s)
// URL without a path, or an error; never a panic.
func FuzzParseRegion(f *testing.F) {
	for _, s := range []string{"fr-grandest=http://fr-grandest:7401", "de=https://de.example/", "x", "=", "a=http://", "a=http://h/p?q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		r, err := parseRegion(arg)
		if err != nil {
			return
		}
		u, perr := url.Parse(r.PublicURL)
		if !regionName.MatchString(r.Name) || perr != nil || u.Host == "" || strings.HasSuffix(r.PublicURL, "/") ||
			strings.ContainsAny(r.PublicURL, "?#@") || u.Path != "" {
			t.Fatalf("parseRegion(%q) = %+v", arg, r)
		}
	})
}
