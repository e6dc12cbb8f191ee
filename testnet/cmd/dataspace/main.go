// Command dataspace is a participant of a dataspace outside the
// federation, shaped like an Eclipse Dataspace Components consumer: it
// knows a provider by its DSP address and participant id, signs each
// request with its own Ed25519 key (a bearer JWT, as the provider's
// configuration expects of it), and receives the provider's messages at
// its callback endpoints. The testnet runs it in a container against the
// Grand Est node (testnet/README.md, Scenario12); it is also a small
// example of what a consumer of an xborder node does.
//
//	dataspace keygen -key FILE        writes an Ed25519 key (PKCS#8 PEM), prints its public key (PEM)
//	dataspace public-key FILE         prints the public key (PEM) of an Ed25519 private key, a node's key too
//	dataspace run -provider URL -provider-id ID -refused DATASET -open DATASET [-json]
//
// run takes these steps in order: the provider's version document; its
// catalogue; a contract request for the refused dataset's offer, which the
// provider is expected to terminate with its policy's reasons; a contract
// request for the open dataset's offer whose purpose is -purpose, carried
// to FINALIZED; an HTTP-pull transfer under that agreement, the content
// pulled and checked against the SHA-256 the provider states (the data
// address's sha256 property and the Repr-Digest header), and the transfer
// completed. It prints one JSON object with each step's outcome, and exits
// 1 when a step did not end as expected.
//
// Its own settings may come from the environment, as the testnet's
// docker-compose.yml sets them: DATASPACE_ID, DATASPACE_KEY,
// DATASPACE_LISTEN, DATASPACE_CALLBACK, DATASPACE_PROVIDER_KEY.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dataspace keygen -key FILE | public-key FILE | run -provider URL -provider-id ID [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "keygen":
		err = keygen(os.Args[2:], os.Stdout)
	case "public-key":
		err = publicKey(os.Args[2:], os.Stdout)
	case "run":
		var ok bool
		ok, err = run(ctx, os.Args[2:], os.Stdout)
		if err == nil && !ok {
			os.Exit(1)
		}
	default:
		err = fmt.Errorf("unknown command %q: keygen, public-key or run", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dataspace:", err)
		os.Exit(2)
	}
}

// config is what run needs: who this participant is, where it listens,
// which provider it talks to and what it asks for.
type config struct {
	ID          string        // this participant's id (the tokens' iss and sub)
	KeyFile     string        // its Ed25519 private key, PKCS#8 PEM
	Listen      string        // where the callback endpoints listen
	Callback    string        // the callbackAddress the provider posts to
	Provider    string        // the provider's URL (its /.well-known/dspace-version is there)
	ProviderID  string        // the provider's participant id (the tokens' aud)
	ProviderKey string        // the provider's public key (PEM); empty: callbacks are not authenticated
	Open        string        // a dataset to negotiate and pull
	Refused     string        // a dataset whose negotiation the provider should refuse
	Purpose     string        // the purpose the open dataset's offer must name
	Wait        time.Duration // how long to wait for each message of the provider
	JSON        bool
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseRun(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&c.ID, "id", env("DATASPACE_ID", "did:web:dataspace.testnet"), "this participant's id")
	fs.StringVar(&c.KeyFile, "key", env("DATASPACE_KEY", "dataspace.key"), "this participant's Ed25519 private key (PKCS#8 PEM)")
	fs.StringVar(&c.Listen, "listen", env("DATASPACE_LISTEN", ":8181"), "address of the callback endpoints")
	fs.StringVar(&c.Callback, "callback", env("DATASPACE_CALLBACK", "http://dataspace:8181"), "callbackAddress given to the provider")
	fs.StringVar(&c.Provider, "provider", "", "the provider's URL, e.g. http://fr-grandest:7401")
	fs.StringVar(&c.ProviderID, "provider-id", "", "the provider's participant id, e.g. urn:xborder:fr-grandest")
	fs.StringVar(&c.ProviderKey, "provider-key", env("DATASPACE_PROVIDER_KEY", ""), "the provider's public key (PEM) its callbacks are checked with")
	fs.StringVar(&c.Open, "open", "", "dataset to negotiate and pull")
	fs.StringVar(&c.Refused, "refused", "", "dataset the provider is expected to refuse")
	fs.StringVar(&c.Purpose, "purpose", "research", "purpose of the open dataset's offer")
	fs.DurationVar(&c.Wait, "wait", time.Minute, "how long to wait for each message of the provider")
	fs.BoolVar(&c.JSON, "json", false, "print the report as one JSON object")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Provider == "" || c.ProviderID == "" {
		return c, errors.New("run: -provider and -provider-id are required")
	}
	return c, nil
}

// run takes the steps and prints the report; ok is false when a step did
// not end as expected.
func run(ctx context.Context, args []string, out io.Writer) (bool, error) {
	cfg, err := parseRun(args)
	if err != nil {
		return false, err
	}
	key, err := readKey(cfg.KeyFile)
	if err != nil {
		return false, err
	}
	c, err := newConsumer(cfg, key)
	if err != nil {
		return false, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return false, fmt.Errorf("callback endpoints: %w", err)
	}
	defer c.serve(ln)()
	rep := c.run(ctx)
	if cfg.JSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		return rep.OK, enc.Encode(rep)
	}
	rep.print(out)
	return rep.OK, nil
}

// keygen writes a fresh Ed25519 key and prints its public half, which
// goes into the provider's configuration (dataspace.participants).
func keygen(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	file := fs.String("key", "dataspace.key", "where to write the private key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writePublic(out, pub)
}

// publicKey prints the public key of an Ed25519 private key: this
// participant's, or a node's (DATA/key), which its callbacks are signed
// with.
func publicKey(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: dataspace public-key FILE")
	}
	key, err := readKey(args[0])
	if err != nil {
		return err
	}
	return writePublic(out, key.Public().(ed25519.PublicKey))
}

func writePublic(out io.Writer, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return pem.Encode(out, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func readKey(file string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM \"PRIVATE KEY\" block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an Ed25519 key", file, k)
	}
	return ek, nil
}
