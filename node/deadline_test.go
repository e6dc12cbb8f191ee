package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

func TestPolicyTimeoutsConfig(t *testing.T) {
	for field, mutate := range map[string]func(*Config){
		"policy.decision_timeout:":    func(c *Config) { c.Policy.DecisionTimeout = 0 },
		"policy.timeouts.api.allow:":  func(c *Config) { c.Policy.Timeouts["api.allow"] = Duration(2 * time.Minute) },
		"policy.timeouts.api.allows:": func(c *Config) { c.Policy.Timeouts["api.allows"] = Duration(time.Second) },
	} {
		c := validConfig()
		mutate(&c)
		var ve *ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.HasPrefix(ve.Problems[0], field) {
			t.Errorf("%s: Validate() = %v", field, err)
		}
	}
	// A file that sets one point's timeout keeps the defaults of the others.
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte("name: de-bw\ncountry: DE\norg: BW\npolicy:\n  timeouts:\n    exchange.decision: 2s\n"), 0o644))
	c, err := LoadConfig(dir)
	must(t, err)
	d, err := c.Policy.Deadlines()
	must(t, err)
	if d.For(policy.ExchangeDecision) != 2*time.Second || d.For(policy.APIAllow) != policy.DefaultFastTimeout ||
		d.For(policy.RegistryDecision) != policy.DefaultDecisionTimeout {
		t.Fatalf("deadlines %+v", d)
	}
}

// A slow api.allow (one that would loop for hours) costs a caller about its
// deadline: the API answers 403 with the reason, the evaluation stops, and
// the timeout is counted.
func TestSlowAPIPolicyIsDeniedAtItsDeadline(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	f.cfgs[0].Policy.Timeouts["api.allow"] = Duration(100 * time.Millisecond)
	slow := `package xborder.api

allow if {
	input.user.sub == "slow@region"
	count([1 |
		some x in numbers.range(1, 100000)
		some y in numbers.range(1, 100000)
		x == y + 100000
	]) > 0
}
`
	must(t, os.WriteFile(filepath.Join(f.cfgs[0].PoliciesPath(f.dirs[0]), "slow.rego"), []byte(slow), 0o644))
	n := f.start(0)

	type answer struct {
		code int
		body string
	}
	done := make(chan answer, 1)
	go func() {
		// A researcher may not read the policy: only the slow rule could
		// allow it, so it has to run to its end.
		code, body := callAs(t, n, api.User{Subject: "slow@region", Role: api.RoleResearcher}, "GET", "/v1/policy", nil)
		done <- answer{code, string(body)}
	}()
	var a answer
	select {
	case a = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the API call waited for the slow policy")
	}
	if a.code != 403 || !strings.Contains(a.body, "the policy took longer than 100 ms to decide data.xborder.api.allow") {
		t.Fatalf("slow api.allow: %d %s; want 403 naming the deadline", a.code, a.body)
	}
	if got := counterValue(t, n, "xborder_policy_timeouts_total"); got != 1 {
		t.Fatalf("xborder_policy_timeouts_total = %v, want 1", got)
	}
	// Other callers are decided as before.
	if code, body := callAs(t, n, api.User{Subject: "r@region", Role: api.RoleResearcher}, "GET", "/v1/status", nil); code != 200 {
		t.Fatalf("a quick decision: %d %s", code, body)
	}
}
