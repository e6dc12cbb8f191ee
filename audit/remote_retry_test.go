package audit

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

type allowAll struct{}

func (allowAll) DiscloseAudit(context.Context, peer.ID, Detail) (bool, []string, error) {
	return true, nil, nil
}

// A verification whose stream is lost before the partner answers (here the
// partner resets the first stream, as a connection replaced under it would)
// is asked again on a fresh stream and verifies.
func TestAVerificationThatLostItsStreamIsAskedAgain(t *testing.T) {
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
	newHost := func() (host.Host, peer.ID) {
		k, _, _ := crypto.GenerateEd25519Key(nil)
		h, err := libp2p.New(libp2p.Identity(k), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		return h, h.ID()
	}
	owner, ownerID := newHost()
	defer owner.Close()
	verifier, _ := newHost()
	defer verifier.Close()
	// The first stream is reset before any answer; the next ones are
	// served as Log.Serve serves them.
	var first atomic.Bool
	owner.SetStreamHandler(Protocol, func(s network.Stream) {
		if first.CompareAndSwap(false, true) {
			_ = s.Reset()
			return
		}
		if err := l.serve(context.Background(), s, allowAll{}); err != nil {
			_ = s.Reset()
			return
		}
		_ = s.Close()
	})
	verifier.Peerstore().AddAddrs(ownerID, owner.Addrs(), peerstore.PermanentAddrTTL)
	rep, err := FetchAndVerify(context.Background(), verifier, ownerID, pub, nil, DetailChain)
	if err != nil || !rep.OK || rep.Records != 5 {
		t.Fatalf("verification after a lost stream: %+v %v", rep, err)
	}
	if !first.Load() {
		t.Fatal("the first stream was never reset")
	}
}
