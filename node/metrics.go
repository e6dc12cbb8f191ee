package node

import (
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
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "xborder_build_info",
		Help:        "Build information of the running node; always 1.",
		ConstLabels: prometheus.Labels{"version": Version, "go_version": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(m.peersConnected, m.dials, m.gaterRejections, m.federationRefusals, m.policyTimeouts, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
