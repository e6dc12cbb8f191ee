package node

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"

	"github.com/xborder/xborder/internal/tlsreload"
)

// openAPITLS loads the API's certificate when api_tls is configured, so
// that a missing file or a key that does not match stops Open, before
// anything starts.
func (n *Node) openAPITLS() error {
	if !n.cfg.APITLS.Enabled() {
		return nil
	}
	certFile, keyFile := n.cfg.APITLS.Paths(n.dataDir)
	r, err := tlsreload.New(tlsreload.DefaultConfig(certFile, keyFile), n.log.With("component", "api-tls"))
	if err != nil {
		return fmt.Errorf("api_tls: %w", err)
	}
	n.apiTLS = r
	return nil
}

// listenAPI listens on the API address, behind TLS when api_tls is set.
func (n *Node) listenAPI() (net.Listener, error) {
	ln, err := net.Listen("tcp", n.cfg.API)
	if err != nil {
		return nil, fmt.Errorf("API listen on %s: %w", n.cfg.API, err)
	}
	if n.apiTLS != nil {
		ln = tls.NewListener(ln, n.apiTLS.TLSConfig())
	}
	return ln, nil
}

// secureCookies reports whether the console's cookies are marked Secure
// on every answer, not only on those served over TLS: the public URL is
// https, so a browser reaches the node through a TLS-terminating proxy
// even when the proxy speaks plain HTTP to it.
func (n *Node) secureCookies() bool {
	return strings.HasPrefix(strings.ToLower(n.cfg.PublicURL), "https://")
}
