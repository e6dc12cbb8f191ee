// Package consensus is the federation's replicated registry: joint
// projects, model-sharing agreements, a project's analysis modules and
// the signed evaluations of models, membership and its votes, audit
// anchors and policy hashes, kept by hashicorp/raft over libp2p streams with
// no central operator.
//
// Every change is a command {op, args, by, nonce, ts} signed by the
// submitting member's Ed25519 key (a JWS). A follower forwards it to the
// leader on one pipelined stream per leader, /xborder/registry/1.1.0
// (one stream per command, /xborder/registry/1.0.0, with a leader that
// lacks it); the leader coalesces concurrent commands into one log entry;
// every member's FSM verifies each signature
// against the member key it holds, checks the command's preconditions and
// applies it deterministically: no clock, no network, no map-order
// dependence. Reads are served from the local replica.
//
// A member's users write through a Clerk (clerk.go): its admission step
// (admission.go) builds the registry policy's input from the local
// replica, asks this member's policy (data.xborder.registry.decision, and
// for a yes vote data.xborder.membership.decision) through the Policy it
// is given, and has each decision recorded by its Recorder before the
// command is signed and proposed; it then records the outcome and waits
// until the local replica has applied the command. The node wires the
// policy engine, the audit trail and the dataset reference check in.
// Registry.Submit is the bare write path, without admission, for what the
// node commits on its own account (audit anchors, policy hashes).
//
// Files: config.go (Config, Validate), registry.go (open, close),
// write.go (submit, group commit), forward.go (leader forwarding),
// reconcile.go (raft configuration follows membership), read.go,
// fsm.go, ops.go and state.go (the FSM), agreement_ops.go and
// module_ops.go (agreements; modules and evaluations), raftlog.go (raft's log into
// slog), admission.go and clerk.go.
//
// # Caveats
//
//   - Policy is checked by the submitting member before it proposes a
//     command (admission.go), never inside the FSM: the FSM enforces only
//     the federation-wide invariants (signatures, membership, a joint
//     project spans two countries, ...), so that every member applies the
//     same log the same way.
//   - A command's ts is the submitter's clock. It orders nothing; it dates
//     records and bounds how long nonces are remembered for replay checks.
//   - The FSM persists its state and the last applied index in registry.db
//     in the same transaction, so entries replayed after a restart are
//     skipped rather than applied twice.
package consensus
