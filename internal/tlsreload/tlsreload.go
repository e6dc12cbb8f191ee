// Package tlsreload serves a TLS certificate from operator-provided PEM
// files and picks up their replacement without a restart: a certificate
// renewed by certbot, acme.sh or a region's PKI is written over the old
// files, and the next handshakes present it.
//
// The files are checked at most every Config.CheckEvery, from the
// handshake itself (tls.Config.GetCertificate), so nothing runs between
// handshakes and no watcher has to follow the renames and symlink swaps
// that renewal tools make. A replacement that does not load (a key that
// does not match, a file half written) keeps the previous certificate and
// is logged once; it is tried again when the files change again.
package tlsreload

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckEvery is how often, at most, the files are checked for a
// change: renewal is a matter of days, a few seconds' delay costs nothing.
const DefaultCheckEvery = 2 * time.Second

// Config names the certificate and key files.
type Config struct {
	// CertFile is the PEM certificate chain, the leaf first.
	CertFile string
	// KeyFile is the PEM private key of the leaf.
	KeyFile string
	// CheckEvery bounds how often the files are stat'ed for a change.
	CheckEvery time.Duration
}

// DefaultConfig is the configuration for a certificate and key file.
func DefaultConfig(certFile, keyFile string) Config {
	return Config{CertFile: certFile, KeyFile: keyFile, CheckEvery: DefaultCheckEvery}
}

// ErrConfig is wrapped by every configuration error of Validate.
var ErrConfig = errors.New("tls files")

// Validate checks that both files are named and the interval is positive.
func (c Config) Validate() error {
	var errs []error
	if c.CertFile == "" {
		errs = append(errs, fmt.Errorf("%w: the certificate file is not named", ErrConfig))
	}
	if c.KeyFile == "" {
		errs = append(errs, fmt.Errorf("%w: the key file is not named", ErrConfig))
	}
	if c.CheckEvery <= 0 {
		errs = append(errs, fmt.Errorf("%w: the check interval %v is not positive", ErrConfig, c.CheckEvery))
	}
	return errors.Join(errs...)
}

// Reloader holds the certificate currently served and replaces it when
// its files change.
type Reloader struct {
	cfg Config
	log *slog.Logger

	cert atomic.Pointer[tls.Certificate]

	mu        sync.Mutex // one check at a time; guards the fields below
	lastCheck time.Time
	certStat  fs.FileInfo // of the pair now served, or of the last refused one
	keyStat   fs.FileInfo
}

// New loads the pair; an error here (a missing file, a key that does not
// match) is the operator's to fix before the node serves anything.
func New(cfg Config, log *slog.Logger) (*Reloader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{cfg: cfg, log: log}
	cs, ks, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := load(cfg)
	if err != nil {
		return nil, err
	}
	r.cert.Store(cert)
	r.certStat, r.keyStat, r.lastCheck = cs, ks, time.Now()
	return r, nil
}

// TLSConfig is a server configuration presenting the reloaded certificate,
// TLS 1.2 at least. HTTP/1.1 only: the API is served by http.Server.Serve
// on a TLS listener, which does not speak HTTP/2.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}

// GetCertificate returns the current certificate, after reloading it if
// its files changed since the last check (at most every CheckEvery).
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeReload(time.Now())
	return r.cert.Load(), nil
}

// Leaf is the certificate now served (parsed), for status and tests.
func (r *Reloader) Leaf() *x509.Certificate { return r.cert.Load().Leaf }

func (r *Reloader) maybeReload(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastCheck) < r.cfg.CheckEvery {
		return
	}
	r.lastCheck = now
	cs, ks, err := r.stat()
	if err != nil {
		// A file being replaced may be missing for an instant; the old
		// pair stays, and a later check finds the new one.
		if r.certStat != nil {
			r.log.Warn("TLS certificate files unreadable; still serving the previous certificate", "err", err)
			r.certStat, r.keyStat = nil, nil
		}
		return
	}
	if r.certStat != nil && same(cs, r.certStat) && same(ks, r.keyStat) {
		return
	}
	r.certStat, r.keyStat = cs, ks
	cert, err := load(r.cfg)
	if err != nil {
		r.log.Error("TLS certificate files changed but do not load; still serving the previous certificate",
			"cert_file", r.cfg.CertFile, "key_file", r.cfg.KeyFile, "err", err,
			"serving_serial", r.cert.Load().Leaf.SerialNumber.String())
		return
	}
	r.cert.Store(cert)
	r.log.Info("TLS certificate reloaded", "cert_file", r.cfg.CertFile,
		"serial", cert.Leaf.SerialNumber.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

func (r *Reloader) stat() (cert, key fs.FileInfo, err error) {
	if cert, err = os.Stat(r.cfg.CertFile); err != nil {
		return nil, nil, fmt.Errorf("certificate file: %w", err)
	}
	if key, err = os.Stat(r.cfg.KeyFile); err != nil {
		return nil, nil, fmt.Errorf("key file: %w", err)
	}
	return cert, key, nil
}

// same reports whether a file is unchanged: the same file (a rename or a
// symlink swap gives another), the same size and modification time.
func same(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func load(cfg Config) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", cfg.CertFile, cfg.KeyFile, err)
	}
	// LoadX509KeyPair parses the leaf since Go 1.23; a nil Leaf would be a
	// certificate this package cannot report on.
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse %s: %w", cfg.CertFile, err)
		}
	}
	return &cert, nil
}
