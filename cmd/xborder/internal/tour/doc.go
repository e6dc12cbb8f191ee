// Package tour is the scripted walk through a running federation that
// `xborder demo` shows once its nodes are up: Basel registers a project
// that every replica reads, three regions publish datasets, a researcher
// is refused and then allowed within a joint project, Basel joins it, a
// model is shared under a signed agreement and revoked, three regions'
// synthetic cohorts are analysed together without a row leaving its owner
// (a model fit, a table with withheld cells, a refused differencing
// attempt, the fit verified from its signatures), and every audit trail
// is verified.
//
// The tour is a client of the nodes' local HTTP APIs and nothing else: it
// neither starts nor reads the nodes' processes or files (the launcher in
// cmd/xborder does). It reports each step on a Progress, as the prose
// people read or as one JSON object per line for programs
// (bench/startup reads the mesh time from it).
//
// # Waiting
//
// A step that needs another member to have seen a change waits on a
// condition the node signals, not on a clock: after a registry write it
// reads the other replica with ?index=N (a blocking read, held until that
// replica has applied N). What the API cannot signal — the first leader
// election, a partner's catalogue sync, a transfer's end — is retried by
// the one bounded backoff, Retry.
package tour
