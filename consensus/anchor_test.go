package consensus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

func head(n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint("record ", n)))
	return hex.EncodeToString(sum[:])
}

// A member's anchors form a chain on every replica: each extends the
// latest, none is replaced, and a member that rewrote its trail cannot
// start a fresh chain or fork the old one.
func TestAnchorsFormAChainNoMemberCanShortenOrFork(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	c.waitLeader()
	ctx := context.Background()
	a := c.nodes[0]
	put := func(args AnchorArgs) error {
		t.Helper()
		idx, err := a.reg.Submit(ctx, OpAnchorPut, args)
		if err == nil {
			testkit.Eventually(t, 10*time.Second, "applied", func() bool { return a.reg.AppliedIndex() >= idx })
		}
		return err
	}
	mustReject := func(err error, says string) {
		t.Helper()
		var rej *RejectedError
		if !errors.As(err, &rej) || !strings.Contains(rej.Reason, says) {
			t.Fatalf("got %v, want a rejection saying %q", err, says)
		}
	}
	if err := put(AnchorArgs{Seq: 10, Head: head(10)}); err != nil {
		t.Fatal(err)
	}
	first, err := a.reg.Anchor(a.name)
	if err != nil || first.ID == "" || first.Prev != "" {
		t.Fatalf("first anchor: %+v %v", first, err)
	}
	if err := put(AnchorArgs{Seq: 25, Head: head(25), Prev: first.ID}); err != nil {
		t.Fatal(err)
	}
	second, _ := a.reg.Anchor(a.name)

	// The attack: records deleted, the trail rewritten past the old
	// anchors, and a new chain started, or the old one forked, or moved
	// backwards.
	mustReject(put(AnchorArgs{Seq: 40, Head: head(40)}), "does not extend")
	mustReject(put(AnchorArgs{Seq: 40, Head: head(40), Prev: first.ID}), "does not extend")
	mustReject(put(AnchorArgs{Seq: 20, Head: head(20), Prev: second.ID}), "does not follow")
	mustReject(put(AnchorArgs{Seq: 41, Head: strings.ToUpper(head(41)), Prev: second.ID}), "hex SHA-256")

	if err := put(AnchorArgs{Seq: 40, Head: head(40), Prev: second.ID}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "identical replicas", c.sameState(c.nodes...))
	for _, tn := range c.nodes {
		chain, err := tn.reg.Anchors(a.name)
		if err != nil || len(chain) != 3 || chain[0].Seq != 10 || chain[1].Seq != 25 || chain[2].Seq != 40 {
			t.Fatalf("%s: chain %+v %v", tn.name, chain, err)
		}
		if err := VerifyAnchorChain(chain); err != nil {
			t.Fatalf("%s: %v", tn.name, err)
		}
		tampered := append([]Anchor(nil), chain...)
		tampered[1].Head = head(26)
		if VerifyAnchorChain(tampered) == nil {
			t.Fatal("a changed anchor verifies")
		}
		if VerifyAnchorChain([]Anchor{chain[0], chain[2]}) == nil {
			t.Fatal("a chain with an anchor removed verifies")
		}
	}
}
