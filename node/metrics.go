package node

import (
	"context"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Version is the xborder release, set at build time with
// -ldflags "-X github.com/xborder/xborder/node.Version=...".
var Version = "0.1.0-dev"

// metrics are the node's own Prometheus series. Each node has its own
// registry, so several nodes can live in one process (tests, benchmarks).
type metrics struct {
	peersConnected     prometheus.Gauge
	dials              *prometheus.CounterVec
	gaterRejections    *prometheus.CounterVec
	federationRefusals prometheus.Counter
	policyTimeouts     *prometheus.CounterVec
	// identityRefusalsUnrecorded counts refused sign-ins and issuer
	// tokens beyond the audit trail's rate for them.
	identityRefusalsUnrecorded prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		peersConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xborder_peers_connected",
			Help: "Federation members currently connected and verified.",
		}),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xborder_dials_total",
			Help: "Dials to federation members, by result (ok, error, refused: the member closed the connection before it was verified).",
		}, []string{"result"}),
		gaterRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xborder_gater_rejections_total",
			Help: "Connections refused by the membership gater, by stage (dial; accept: from an endpoint refused recently, before the handshake; secured: after the handshake).",
		}, []string{"stage"}),
		federationRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xborder_federation_mismatch_total",
			Help: "Peers disconnected because they run another federation's genesis.",
		}),
		policyTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xborder_policy_timeouts_total",
			Help: "Policy decisions denied because they took longer than their deadline (policy.timeouts), by decision point (api.allow, exchange.decision, ...).",
		}, []string{"point"}),
		identityRefusalsUnrecorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xborder_identity_refusals_unrecorded_total",
			Help: "Refused sign-ins and identity-provider tokens logged but not recorded in the audit trail, beyond its rate for them (1/s, bursts of 30, verified identities apart).",
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "xborder_build_info",
		Help:        "Build information of the running node; always 1.",
		ConstLabels: prometheus.Labels{"version": Version, "go_version": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(m.peersConnected, m.dials, m.gaterRejections, m.federationRefusals, m.policyTimeouts, m.identityRefusalsUnrecorded, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerHealth exports what /readyz and the registry say, so that an
// operator's monitoring alerts on the same facts an operator reads there.
// The gauges read the node when scraped.
func (n *Node) registerHealth(reg prometheus.Registerer) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	bit := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	reg.MustRegister(
		gauge("xborder_ready", "1 when /readyz answers 200: started, audit trail writable, registry replica current and applying writes.",
			func() float64 { return bit(n.Readiness(context.Background()).Ready) }),
		gauge("xborder_audit_writable", "1 while the audit trail accepts records; without it the node decides and serves nothing.",
			func() float64 {
				if n.audit == nil {
					return 0
				}
				ok, _ := n.audit.Health()
				return bit(ok)
			}),
		gauge("xborder_registry_has_leader", "1 while this replica knows a registry leader; without one no registry write commits.",
			func() float64 { rs := n.raftStatus(); return bit(rs != nil && rs.Leader != "") }),
		gauge("xborder_registry_applied_index", "The last registry log index this replica applied; compare members' to see one falling behind.",
			func() float64 {
				if rs := n.raftStatus(); rs != nil {
					return float64(rs.AppliedIndex)
				}
				return 0
			}),
		gauge("xborder_registry_members", "Federation members the registry lists.",
			func() float64 { return float64(len(n.registryMembers())) }),
	)
}
