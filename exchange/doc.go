// Package exchange is what researchers come for: the federation catalogue
// (DCAT-AP metadata of datasets and models, content-addressed blobs, sync
// between members filtered by the owner's policy), cross-border access
// requests answered with signed grants, and verified peer-to-peer
// transfers.
//
// The package never decides policy itself: it asks an Authorizer, and it
// reads registry facts through a Registry, both declared here and provided
// by the node.
//
// # Caveats
//
//   - Restricted metadata never travels over gossip: announcements carry
//     only {node, version, digest}; entries are pulled over an authenticated
//     stream and filtered for the requesting partner by the owner.
//   - A blob is stored under its SHA-256 and never changes; an update of an
//     entry points at a new blob.
package exchange
