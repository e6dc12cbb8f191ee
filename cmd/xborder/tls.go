package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// apiEndpoint is the node's API base URL and the HTTP transport to reach
// it: --addr / XBORDER_ADDR, else the api of DATA/config.yaml (with the
// XBORDER_* environment applied, as `xborder run` does), https when the
// node serves api_tls. When the data dir's node serves TLS, the transport
// trusts the certificate in its api_tls.cert_file (the exact certificate,
// whatever names it carries: the CLI reaches its node on loopback), and
// otherwise the system's roots.
func (g *globals) apiEndpoint() (string, http.RoundTripper, error) {
	cfg, cfgErr := g.loadConfig()
	if cfgErr == nil {
		cfgErr = applyOverrides(&cfg, pflag.NewFlagSet("env", pflag.ContinueOnError), os.Getenv)
	}
	tlsOn := cfgErr == nil && cfg.APITLS.Enabled()
	base := g.addr
	if base == "" {
		if cfgErr != nil {
			return "", nil, fmt.Errorf("%w (or set --addr / XBORDER_ADDR)", cfgErr)
		}
		base = apiURL(cfg.API)
		if tlsOn {
			base = "https://" + strings.TrimPrefix(base, "http://")
		}
	}
	if !strings.Contains(base, "://") {
		if tlsOn {
			base = "https://" + base
		} else {
			base = "http://" + base
		}
	}
	base = strings.TrimSuffix(base, "/")
	if !tlsOn {
		return base, nil, nil
	}
	certFile, _ := cfg.APITLS.Paths(g.data)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = trustCertFile(certFile)
	return base, tr, nil
}

// trustCertFile is a client configuration that accepts a server
// presenting the first certificate of certFile, read at each handshake so
// that a renewed file is trusted as soon as the node serves it, or else
// a chain the system's roots verify for the name dialled.
func trustCertFile(certFile string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is verified below, by VerifyConnection, which knows
		// the pinned certificate; Go's own verification would refuse a
		// certificate naming the node's public host when dialled on
		// loopback.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the node presented no certificate")
			}
			leaf := cs.PeerCertificates[0]
			pinned, err := firstCert(certFile)
			if err == nil && bytes.Equal(pinned, leaf.Raw) {
				return nil
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, verr := leaf.Verify(x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter}); verr != nil {
				if err != nil {
					return fmt.Errorf("the node's certificate is not trusted (%v) and api_tls.cert_file does not pin it: %w", verr, err)
				}
				return fmt.Errorf("the node's certificate is not the one in %s, and %w", certFile, verr)
			}
			return nil
		},
	}
}

// firstCert is the DER of the first certificate in a PEM file.
func firstCert(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		if b, raw = pem.Decode(raw); b == nil {
			return nil, fmt.Errorf("%s holds no PEM certificate", path)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}
