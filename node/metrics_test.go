package node

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/xborder/xborder/internal/testkit"
)

// gauge reads one of the node's gauges as a scrape would.
func gauge(t *testing.T, n *Node, name string) (float64, error) {
	t.Helper()
	families, err := n.reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("no gauge %s", name)
}

// The health an operator's monitoring scrapes is what /readyz and the
// registry say.
func TestHealthGaugesFollowReadinessAndTheRegistry(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	n := nodes[0]
	testkit.EventuallyNil(t, 30*time.Second, "the gauges say ready, with a leader and two members", func() error {
		for name, want := range map[string]float64{"xborder_ready": 1, "xborder_audit_writable": 1,
			"xborder_registry_has_leader": 1, "xborder_registry_members": 2} {
			got, err := gauge(t, n, name)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s = %v, want %v (readiness %+v)", name, got, want, n.Readiness(context.Background()))
			}
		}
		if idx, err := gauge(t, n, "xborder_registry_applied_index"); err != nil || idx < 1 {
			return fmt.Errorf("applied index %v %v", idx, err)
		}
		return nil
	})
	// The other member stops: this one keeps its trail but loses the
	// registry's quorum, and says so.
	must(t, nodes[1].Close())
	testkit.EventuallyNil(t, 60*time.Second, "no leader without the other member", func() error {
		if got, err := gauge(t, n, "xborder_registry_has_leader"); err != nil || got != 0 {
			return fmt.Errorf("has_leader = %v %v", got, err)
		}
		return nil
	})
}

// Every metric the shipped alert rules use is one a node exports.
func TestTheShippedAlertsUseMetricsTheNodeExports(t *testing.T) {
	raw, err := os.ReadFile("../docs/monitoring/xborder-alerts.yml")
	must(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	must(t, yaml.Unmarshal(raw, &rules))
	f := newTestFed(t, "grand-est-ai", fiveCountries[:1], nil)
	n := f.startAll()[0]
	// The API's counter appears once it has counted a request.
	_ = n.Readiness(context.Background())
	families, err := n.reg.Gather()
	must(t, err)
	exported := map[string]bool{"xborder_api_requests_total": true}
	for _, fam := range families {
		exported[fam.GetName()] = true
	}
	// A counter with labels is gathered once it has counted something:
	// its description names it before.
	descs := make(chan *prometheus.Desc, 16)
	for _, c := range []prometheus.Collector{n.metrics.dials, n.metrics.gaterRejections, n.metrics.policyTimeouts} {
		c.Describe(descs)
	}
	close(descs)
	for d := range descs {
		if m := regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d.String()); m != nil {
			exported[m[1]] = true
		}
	}
	count := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			count++
			for _, name := range regexp.MustCompile(`xborder_[a-z_]+`).FindAllString(r.Expr, -1) {
				if !exported[name] {
					t.Errorf("alert %s uses %s, which the node does not export", r.Alert, name)
				}
			}
		}
	}
	if count < 5 {
		t.Fatalf("%d alert rules read", count)
	}
}
