package consensus

import (
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/nodejws"
)

// fuzzContributions are evaluation contributions two deterministic
// members signed (Ed25519 signatures are deterministic), named after the
// fuzz members "fr-grandest" (seed 1) and "de-bw" (seed 2).
func fuzzContributions(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for i, name := range []string{"fr-grandest", "de-bw"} {
		k, id := fuzzMember(tb, byte(i+1))
		tok, err := nodejws.Sign(k, id, nodejws.TypeAnalysisContribution, map[string]any{
			"owner": name, "analysis": "20261126T090000Z-a1b2c3d4e5f6", "kind": EvaluationKind,
			"model": "fr-grandest/sepsis-risk", "rows": 1200 + i, "auc": 0.81})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, tok)
	}
	return out
}

// FuzzContribution feeds the registry's reading of an evaluation
// contribution, which every replica runs on tokens a committer chose:
// nothing may crash a replica, and a token that verifies carries the
// claims its owner signed, whatever else was changed in it.
func FuzzContribution(f *testing.F) {
	seeds := fuzzContributions(f)
	var genesis []Member
	for i, name := range []string{"fr-grandest", "de-bw"} {
		_, id := fuzzMember(f, byte(i+1))
		genesis = append(genesis, Member{Name: name, Country: []string{"FR", "DE"}[i], Org: name, PeerID: id.String()})
	}
	st, err := openFSM(filepath.Join(f.TempDir(), "registry.db"), genesis)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.close() })
	var signed []contributionClaims
	_ = st.view(func(tx *bolt.Tx) error {
		for _, s := range seeds {
			cl, err := openContribution(s, &memberIndex{tx: tx})
			if err != nil {
				f.Fatalf("seed: %v", err)
			}
			signed = append(signed, cl)
		}
		return nil
	})
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)-1])
		parts := strings.Split(s, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
	}
	// The first seed's header with the second seed's payload and signature.
	f.Add(strings.SplitN(seeds[0], ".", 2)[0] + "." + strings.SplitN(seeds[1], ".", 2)[1])
	f.Add("..")
	f.Add(`eyJhbGciOiJub25lIn0.eyJvd25lciI6ImZyLWdyYW5kZXN0In0.`)
	f.Fuzz(func(t *testing.T, token string) {
		_ = st.view(func(tx *bolt.Tx) error {
			_, _ = claimedOwner(token)
			cl, err := openContribution(token, &memberIndex{tx: tx})
			if err != nil {
				return nil
			}
			for _, s := range signed {
				if cl == s {
					return nil
				}
			}
			t.Fatalf("a contribution nobody signed verifies: %q (claims %+v)", token, cl)
			return nil
		})
	})
}
