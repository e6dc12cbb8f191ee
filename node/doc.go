// Package node is the xborder peer and the composition root: it owns the
// node's identity (an Ed25519 key whose libp2p peer ID names the node
// everywhere), its configuration (config.yaml, environment and flags,
// with each service's configuration derived from it and validated in
// Config.Validate), the genesis file that defines the federation, the
// libp2p host with its membership gater, mesh and discovery, and the
// node's own answers to the API (status, peers, readiness). Everything
// else is a service of another package that node only wires: it builds
// each with its configuration and collaborators, translates between
// their types where one room reads another (exchangeRegistry,
// auditRegistry), and owns their lifetimes.
//
// Node.Start brings the node up in phases, each a method that says why
// it comes where it does: startNetwork (host, gater, mesh, DHT),
// openRegistry (consensus, membership sync), startMDNS, startServices
// (the compiled policy engine, audit, the registry's clerk, gossip,
// catalogue, exchange, agreements), startLoops (catalogue pulls, audit
// anchoring, the policy bundle's declaration, reloads) and serveAPI (the
// web console and the local HTTP API). The policies compile from the
// start, concurrently with the first phases. Close stops the phases in
// reverse; a Start that fails stops what it had started.
//
// Only cmd/xborder imports this package; the packages it wires (node/api,
// node/console, policy, exchange, consensus, audit) never import it.
//
// # Caveats
//
//   - The data dir is owned by one process: two nodes must not share it.
//   - Membership is judged by connectedness over time: a stranger's
//     host.Connect can succeed locally while the member's gater closes the
//     connection right after the security handshake.
package node
