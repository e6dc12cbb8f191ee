package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cards returns n valid identity cards with fresh keys.
func cards(t *testing.T, names ...string) []Card {
	t.Helper()
	var out []Card
	for _, n := range names {
		id, err := CreateKey(filepath.Join(t.TempDir(), KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Card{Name: n, Country: "FR", Org: "Org " + n, PeerID: id.PeerID.String(),
			Addrs: []string{"/ip4/192.0.2.1/tcp/7400", "/ip4/192.0.2.1/udp/7400/quic-v1"}})
	}
	return out
}

func TestGenesisValidationErrors(t *testing.T) {
	base := cards(t, "fr-grandest", "de-bw")
	cases := []struct {
		name   string
		mutate func(*Genesis)
		want   string
	}{
		{"empty member list", func(g *Genesis) { g.Members = nil }, "members: the member list is empty"},
		{"no federation name", func(g *Genesis) { g.Federation = "" }, "federation: the federation name is empty"},
		{"duplicate name", func(g *Genesis) { g.Members[1].Name = "fr-grandest" }, `members[1].name: "fr-grandest" is already used by members[0]`},
		{"duplicate peer ID", func(g *Genesis) { g.Members[1].PeerID = g.Members[0].PeerID }, "members[1].peer_id: " + base[0].PeerID + " is already used by members[0] (fr-grandest)"},
		{"bad country code", func(g *Genesis) { g.Members[0].Country = "EU" }, `members[0].country: "EU" is not an ISO 3166-1 alpha-2 country code`},
		{"bad multiaddr", func(g *Genesis) { g.Members[1].Addrs = []string{"10.0.0.1:7400"} }, `members[1].addrs[0]: "10.0.0.1:7400" is not a multiaddr`},
		{"address of another peer", func(g *Genesis) {
			g.Members[1].Addrs = []string{"/ip4/192.0.2.2/tcp/7400/p2p/" + g.Members[0].PeerID}
		}, "members[1].addrs[0]: \"/ip4/192.0.2.2/tcp/7400/p2p/" + base[0].PeerID + "\" names another peer"},
		{"bad peer ID", func(g *Genesis) { g.Members[0].PeerID = "QmNotAPeer" }, `members[0].peer_id: "QmNotAPeer" is not a peer ID`},
		{"bad name", func(g *Genesis) { g.Members[0].Name = "Grand Est" }, `members[0].name: "Grand Est" must be lower-case`},
		{"missing org", func(g *Genesis) { g.Members[0].Org = "" }, "members[0].org: the organisation is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &Genesis{Federation: "grand-est-ai", Members: append([]Card(nil), base...)}
			tc.mutate(g)
			err := g.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	good := &Genesis{Federation: "grand-est-ai", Members: base}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid genesis refused: %v", err)
	}
}

func TestFederationIDIsCanonical(t *testing.T) {
	cs := cards(t, "fr-grandest", "de-bw", "ch-basel")
	a := &Genesis{Federation: "grand-est-ai", Members: []Card{cs[0], cs[1], cs[2]}}
	reordered := []Card{cs[2], cs[0], cs[1]}
	reordered[0].Addrs = []string{cs[2].Addrs[1], cs[2].Addrs[0]}
	b := &Genesis{Federation: "grand-est-ai", Members: reordered}
	if a.ID() != b.ID() {
		t.Fatal("member or address order changed the federation ID")
	}
	parsed, err := ParseGenesis(a.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if parsed.ID() != a.ID() {
		t.Fatal("the file on disk does not give the same federation ID")
	}
	c := &Genesis{Federation: "grand-est-ai-2", Members: a.Members}
	if c.ID() == a.ID() {
		t.Fatal("a different federation name gave the same ID")
	}
	if len(a.ID()) != 64 {
		t.Fatalf("ID %q is not a hex SHA-256", a.ID())
	}
}

func TestParseGenesisRefusesUnknownFieldsAndTrailingData(t *testing.T) {
	g := &Genesis{Federation: "f", Members: cards(t, "fr-grandest")}
	raw := string(g.Marshal())
	for _, bad := range []string{
		strings.Replace(raw, `"federation"`, `"federaton"`, 1),
		raw + "{}",
		"",
		"[]",
	} {
		if _, err := ParseGenesis([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestInstallGenesisKeepsTheFederation(t *testing.T) {
	dir := t.TempDir()
	cfg := validConfig()
	cs := cards(t, "fr-grandest", "de-bw")
	first := filepath.Join(t.TempDir(), "a.json")
	second := filepath.Join(t.TempDir(), "b.json")
	must(t, os.WriteFile(first, (&Genesis{Federation: "a", Members: cs}).Marshal(), 0o644))
	must(t, os.WriteFile(second, (&Genesis{Federation: "b", Members: cs}).Marshal(), 0o644))
	must(t, InstallGenesis(dir, cfg, first))
	must(t, InstallGenesis(dir, cfg, first)) // same genesis again: fine
	err := InstallGenesis(dir, cfg, second)
	if err == nil || !strings.Contains(err.Error(), "refusing to switch federations") {
		t.Fatalf("switching federations: %v", err)
	}
	got, err := LoadGenesis(cfg.GenesisPath(dir))
	must(t, err)
	if got.Federation != "a" {
		t.Fatalf("installed genesis was replaced by %q", got.Federation)
	}
}

func FuzzParseGenesis(f *testing.F) {
	f.Add([]byte(`{"federation":"f","members":[{"name":"fr-grandest","country":"FR","org":"o","peer_id":"12D3KooWALzKvL7u9t9Sf6RW9JSNRHtJcdXcU4tUpf9VzubwPNvG","addrs":["/ip4/127.0.0.1/tcp/1"]}]}`))
	f.Add([]byte(`{"federation":"","members":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGenesis(data)
		if err != nil {
			return
		}
		// Whatever parses must validate and survive a round trip unchanged.
		again, err := ParseGenesis(g.Marshal())
		if err != nil {
			t.Fatalf("re-parse of a valid genesis failed: %v", err)
		}
		if again.ID() != g.ID() {
			t.Fatal("federation ID changed across a round trip")
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
