package node

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// protocolVersionPrefix starts the identify protocol version every node
// announces; the federation ID follows it, so a member running another
// genesis is recognised on its first connection.
const protocolVersionPrefix = "xborder/1 federation="

func protocolVersion(federationID string) string { return protocolVersionPrefix + federationID }

// federationOf extracts the federation ID from a peer's identify protocol
// version; ok is false when the peer is not an xborder node.
func federationOf(pv string) (id string, ok bool) {
	return strings.CutPrefix(pv, protocolVersionPrefix)
}

// initialStreamWindow is yamux's initial per-stream receive window. The
// default 256 KiB caps a bulk transfer whose receiver also hashes and
// writes to disk well below what the connection carries; a larger initial
// window lets dataset transfers run at the speed of the TLS connection.
const initialStreamWindow = 2 << 20

func muxer() *yamux.Transport {
	t := *yamux.DefaultTransport
	t.InitialStreamWindowSize = initialStreamWindow
	return &t
}

// quicFallback is how long a dial waits for TCP before trying QUIC.
const quicFallback = 500 * time.Millisecond

// tcpFirst ranks TCP addresses before QUIC ones: a dataset transfer over
// TCP+TLS+yamux runs at the speed of the TLS connection, over QUIC at a
// fraction of it (BENCHMARKS.md); QUIC stays the fallback when TCP does
// not connect.
func tcpFirst(addrs []ma.Multiaddr) []network.AddrDelay {
	out := make([]network.AddrDelay, 0, len(addrs))
	for _, a := range addrs {
		d := time.Duration(0)
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			d = quicFallback
		}
		out = append(out, network.AddrDelay{Addr: a, Delay: d})
	}
	return out
}

// connRateLimiter bounds how fast connections to or from one IP are
// opened. go-libp2p's default (0.2 per second per IPv4 address, burst 16)
// suits a public DHT node but not a federation member: during a partition
// raft redials its partners at every election timeout and the mesh redials
// with backoff, each attempt (TCP and QUIC) taking a token, so the bucket
// for a partner's address stays empty and the member never reconnects
// after the heal while it keeps retrying ("rate limit exceeded"). This
// limit stays far above members' redial rates and still bounds a flood
// from one address; loopback is not limited.
func connRateLimiter() *rate.Limiter {
	perIP := rate.Limit{RPS: 20, Burst: 200}
	return &rate.Limiter{
		NetworkPrefixLimits: []rate.PrefixLimit{
			{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Limit: rate.Limit{}},
			{Prefix: netip.MustParsePrefix("::1/128"), Limit: rate.Limit{}},
		},
		SubnetRateLimiter: rate.SubnetLimiter{
			IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: perIP}},
			IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: perIP}},
			GracePeriod:      time.Minute,
		},
	}
}

// newHost builds the libp2p host: TCP and QUIC, TLS preferred over Noise,
// a resource manager with the configured system limits (and the gater's
// check of recently refused endpoints before any inbound handshake), the
// membership gater, a connection manager that never trims members, and
// ping.
func newHost(cfg *Config, id Identity, fedID string, g *gater, reg prometheus.Registerer) (host.Host, error) {
	limits := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:   rcmgr.LimitVal(cfg.Limits.MaxConnections),
			Streams: rcmgr.LimitVal(cfg.Limits.MaxStreams),
			Memory:  rcmgr.LimitVal64(int64(cfg.Limits.MaxMemoryMB) << 20),
			FD:      rcmgr.LimitVal(cfg.Limits.MaxFDs),
		},
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.Build(rcmgr.DefaultLimits.AutoScale())),
		rcmgr.WithConnRateLimiters(connRateLimiter()))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	// Members are protected from trimming; the watermarks only bound
	// connections that are not (yet) verified members.
	cm, err := connmgr.NewConnManager(cfg.Limits.MaxConnections/2, cfg.Limits.MaxConnections)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(id.LibP2PKey()),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.Muxer(yamux.ID, muxer()),
		libp2p.SwarmOpts(swarm.WithDialRanker(tcpFirst)),
		libp2p.ResourceManager(gatedResources{ResourceManager: rm, g: g}),
		libp2p.ConnectionGater(g),
		libp2p.ConnectionManager(cm),
		libp2p.Ping(true),
		libp2p.ProtocolVersion(protocolVersion(fedID)),
		libp2p.UserAgent("xborder/" + Version),
		libp2p.DisableRelay(),
		libp2p.PrometheusRegisterer(reg),
	}
	if len(cfg.Advertise) > 0 {
		adv := make([]ma.Multiaddr, 0, len(cfg.Advertise))
		for _, a := range cfg.Advertise {
			m, err := ma.NewMultiaddr(a)
			if err != nil {
				cm.Close()
				rm.Close()
				return nil, fmt.Errorf("advertise %q: %w", a, err)
			}
			adv = append(adv, m)
		}
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return adv }))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		cm.Close()
		rm.Close()
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}
