// Package dspschema holds the official JSON Schemas of the Eclipse Dataspace
// Protocol 2025-1 and validates documents against them.
//
// The schemas, JSON-LD contexts and examples in schemas/ are copied verbatim
// from the protocol's repository (see schemas/README.md) and embedded in the
// binary. Cross-schema references use the schemas' own identifiers
// (https://w3id.org/dspace/2025/1/...); they resolve to the embedded files and
// never to the network: a reference to any other address fails to compile.
//
// A document that fails its schema yields an [*Error] whose message names the
// JSON pointers and what was wrong in words, in a deterministic order, so the
// dsp package can return it as the body of a 400 response.
//
// # Caveats
//
// The schemas describe the compacted JSON-LD form that the protocol puts on
// the wire; validation does not expand JSON-LD. They are open (no
// additionalProperties), so a valid document may carry properties the
// protocol does not name; the dsp decoders decide what to do with those.
//
// Two places of the published schemas are read with a correction, applied in
// memory when they are loaded (the embedded files stay byte-for-byte the
// published ones): transfer schemas refer to
// "transfer-schema.json#definitions/AbstractTransferCodeMessage", a fragment
// without the leading slash a JSON pointer needs; it is read as
// "#/definitions/AbstractTransferCodeMessage", which is what it means.
package dspschema
