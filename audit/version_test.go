package audit

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// nextProtocol stands for the audit protocol's next major version, which
// a later release would add beside Protocol.
const nextProtocol protocol.ID = "/xborder/audit/2.0.0"

func loopbackHost(t *testing.T) host.Host {
	t.Helper()
	k, _, _ := crypto.GenerateEd25519Key(nil)
	h, err := libp2p.New(libp2p.Identity(k), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func offering(t *testing.T, ids ...protocol.ID) {
	old := offered
	offered = ids
	t.Cleanup(func() { offered = old })
}

// The versioning rule (docs/DESIGN.md, "Versions") on real libp2p hosts:
// a node of the next release offers the next version first and this one
// second, and verifies a partner still serving only this one; a partner
// of the next release, serving both, answers it in the next version and
// answers a node of this release in this one.
func TestProtocolVersionsNegotiateDuringAnUpgrade(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	l, err := Open(filepath.Join(t.TempDir(), "audit.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 5 {
		if _, err := l.Append("test.event", "subject", nil); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	verifier := loopbackHost(t)
	connect := func(h host.Host) {
		verifier.Peerstore().AddAddrs(h.ID(), h.Addrs(), peerstore.PermanentAddrTTL)
	}
	verify := func(h host.Host) {
		t.Helper()
		rep, err := FetchAndVerify(context.Background(), verifier, h.ID(), pub, nil, DetailChain)
		if err != nil || !rep.OK || rep.Records != 5 {
			t.Fatalf("verification: %+v, %v", rep, err)
		}
	}

	// A partner of this release: Protocol only.
	current := loopbackHost(t)
	defer l.Serve(current, allowAll{}, log)()
	connect(current)
	offering(t, nextProtocol, Protocol)
	s, err := verifier.NewStream(context.Background(), current.ID(), offered...)
	if err != nil {
		t.Fatal(err)
	}
	if s.Protocol() != Protocol {
		t.Fatalf("offered %v to a partner serving %s: negotiated %s", offered, Protocol, s.Protocol())
	}
	_ = s.Reset()
	verify(current)

	// A partner of the next release: both versions.
	next := loopbackHost(t)
	defer l.Serve(next, allowAll{}, log)()
	var servedNext atomic.Int32
	next.SetStreamHandler(nextProtocol, func(s network.Stream) {
		servedNext.Add(1)
		if err := l.serve(context.Background(), s, allowAll{}); err != nil {
			_ = s.Reset()
			return
		}
		_ = s.Close()
	})
	connect(next)
	verify(next)
	if servedNext.Load() != 1 {
		t.Fatalf("a verifier offering %v was served the next version %d times, want once", offered, servedNext.Load())
	}
	// A verifier of this release offers Protocol alone: the partner of the
	// next release still answers it there.
	offering(t, Protocol)
	verify(next)
	if servedNext.Load() != 1 {
		t.Fatalf("a verifier offering only %s reached the next version's handler", Protocol)
	}
}
