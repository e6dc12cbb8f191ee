package exchange

import (
	"testing"
	"time"
)

func TestServiceConfigValidate(t *testing.T) {
	if err := DefaultServiceConfig(t.TempDir()).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mod := range map[string]func(*ServiceConfig){
		"request TTL above the owner's bound": func(c *ServiceConfig) { c.RequestTTL = time.Hour },
		"zero TTL":                            func(c *ServiceConfig) { c.RequestTTL = 0 },
		"tiny message cap":                    func(c *ServiceConfig) { c.MaxMessage = 100 },
		"zero chunk":                          func(c *ServiceConfig) { c.ChunkSize = 0 },
		"no idle timeout":                     func(c *ServiceConfig) { c.IdleTimeout = 0 },
		"no transfers per peer":               func(c *ServiceConfig) { c.MaxTransfersPerPeer = 0 },
		"backoff above its cap":               func(c *ServiceConfig) { c.RetryBackoff, c.MaxRetryBackoff = time.Minute, time.Second },
		"no data dir":                         func(c *ServiceConfig) { c.DataDir = "" },
	} {
		c := DefaultServiceConfig(t.TempDir())
		mod(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
