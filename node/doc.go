// Package node is the xborder peer: its identity (an Ed25519 key whose
// libp2p peer ID names the node everywhere), its configuration, the genesis
// file that defines the federation, the libp2p host with its membership
// gater and discovery, and the composition root that wires the services
// together and owns their lifetimes.
//
// Only cmd/xborder imports this package; the service packages it wires
// (node/api and, later, policy, exchange, consensus, audit) never import it.
//
// # Caveats
//
//   - The data dir is owned by one process: two nodes must not share it.
//   - Membership is judged by connectedness over time: a stranger's
//     host.Connect can succeed locally while the member's gater closes the
//     connection right after the security handshake.
package node
