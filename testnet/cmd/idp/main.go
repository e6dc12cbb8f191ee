// Command idp is the testnet's identity provider: a real OpenID provider
// (oidc/oidctest, zitadel's op) served over HTTPS at https://idp:8443 on
// the testnet's network, with the researchers of the Eucor universities a
// region's console and API may admit, one web client per region and the
// CLI's device client (testnet/README.md, Scenario13).
//
//	idp init -out DIR NAME=PUBLIC_URL...   a testnet CA, a certificate for "idp" it signs, one client secret per region
//	idp serve [-dir /config] [-listen :8443] [-issuer https://idp:8443]
//
// init writes DIR/ca.pem (what the nodes and the scenario trust the
// provider's HTTPS with: each node's ca_file), DIR/idp.pem and DIR/idp.key
// (the server's certificate and key), DIR/clients.json (the regions: name,
// public URL, secret) and DIR/NAME.secret (each region's client secret,
// its client_secret_file). The CA's private key is not kept: nothing else
// is ever signed with it. serve reads them back; the users are fixed
// (Users), with their passwords, as a testnet's may be.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/xborder/xborder/oidc/oidctest"
)

// The issuer as the nodes know it: its name on the testnet's network.
const (
	defaultIssuer = "https://idp:8443"
	serverName    = "idp"
	// CLIClient is the device client `xborder login` signs in with (each
	// node's device_client_id).
	CLIClient = "xborder-cli"
	// ClientPrefix names each region's web client: xborder-NAME.
	ClientPrefix = "xborder-"
)

// Users are the people who can sign in: two researchers of Eucor
// universities (staff, which the shipped identity policy makes
// researchers at a node that trusts the issuer) and a student (no role
// anywhere).
var Users = []oidctest.User{
	{ID: "u-camille", Username: "camille", Password: "camille-testnet", Claims: map[string]any{
		"email": "camille.martin@unistra.fr", "name": "Camille Martin",
		"eduperson_scoped_affiliation": []string{"staff@unistra.fr"}}},
	{ID: "u-anna", Username: "anna", Password: "anna-testnet", Claims: map[string]any{
		"email": "anna.becker@uni-freiburg.de", "name": "Anna Becker",
		"eduperson_scoped_affiliation": []string{"staff@uni-freiburg.de"}}},
	{ID: "u-lea", Username: "lea", Password: "lea-testnet", Claims: map[string]any{
		"email": "lea.petit@etu.unistra.fr", "name": "Léa Petit",
		"eduperson_scoped_affiliation": []string{"student@unistra.fr"}}},
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: idp init -out DIR NAME=PUBLIC_URL... | serve -dir DIR [-listen :8443] [-issuer URL]")
		os.Exit(2)
	}
	// zitadel's op logs each refused request to slog.Default: the
	// scenarios refuse on purpose, so only errors reach the container's
	// log. The provider's own lines (sign-ins, device approvals) go to
	// its logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "init":
		err = initDir(os.Args[2:], time.Now())
	case "serve":
		err = serve(ctx, os.Args[2:], os.Stderr)
	default:
		err = fmt.Errorf("unknown command %q: init or serve", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idp:", err)
		os.Exit(2)
	}
}

// Region is one node's web client at the provider.
type Region struct {
	Name      string `json:"name"`
	PublicURL string `json:"public_url"`
	Secret    string `json:"secret"`
}

var regionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// parseRegion reads NAME=PUBLIC_URL.
func parseRegion(arg string) (Region, error) {
	name, raw, ok := strings.Cut(arg, "=")
	if !ok || !regionName.MatchString(name) {
		return Region{}, fmt.Errorf("region %q: want NAME=PUBLIC_URL, NAME lower-case letters, digits and dashes", arg)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" || strings.ContainsAny(raw, "?#@") {
		return Region{}, fmt.Errorf("region %s: public URL %q is not http(s)://HOST[:PORT]", name, raw)
	}
	return Region{Name: name, PublicURL: strings.TrimSuffix(raw, "/")}, nil
}

// initDir writes the CA, the server's certificate and key, and the
// regions' client secrets into a directory.
func initDir(args []string, now time.Time) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write into (created)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return errors.New("init: -out DIR and at least one NAME=PUBLIC_URL are required")
	}
	var regions []Region
	seen := map[string]bool{}
	for _, a := range fs.Args() {
		r, err := parseRegion(a)
		if err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("region %s given twice", r.Name)
		}
		seen[r.Name] = true
		r.Secret = secret()
		regions = append(regions, r)
	}
	caPEM, certPEM, keyPEM, err := certificates(serverName, now)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	clients, err := json.MarshalIndent(regions, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{"ca.pem": caPEM, "idp.pem": certPEM, "idp.key": keyPEM, "clients.json": clients}
	for _, r := range regions {
		files[r.Name+".secret"] = []byte(r.Secret + "\n")
	}
	for name, b := range files {
		mode := os.FileMode(0o600)
		if name == "ca.pem" || name == "idp.pem" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(*out, name), b, mode); err != nil {
			return err
		}
	}
	return nil
}

func secret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand does not fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// certificates makes a CA valid for a year and a server certificate for
// host signed by it, PEM-encoded (the key PKCS#8).
func certificates(host string, now time.Time) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "xborder testnet CA", Organization: []string{"xborder testnet"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// Clients are the provider's clients for the regions: a confidential web
// client per region, its callback and post-logout page under the region's
// public URL, and the CLI's public device client.
func Clients(regions []Region) []oidctest.Client {
	out := make([]oidctest.Client, 0, len(regions)+1)
	for _, r := range regions {
		out = append(out, oidctest.Client{
			ID: ClientPrefix + r.Name, Secret: r.Secret,
			RedirectURIs:           []string{r.PublicURL + "/console/oidc/callback"},
			PostLogoutRedirectURIs: []string{r.PublicURL + "/console/signin?ok=signed_out"},
		})
	}
	return append(out, oidctest.Client{ID: CLIClient, Device: true})
}

// readRegions reads DIR/clients.json as init wrote it.
func readRegions(dir string) ([]Region, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "clients.json"))
	if err != nil {
		return nil, err
	}
	var regions []Region
	if err := json.Unmarshal(raw, &regions); err != nil {
		return nil, fmt.Errorf("clients.json: %w", err)
	}
	for _, r := range regions {
		if _, err := parseRegion(r.Name + "=" + r.PublicURL); err != nil || r.Secret == "" {
			return nil, fmt.Errorf("clients.json: region %q has no valid public URL or no secret", r.Name)
		}
	}
	return regions, nil
}

// serve runs the provider until ctx ends.
func serve(ctx context.Context, args []string, logTo io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("dir", "/config", "directory init wrote")
	listen := fs.String("listen", ":8443", "HTTPS address")
	issuer := fs.String("issuer", defaultIssuer, "the issuer URL, as the nodes reach it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logTo, nil))
	h, tlsCfg, regions, err := provider(*dir, *issuer, log)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServeTLS("", "") }()
	log.Info("identity provider", "issuer", *issuer, "listen", *listen, "regions", len(regions))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// provider is the provider's handler and TLS configuration from the
// directory init wrote.
func provider(dir, issuer string, log *slog.Logger) (http.Handler, *tls.Config, []Region, error) {
	regions, err := readRegions(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "idp.pem"), filepath.Join(dir, "idp.key"))
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := oidctest.New(oidctest.Config{Issuer: issuer, Users: Users, Clients: Clients(regions),
		Logger: log, DevicePollInterval: time.Second})
	if err != nil {
		return nil, nil, nil, err
	}
	return p.Handler(), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, regions, nil
}
