package tlsreload

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// lockedBuffer is a log sink the handshakes write to concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve accepts TLS connections on loopback with r's configuration and
// completes their handshakes.
func serve(t *testing.T, r *Reloader) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

// servedSerial dials addr afresh, trusting roots, and returns the serial
// number of the certificate the server presents.
func servedSerial(addr string, roots *x509.CertPool) (int64, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestReplacedCertificateIsServedToNewConnectionsAndBrokenOneKeepsIt(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(testkit.WriteCert(t, certFile, keyFile, 1))

	logs := &lockedBuffer{}
	cfg := DefaultConfig(certFile, keyFile)
	cfg.CheckEvery = 10 * time.Millisecond
	r, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r)
	if s, err := servedSerial(addr, roots); err != nil || s != 1 {
		t.Fatalf("first certificate: serial %d, %v", s, err)
	}

	// Renewal: new files written over the old ones (a new key too).
	roots.AppendCertsFromPEM(testkit.WriteCert(t, certFile, keyFile, 2))
	testkit.EventuallyNil(t, 10*time.Second, "the renewed certificate served", func() error {
		s, err := servedSerial(addr, roots)
		if err == nil && s != 2 {
			return errors.New("still the old certificate")
		}
		return err
	})

	// A broken renewal: a new certificate whose key is not written yet
	// (the old key does not match it). The previous pair stays.
	// Files are replaced by renames here, as renewal tools do, so that
	// no check sees a half-written file and the log counts are exact.
	// (The renewal above may have been seen between its two writes.)
	refusedBefore := strings.Count(logs.String(), "do not load")
	certPEM, keyPEM := testkit.SelfSignedCert(t, 3)
	replace(t, certFile, certPEM)
	testkit.Eventually(t, 10*time.Second, "the refused pair logged", func() bool {
		_, _ = servedSerial(addr, roots)
		return strings.Count(logs.String(), "do not load") == refusedBefore+1
	})
	for range 5 {
		if s, err := servedSerial(addr, roots); err != nil || s != 2 {
			t.Fatalf("after a broken replacement: serial %d, %v; want the previous certificate (2)", s, err)
		}
	}
	if n := strings.Count(logs.String(), "do not load") - refusedBefore; n != 1 {
		t.Fatalf("the refused pair was logged %d times, want once:\n%s", n, logs)
	}

	// Garbage in the key file is refused the same way.
	replace(t, keyFile, []byte("-----BEGIN PRIVATE KEY-----\nnot a key\n"))
	testkit.Eventually(t, 10*time.Second, "the garbage key logged", func() bool {
		_, _ = servedSerial(addr, roots)
		return strings.Count(logs.String(), "do not load") == refusedBefore+2
	})
	if s, err := servedSerial(addr, roots); err != nil || s != 2 {
		t.Fatalf("after a garbage key: serial %d, %v; want 2", s, err)
	}

	// The key arrives: the pair loads.
	roots.AppendCertsFromPEM(certPEM)
	replace(t, keyFile, keyPEM)
	testkit.EventuallyNil(t, 10*time.Second, "the completed pair served", func() error {
		s, err := servedSerial(addr, roots)
		if err == nil && s != 3 {
			return errors.New("not yet the completed pair")
		}
		return err
	})
	if r.Leaf().SerialNumber.Int64() != 3 {
		t.Fatalf("Leaf: serial %v, want 3", r.Leaf().SerialNumber)
	}
}

// replace writes a file next to path and renames it over path.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestRefusesTLS11(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	testkit.WriteCert(t, certFile, keyFile, 1)
	r, err := New(DefaultConfig(certFile, keyFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r)
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}) //nolint:gosec // the point of the test
	if err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
}

func TestNewRefusesMissingOrMismatchedFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if _, err := New(DefaultConfig(certFile, keyFile), nil); err == nil || !strings.Contains(err.Error(), "certificate file") {
		t.Fatalf("missing certificate: %v", err)
	}
	testkit.WriteCert(t, certFile, keyFile, 1)
	_, otherKey := testkit.SelfSignedCert(t, 2)
	if err := os.WriteFile(keyFile, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(DefaultConfig(certFile, keyFile), nil); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Fatalf("mismatched key: %v", err)
	}
	for _, c := range []Config{{KeyFile: "k", CheckEvery: time.Second}, {CertFile: "c", CheckEvery: time.Second}, {CertFile: "c", KeyFile: "k"}} {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
	}
}
