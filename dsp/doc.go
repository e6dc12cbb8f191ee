// Package dsp makes an xborder node a participant of European dataspaces
// through the Eclipse Dataspace Protocol 2025-1 (DSP) over its HTTPS
// binding: a provider that dataspace connectors (Eclipse Dataspace
// Components and others) browse, negotiate contracts with and pull data
// from, and a consumer of other DSP providers.
//
// It owns the protocol's messages and their strict decoding (each checked
// against the specification's JSON Schema), the identity of external
// participants (bearer tokens signed by keys the node's configuration
// lists, behind the Verifier interface), the contract negotiation and
// transfer process state machines of both roles, their persistence in
// DATA/dsp.db, and the HTTP-pull data plane.
//
// It decides nothing itself: which entries a participant sees, which
// offers it is made and whether a request is agreed are the node's Rego
// policy's decisions, which the package asks through the small interfaces
// it declares (Catalogue, Policy, Recorder); node plugs in the exchange's
// catalogue, the policy engine and the audit trail.
//
// # Caveats
//
//   - Decentralised Claims Protocol credentials are not supported:
//     participants are known by configuration. The Verifier interface is
//     the one place they would be checked.
//   - Only HTTP-pull transfers are offered; push is refused.
package dsp
