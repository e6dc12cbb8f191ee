// Package exchange is what researchers come for: the federation catalogue
// (DCAT-AP metadata of datasets and models, content-addressed blobs, sync
// between members filtered by the owner's policy), cross-border access
// requests answered with signed grants, verified peer-to-peer transfers,
// and the negotiation of model-sharing agreements.
//
// Three services, each built from a Config and its Deps: the Catalogue
// (OpenCatalogue), the Service of requests, grants and transfers
// (NewService) and the Agreements (NewAgreements). They serve the local
// API themselves: the catalogue publishes, withdraws and searches; the
// service requests, fetches (under a grant it already holds when it can)
// and shows each Caller the transfers they may see; the agreements
// propose, sign, revoke and show AgreementViews.
//
// The package never decides policy itself: it asks an Authorizer (and an
// AgreementPolicy), it reads registry facts through a Registry and an
// AgreementRegistry, and it writes the audit trail through a Recorder, all
// declared here (deps.go, agreement.go) and provided by the node. The
// agreement document itself, the bytes every party signs, is package
// agreement; exchange imports neither consensus nor the API.
//
// # Caveats
//
//   - Restricted metadata never travels over gossip: announcements carry
//     only {node, version, digest}; entries are pulled over an authenticated
//     stream and filtered for the requesting partner by the owner.
//   - A blob is stored under its SHA-256 and never changes; an update of an
//     entry points at a new blob.
//   - Nothing happens off the record: a decision, a grant, a transfer served,
//     fetched or downloaded and an agreement signature each wait for their
//     audit record, and do not happen when the Recorder fails
//     (ErrAuditUnavailable; an owner refuses with RefusalAuditUnavailable). Records of outcomes
//     (completed, failed, refused) are written after the fact and only
//     logged when they fail; so are publications and withdrawals, which
//     are made and announced before they are recorded.
//   - A grant is bounded by what it was issued under, as the registry says
//     at each transfer: an agreement that ended, a project that closed or a
//     holder no longer among the project's partners stops it.
package exchange
