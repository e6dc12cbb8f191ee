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
//   - Nothing happens off the record: a decision, a grant, a transfer served
//     or fetched and an agreement signature each wait for their audit record,
//     and do not happen when the Recorder fails (ErrAuditUnavailable; an
//     owner refuses with RefusalAuditUnavailable). Records of outcomes
//     (completed, failed, refused) are written after the fact and only
//     logged when they fail.
//   - A grant is bounded by what it was issued under, as the registry says
//     at each transfer: an agreement that ended, a project that closed or a
//     holder no longer among the project's partners stops it.
package exchange
