// Package audit is the node's append-only, hash-chained, signed audit
// trail. Every record names the hash of the record before it and is signed
// with the node's Ed25519 key, so a partner holding the node's peer ID can
// check that nothing was changed, removed or reordered; heads anchored in
// the replicated registry catch a node that rewrites its own history
// wholesale.
//
// # Caveats
//
//   - Append serialises writers and syncs each record to disk: the trail
//     records decisions, not hot-path events.
//   - Records are never updated or deleted by this package; Verify reports
//     the first record that does not fit the chain.
package audit
