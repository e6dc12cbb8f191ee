package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := DefaultConfig()
	c.Name, c.Country, c.Org = "fr-grandest", "FR", "Région Grand Est"
	return c
}

func TestDefaultConfigIsValidOnceNamed(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// Without a name, country and org the default is not a usable config.
	d := DefaultConfig()
	err := d.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("DefaultConfig().Validate() = %v, want the 3 identity fields reported", err)
	}
}

func TestConfigValidateNamesEachBadField(t *testing.T) {
	cases := []struct {
		field  string
		mutate func(*Config)
	}{
		{"name:", func(c *Config) { c.Name = "FR Grand Est" }},
		{"country:", func(c *Config) { c.Country = "XX" }},
		{"country:", func(c *Config) { c.Country = "fr" }},
		{"org:", func(c *Config) { c.Org = " " }},
		{"listen:", func(c *Config) { c.Listen = nil }},
		{"listen[1]:", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/tcp/1", "tcp://0.0.0.0:1"} }},
		{"advertise[0]:", func(c *Config) { c.Advertise = []string{"not-a-multiaddr"} }},
		{"api:", func(c *Config) { c.API = "7401" }},
		{"api:", func(c *Config) { c.API = "127.0.0.1:99999" }},
		{"log.level:", func(c *Config) { c.Log.Level = "verbose" }},
		{"log.format:", func(c *Config) { c.Log.Format = "xml" }},
		{"policy.evaluator:", func(c *Config) { c.Policy.Evaluator = "wasm" }},
		{"policy.evaluator:", func(c *Config) { c.Policy.Evaluator = "" }},
		{"discovery.redial_max:", func(c *Config) { c.Discovery.RedialMax = Duration(time.Millisecond) }},
		{"limits.max_connections:", func(c *Config) { c.Limits.MaxConnections = 2 }},
		{"limits.max_memory_mb:", func(c *Config) { c.Limits.MaxMemoryMB = 1 }},
		{"shutdown_timeout:", func(c *Config) { c.ShutdownTimeout = 0 }},
		{"registry.election_timeout:", func(c *Config) { c.Registry.ElectionTimeout = Duration(100 * time.Millisecond) }},
		{"registry.apply_timeout:", func(c *Config) { c.Registry.ApplyTimeout = Duration(5 * time.Minute) }},
		{"registry.max_batch:", func(c *Config) { c.Registry.MaxBatch = 0 }},
	}
	for _, tc := range cases {
		c := validConfig()
		tc.mutate(&c)
		err := c.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: Validate() = %v, want a *ValidationError", tc.field, err)
			continue
		}
		if len(ve.Problems) != 1 || !strings.HasPrefix(ve.Problems[0], tc.field) {
			t.Errorf("%s: problems = %q", tc.field, ve.Problems)
		}
	}
}

func TestConfigFileRoundTripAndDefaults(t *testing.T) {
	dir := t.TempDir()
	c := validConfig()
	c.Advertise = []string{"/dns4/fr.example/tcp/7400"}
	c.ShutdownTimeout = Duration(3 * time.Second)
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ShutdownTimeout != c.ShutdownTimeout || got.Advertise[0] != c.Advertise[0] || got.API != c.API {
		t.Fatalf("round trip: got %+v", got)
	}
	// A file that sets one field keeps the defaults of the others.
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("name: de-bw\ncountry: DE\norg: BW\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.API != DefaultAPIAddr || len(got.Listen) != 2 || !got.Discovery.DHT {
		t.Fatalf("defaults lost: %+v", got)
	}
}

func TestConfigFileErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadConfig(dir); err == nil || !strings.Contains(err.Error(), "xborder init") {
		t.Fatalf("missing config: %v", err)
	}
	for body, want := range map[string]string{
		"name: a\nlisten_addrs: []\n": "listen_addrs", // misspelt key
		"shutdown_timeout: soon\n":    "not a duration",
	} {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", body, err, want)
		}
	}
}

func TestConfigSet(t *testing.T) {
	c := validConfig()
	for _, kv := range [][2]string{
		{"listen", "/ip4/10.0.0.1/tcp/1, /ip4/10.0.0.1/udp/1/quic-v1"},
		{"log.level", "debug"},
		{"discovery.mdns", "false"},
		{"shutdown_timeout", "2s"},
	} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.Listen) != 2 || c.Listen[1] != "/ip4/10.0.0.1/udp/1/quic-v1" || c.Log.Level != "debug" ||
		c.Discovery.MDNS || c.ShutdownTimeout.Std() != 2*time.Second {
		t.Fatalf("Set: %+v", c)
	}
	for _, kv := range [][2]string{{"discovery.dht", "maybe"}, {"shutdown_timeout", "1 minute"}, {"nope", "x"}} {
		if err := c.Set(kv[0], kv[1]); err == nil {
			t.Errorf("Set(%q, %q) accepted", kv[0], kv[1])
		}
	}
	// Every settable key is accepted by Set.
	for _, s := range Settable {
		probe := validConfig()
		value := map[string]string{"discovery.mdns": "true", "discovery.dht": "true", "shutdown_timeout": "1s"}[s.Key]
		if value == "" {
			value = "x"
		}
		if err := probe.Set(s.Key, value); err != nil {
			t.Errorf("Settable key %q refused: %v", s.Key, err)
		}
	}
}

// policy.evaluator defaults to plan, is read from config.yaml, set by key,
// and a bad value says which values are good.
func TestConfigPolicyEvaluator(t *testing.T) {
	if e := DefaultConfig().Policy.Evaluator; e != "plan" {
		t.Fatalf("default policy.evaluator = %q", e)
	}
	c := validConfig()
	if err := c.Set("policy.evaluator", "topdown"); err != nil || c.Policy.Evaluator != "topdown" || c.Validate() != nil {
		t.Fatalf("Set policy.evaluator topdown: %v, %q, %v", err, c.Policy.Evaluator, c.Validate())
	}
	dir := t.TempDir()
	if err := WriteConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(dir)
	if err != nil || back.Policy.Evaluator != "topdown" {
		t.Fatalf("round trip: %q, %v", back.Policy.Evaluator, err)
	}
	c.Policy.Evaluator = "fast"
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), `policy.evaluator: "fast" is not one of plan, topdown`) {
		t.Fatalf("Validate with policy.evaluator fast = %v", err)
	}
}
