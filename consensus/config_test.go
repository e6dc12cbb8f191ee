package consensus

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateNamesEachBadField(t *testing.T) {
	if err := DefaultConfig("dir").Validate(); err != nil {
		t.Fatalf("the default configuration: %v", err)
	}
	cases := []struct {
		field  string
		mutate func(*Config)
	}{
		{"dir:", func(c *Config) { c.Dir = "" }},
		{"heartbeat_timeout:", func(c *Config) { c.HeartbeatTimeout = time.Millisecond }},
		{"election_timeout:", func(c *Config) { c.ElectionTimeout = 100 * time.Millisecond }},
		{"leader_lease_timeout:", func(c *Config) { c.LeaderLeaseTimeout = time.Second }},
		{"commit_timeout:", func(c *Config) { c.CommitTimeout = c.HeartbeatTimeout }},
		{"snapshot_threshold:", func(c *Config) { c.SnapshotThreshold = 0 }},
		{"snapshot_interval:", func(c *Config) { c.SnapshotInterval = 0 }},
		{"trailing_logs:", func(c *Config) { c.TrailingLogs = 0 }},
		{"apply_timeout:", func(c *Config) { c.ApplyTimeout = StaleAfter }},
		{"apply_timeout:", func(c *Config) { c.ApplyTimeout = 100 * time.Millisecond }},
		{"apply_wait:", func(c *Config) { c.ApplyWait = 0 }},
		{"max_batch:", func(c *Config) { c.MaxBatch = 0 }},
	}
	for _, tc := range cases {
		c := DefaultConfig("dir")
		tc.mutate(&c)
		err := c.Validate()
		var each interface{ Unwrap() []error }
		if !errors.As(err, &each) {
			t.Errorf("%s: Validate() = %v, want joined problems", tc.field, err)
			continue
		}
		if !strings.HasPrefix(each.Unwrap()[0].Error(), tc.field) {
			t.Errorf("%s: problems = %v", tc.field, each.Unwrap())
		}
	}
}
