// Package audit is the node's append-only, hash-chained, signed audit
// trail. Every record names the hash of the record before it and is signed
// with the node's Ed25519 key, so a partner holding the node's peer ID can
// check that nothing was changed, removed or reordered; heads anchored in
// the replicated registry catch a node that rewrites its own history
// wholesale.
//
// Log is the trail itself. Service runs the trail's flows for a node:
//
//   - records: Record and RecordDecision (a policy decision with the
//     SHA-256 of its input) append and keep the trail's write health, which
//     Health reports to /readyz and probes with an audit.recovered record;
//     the other rooms write through them (as their Recorder);
//   - anchors: every AnchorInterval, and once more at Stop after the
//     node.stop record, Anchor commits the head to the registry through the
//     Anchorer the node plugs in, and waits until the local replica has it;
//   - verification: VerifyAudit checks this trail against every anchor the
//     registry holds for it; VerifyPeerAudit fetches a partner's trail over
//     Protocol and checks it against the partner's key and anchors;
//   - disclosure: DiscloseAudit answers a partner's verification with this
//     node's audit policy (data.xborder.audit.decision, through Policy),
//     and records the decision before anything is disclosed.
//
// # Caveats
//
//   - Append serialises writers and syncs each record to disk: the trail
//     records decisions, not hot-path events.
//   - Records are never updated or deleted by this package; Verify reports
//     the first record that does not fit the chain.
//   - Record returns the trail's own error: the caller refuses to act and
//     says so in its terms (the exchange's ErrAuditUnavailable). The
//     Service's own refusals (a disclosure it cannot record) wrap
//     ErrUnavailable.
//   - The package must not import consensus, exchange or node: the registry
//     and the member list reach it through Anchorer and Members.
package audit
