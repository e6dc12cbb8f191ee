package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

func testPeerID(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := crypto.UnmarshalEd25519PublicKey(pub)
	id, _ := peer.IDFromPublicKey(k)
	return id.String()
}

// member rekey proposes the re-key the registry decides; member list shows
// the keys it replaced.
func TestMemberRekeyProposesAndListShowsFormerKeys(t *testing.T) {
	newID, oldID := testPeerID(t), testPeerID(t)
	var mu sync.Mutex
	var posted []consensus.MemberChange
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/members":
			var c consensus.MemberChange
			if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			posted = append(posted, c)
			mu.Unlock()
			_ = json.NewEncoder(w).Encode(api.Committed{Index: 12})
		case r.Method == http.MethodGet && r.URL.Path == "/v1/members":
			_ = json.NewEncoder(w).Encode(api.MemberList{Members: []consensus.Member{{Name: "de-bw", Country: "DE", Org: "BW", PeerID: newID, Voter: true,
				FormerKeys: []consensus.FormerKey{{PeerID: oldID, Until: 1_764_000_000_000, UntilIndex: 12}}}},
				Proposals: []consensus.Proposal{{Candidate: consensus.Member{Name: "ch-basel", Country: "CH", PeerID: oldID}, Action: "rekey", ProposedBy: "fr-grandest", Votes: map[string]bool{"fr-grandest": true}}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	run := func(args ...string) (int, string, string) {
		return xb(t, append([]string{"--data", t.TempDir(), "--addr", srv.URL, "--token", "t"}, args...)...)
	}

	code, out, errs := run("member", "rekey", "de-bw", "--peer-id", newID, "--addrs", "/ip4/192.0.2.7/tcp/4001")
	if code != 0 || !strings.Contains(out, "proposed replacing the node key of de-bw by "+newID) {
		t.Fatalf("rekey: exit %d, out %q, err %q", code, out, errs)
	}
	if len(posted) != 1 || posted[0].Action != "rekey" || posted[0].Candidate.Name != "de-bw" || posted[0].Candidate.PeerID != newID ||
		len(posted[0].Candidate.Addrs) != 1 || posted[0].Candidate.Country != "" {
		t.Fatalf("posted %+v", posted)
	}
	for _, bad := range [][]string{
		{"member", "rekey", "de-bw", "--peer-id", "not-a-peer-id"},
		{"member", "rekey", "de-bw"},
		{"member", "rekey", "de-bw", "--peer-id", newID, "--card", "x.json"},
		{"member", "rekey", "--peer-id", newID},
	} {
		if code, _, errs := run(bad...); code != exitUsage || errs == "" {
			t.Fatalf("%v: exit %d, err %q", bad, code, errs)
		}
	}
	if len(posted) != 1 {
		t.Fatalf("a refused command was posted: %+v", posted)
	}

	code, out, errs = run("member", "list")
	if code != 0 || !strings.Contains(out, "former key of de-bw: "+oldID+", replaced at index 12 (2025-11-24T16:00:00Z)") ||
		!strings.Contains(out, "open proposal: rekey ch-basel (CH) to peer ID "+oldID+"; ch-basel does not vote, proposed by fr-grandest") {
		t.Fatalf("list: exit %d, out %q, err %q", code, out, errs)
	}
}
