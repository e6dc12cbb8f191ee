// Package analysis brings the analysis to the data: a researcher's node
// asks several members for statistics over their tabular datasets, each
// owner computes on its own rows and releases only the aggregates its
// policy allows, and the researcher's node combines them. Rows never
// leave their owner.
//
// The owner's side (owner.go) verifies the request (signed by the asking
// node, bound to the libp2p stream), asks data.xborder.analysis.decision,
// which answers with the disclosure rules to enforce, refuses a row set
// that differs from one it released earlier to the same member by fewer
// rows than the rules' minimum subset (rowsets.go: the differencing
// attack), computes with package stats under those rules, records the
// release in its audit trail, and signs what it releases (contribution.go).
//
// The researcher's side (requester.go) builds the one request every owner
// answers (for a GLM the design matrix's columns, agreed from the owners'
// data dictionaries), asks every owner at once, and combines: descriptive
// statistics in one round, a GLM by iteratively reweighted least squares
// in which every owner returns, per iteration, only X'WX, X'Wz, its
// deviance and its row count at the coefficients it was sent. The result
// lists every owner's signed contribution, so anyone can verify it later
// (Verify) without asking the owners again.
//
// Two analyses run a program on the owner's rows, in its sandbox
// (modules.go): an evaluation ("evaluate") runs a model's predictor, whose
// scores never leave — the owner's node computes and signs only the
// metrics of package evaluation, which the researcher's node pools — and a
// module run ("module") runs an analysis program whose output is checked
// against its declared schema (modschema.go) before it is signed. Either
// program must be one the registry holds for the request's project,
// approved by the owner, and the bytes sent must have the SHA-256 the
// signed query names.
//
// Wire: /xborder/analysis/1.0.0, one length-prefixed JSON frame each way
// per round (internal/frame).
package analysis
