package node

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/xborder/xborder/dsp"
)

func testParticipantKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestDataspaceConfigIsCheckedOnlyWhenEnabled(t *testing.T) {
	c := validConfig()
	c.Dataspace.Participants = []dsp.ParticipantConfig{{ID: "bad id"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("a disabled dataspace section is not checked, got %v", err)
	}
	c.Dataspace.Enabled = true
	c.Dataspace.Participants = []dsp.ParticipantConfig{{ID: "did:web:mobility.example", Country: "DE", Org: "Mobility Dataspace",
		PublicKey: testParticipantKey(t), Address: "https://connector.mobility.example/api/dsp"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("a valid dataspace section: %v", err)
	}
	if got := c.Dataspace.dsp(&c, t.TempDir()); got.ParticipantID != "urn:xborder:fr-grandest" || got.BasePath != "/dsp" {
		t.Fatalf("defaults: participant %q, base %q", got.ParticipantID, got.BasePath)
	}
}

func TestDataspaceConfigNamesEachBadField(t *testing.T) {
	key := testParticipantKey(t)
	good := func() dsp.ParticipantConfig {
		return dsp.ParticipantConfig{ID: "did:web:a.example", Country: "DE", PublicKey: key}
	}
	cases := []struct {
		want   string
		mutate func(*DataspaceConfig)
	}{
		{"dataspace.participant_id", func(d *DataspaceConfig) { d.ParticipantID = "two words" }},
		{"dataspace.base_path", func(d *DataspaceConfig) { d.BasePath = "dsp/" }},
		{"dataspace.data_token_ttl", func(d *DataspaceConfig) { d.DataTokenTTL = Duration(1) }},
		{"dataspace.participants[0].country", func(d *DataspaceConfig) { p := good(); p.Country = "XX"; d.Participants = []dsp.ParticipantConfig{p} }},
		{"dataspace.participants[0].public_key", func(d *DataspaceConfig) {
			p := good()
			p.PublicKey = "not a key"
			d.Participants = []dsp.ParticipantConfig{p}
		}},
		{"dataspace.participants[0].address", func(d *DataspaceConfig) {
			p := good()
			p.Address = "ftp://x"
			d.Participants = []dsp.ParticipantConfig{p}
		}},
		{"dataspace.participants[1].id", func(d *DataspaceConfig) { d.Participants = []dsp.ParticipantConfig{good(), good()} }},
		{"dataspace.participants[0].id", func(d *DataspaceConfig) {
			p := good()
			p.ID = "urn:xborder:fr-grandest"
			d.Participants = []dsp.ParticipantConfig{p}
		}},
	}
	for _, tc := range cases {
		c := validConfig()
		c.Dataspace.Enabled = true
		tc.mutate(&c.Dataspace)
		err := c.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want a problem naming it", tc.want, err)
		}
	}
}

func TestDataspaceConfigYAML(t *testing.T) {
	src := `
enabled: true
participant_id: did:web:grandest.example
data_token_ttl: 2m
participants:
  - id: did:web:mobility.example
    country: DE
    org: Mobility Dataspace
    jwks_url: https://connector.mobility.example/.well-known/jwks.json
    address: https://connector.mobility.example/api/dsp
`
	var d DataspaceConfig
	if err := yaml.Unmarshal([]byte(src), &d); err != nil {
		t.Fatal(err)
	}
	if !d.Enabled || d.ParticipantID != "did:web:grandest.example" || d.DataTokenTTL.Std().Minutes() != 2 ||
		len(d.Participants) != 1 || d.Participants[0].Address != "https://connector.mobility.example/api/dsp" {
		t.Fatalf("parsed %+v", d)
	}
}
