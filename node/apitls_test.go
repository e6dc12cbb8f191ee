package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console"
)

func TestConfigAPITLS(t *testing.T) {
	for _, tc := range []struct {
		tls   APITLSConfig
		field string
	}{
		{APITLSConfig{CertFile: "tls/cert.pem"}, "api_tls.key_file:"},
		{APITLSConfig{KeyFile: "tls/key.pem"}, "api_tls.cert_file:"},
		{APITLSConfig{CertFile: "tls/both.pem", KeyFile: "tls/both.pem"}, "api_tls.key_file:"},
	} {
		c := validConfig()
		c.APITLS = tc.tls
		var ve *ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.HasPrefix(ve.Problems[0], tc.field) {
			t.Errorf("%+v: Validate() = %v, want one problem naming %s", tc.tls, err, tc.field)
		}
	}

	c := validConfig()
	c.API = "0.0.0.0:7401"
	if got := c.PublicBaseURL(); got != "http://127.0.0.1:7401" {
		t.Errorf("without TLS: PublicBaseURL() = %q", got)
	}
	if err := c.Set("api_tls.cert_file", "tls/cert.pem"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("api_tls.key_file", "/etc/xborder/key.pem"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.PublicBaseURL(); got != "https://127.0.0.1:7401" {
		t.Errorf("with TLS: PublicBaseURL() = %q", got)
	}
	c.PublicURL = "https://xborder.grandest.example/"
	if got := c.PublicBaseURL(); got != "https://xborder.grandest.example" {
		t.Errorf("with a public URL: PublicBaseURL() = %q", got)
	}
	if cert, key := c.APITLS.Paths("/var/lib/xborder"); cert != "/var/lib/xborder/tls/cert.pem" || key != "/etc/xborder/key.pem" {
		t.Errorf("Paths = %q, %q", cert, key)
	}

	// Written and read back; a misspelt key is refused.
	dir := t.TempDir()
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(dir)
	if err != nil || back.APITLS != c.APITLS {
		t.Fatalf("read back %+v, %v", back.APITLS, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("api_tls:\n  cert: c.pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(dir); err == nil || !strings.Contains(err.Error(), "cert") {
		t.Fatalf("misspelt api_tls key: %v", err)
	}
}

func TestOpenRefusesMissingAPICertificate(t *testing.T) {
	f := newTestFed(t, "tls-missing", []string{"fr-grandest"}, nil)
	f.cfgs[0].APITLS = APITLSConfig{CertFile: "tls/cert.pem", KeyFile: "tls/key.pem"}
	n, err := Open(f.dirs[0], f.cfgs[0])
	if err == nil {
		_ = n.Close()
		t.Fatal("a node whose certificate file is missing opened")
	}
	if !strings.Contains(err.Error(), "api_tls:") || !strings.Contains(err.Error(), "cert.pem") {
		t.Fatalf("error %q does not name api_tls and the file", err)
	}
}

// The node serves its API, console and all over TLS from the configured
// files, picks up a renewed certificate without a restart, and its
// console's session cookie is Secure.
func TestNodeServesAPIOverTLS(t *testing.T) {
	f := newTestFed(t, "tls", []string{"fr-grandest"}, nil)
	dir := f.dirs[0]
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.cfgs[0].APITLS = APITLSConfig{CertFile: "tls/cert.pem", KeyFile: filepath.Join(dir, "tls", "key.pem")}
	certFile, keyFile := f.cfgs[0].APITLS.Paths(dir)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(testkit.WriteCert(t, certFile, keyFile, 1))
	n := f.start(0)
	addr := n.APIAddr()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ok") || resp.TLS == nil {
		t.Fatalf("GET /healthz over TLS: %d %s", resp.StatusCode, body)
	}
	if resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("negotiated TLS version %x", resp.TLS.Version)
	}
	// Plain HTTP gets no API.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the API answered plain HTTP")
		}
	}

	// The console's session cookie is Secure over TLS.
	id, err := LoadKey(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	code, err := console.IssueSignInCode(id.Key, id.PeerID.String(), api.User{Subject: "op@grandest.example", Role: api.RoleOperator}, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err = hc.Get("https://" + addr + console.Prefix + "signin?code=" + url.QueryEscape(code))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "xborder_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly {
		t.Fatalf("sign-in over TLS: %d, cookies %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}

	// Renewal: new files renamed over the old ones, as renewal tools do;
	// the next connection is served the new certificate.
	certPEM, keyPEM := testkit.SelfSignedCert(t, 2)
	roots.AppendCertsFromPEM(certPEM)
	for path, data := range map[string][]byte{keyFile: keyPEM, certFile: certPEM} {
		if err := os.WriteFile(path+".new", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	testkit.EventuallyNil(t, 20*time.Second, "the renewed certificate served", func() error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
		if err != nil {
			return err
		}
		defer c.Close()
		if s := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != 2 {
			return fmt.Errorf("serial %d served", s)
		}
		return nil
	})
	resp, err = hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 2 {
		t.Fatalf("after renewal: %d", resp.StatusCode)
	}
}
