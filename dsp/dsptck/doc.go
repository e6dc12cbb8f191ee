// Package dsptck plays the consumer of the Eclipse Dataspace Protocol
// compatibility kit (eclipse-dataspacetck/dsp-tck, DSP 2025-1) against any
// DSP provider, as Go tests.
//
// The Java kit cannot be built here, so its provider-side cases — metadata
// (MET), catalogue (CAT), contract negotiation (CN) and transfer process
// (TP) — are mirrored from its sources: the same case ids and names, the
// same messages to the same endpoints, the same expectations of status,
// state and callbacks. [Run] runs them as subtests named by their ids with
// ':' and '-' turned into '_' (CN:01-03 is CN_01_03), so
//
//	go test ./node -run 'TestDSPTCK/CN_01_03'
//
// runs one. The cases and what a provider must do in each are listed in
// /work/notes/tck.md (the research behind this package) and in cases.go.
//
// The harness starts its own callback server on loopback (the kit's
// "callbackAddress") and receives there what the provider sends: offers,
// agreements, events, terminations, transfer start/suspension/completion/
// termination messages. Every document it receives — answers and callbacks —
// must pass [Config.ValidateSchema] (the official JSON Schemas) as well as the
// checks the kit makes itself.
//
// # Where the mirror differs from the kit
//
//   - Stricter on content: the kit validates a few message types with its
//     own copies of the schemas; the mirror validates everything it receives
//     with the official ones, requires refusals to carry a
//     ContractNegotiationError or TransferError, and treats an unexpected
//     callback as a failure (the kit answers 404 and moves on).
//   - Lenient on timing: the kit registers each callback path only when the
//     step before it is done and answers 404 to an early callback; the
//     mirror queues callbacks per process, so a provider that sends its
//     callbacks back to back passes here. A provider meant to pass the Java
//     kit must send callbacks after its answer and retry a 404 (tck.md,
//     correction 3).
//   - The kit's TP cases need agreements that exist beforehand (its
//     TP_xx_yy_AGREEMENTID). A TP case configured without an AgreementID
//     and with a [Case.NegotiateFor] offer first negotiates that offer to
//     FINALIZED (accepting the provider's offers, verifying its agreement)
//     and transfers under the agreement it got.
//   - The kit sends a fixed Authorization header; the mirror asks
//     [Config.Token] for a fresh bearer token before every request.
//   - With [Config.Pull] the mirror also fetches an HTTP-pull data address
//     the way an EDC consumer does, and checks that the token stops working
//     once the transfer is over; the kit never reads the data.
//
// # Caveats
//
// The harness checks the compacted JSON-LD the protocol puts on the wire; it
// does not expand JSON-LD as the kit does, so a provider using other terms
// or prefixes than the DSP context's own would be refused here and might be
// accepted by the kit.
package dsptck
