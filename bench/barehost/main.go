// Command barehost starts a bare go-libp2p host configured the way an
// xborder node configures its own (node/host.go): a fresh Ed25519 identity,
// TCP and QUIC on loopback, TLS preferred over Noise, the default muxers and
// ping. It adds nothing else: no DHT, no membership gater, no connection
// or resource limits of its own, no API server and no metrics registry of
// its own.
//
// It is the baseline of bench/startup, which compares an xborder node's
// start-up time and memory footprint against this program, so that the
// figures show what xborder costs on top of libp2p rather than what libp2p
// itself costs.
//
// Once libp2p.New has returned, the host is listening and the program
// prints the line "ready" on stdout; it then idles until SIGINT or SIGTERM
// and closes the host.
//
// Usage:
//
//	barehost [-port N]
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

func main() {
	port := flag.Int("port", 0, "loopback port for TCP and QUIC (0: let the kernel pick)")
	flag.Parse()
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "barehost: -port %d is not between 0 and 65535\n", *port)
		os.Exit(2)
	}

	// Install the handler before the host exists, so that a SIGTERM sent
	// the moment "ready" is read still closes the host instead of killing
	// the process with the default action.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// A fresh key on every start, like `xborder init` creates one: the
	// node's key generation is part of neither start-up path being timed
	// (xborder loads an existing key), and Ed25519 generation takes
	// microseconds.
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		fmt.Fprintf(os.Stderr, "barehost: generate key: %v\n", err)
		os.Exit(1)
	}
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.ListenAddrStrings(
			fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", *port),
			fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", *port),
		),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.DefaultMuxers,
		libp2p.Ping(true),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "barehost: start libp2p host: %v\n", err)
		os.Exit(1)
	}
	// os.Stdout is unbuffered, so the line reaches the benchmark as soon
	// as the host listens.
	fmt.Println("ready")

	<-ctx.Done()
	if err := h.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "barehost: close host: %v\n", err)
		os.Exit(1)
	}
}
