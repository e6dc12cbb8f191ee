// Package api is the node's local HTTP API: JSON under /v1/, bearer-token
// authentication of local users, /healthz, /readyz, /metrics and the OpenAPI
// document. It never talks libp2p itself: it asks the node's Backend
// (status, peers, readiness) and each service through the interface it
// declares (Policies, Registry, Audit, Catalogue, Exchange, Agreements,
// Authorizer), which the services implement themselves.
//
// Tokens are JWTs signed with the node's Ed25519 key (EdDSA) and carry the
// user's subject, role and organisation. They are bound to one node by
// their audience, the node's peer ID.
//
// # Caveats
//
//   - /healthz, /readyz, /metrics and /v1/openapi.json need no token, so that
//     probes and scrapers work; keep the API on loopback or behind a proxy
//     when that is too open.
package api
