package analysis

import (
	"errors"
	"fmt"
	"strings"
)

// RefusalCode says why an owner refused to answer, as opposed to its
// policy denying: the request could not be verified, does not fit the
// dataset, or would release what the disclosure rules forbid.
type RefusalCode string

// Refusal codes an owner answers with.
const (
	RefusalNotMember      RefusalCode = "not_member"
	RefusalBadToken       RefusalCode = "bad_token"
	RefusalReplay         RefusalCode = "replay"
	RefusalExpired        RefusalCode = "expired"
	RefusalRegistryBehind RefusalCode = "registry_behind"
	// RefusalBadQuery: the analysis does not fit the dataset (an unknown
	// column, a wrong type, a filter on the identifier, no dictionary).
	RefusalBadQuery RefusalCode = "bad_query"
	// RefusalDisclosure: releasing the result would break a disclosure
	// rule the owner's policy set (too few rows, too many parameters...).
	RefusalDisclosure RefusalCode = "disclosure"
	// RefusalDifferencing: the rows differ from those of an earlier result
	// released to the same member by fewer than the minimum subset, so the
	// difference of the two would describe a handful of people.
	RefusalDifferencing RefusalCode = "differencing"
	// RefusalSession: a GLM iteration for a session the owner does not
	// hold (expired, closed, or not this member's), or out of order.
	RefusalSession RefusalCode = "session"
	// RefusalModule: the program an evaluation or a module run would run
	// on the owner's data is not one it runs (not approved by the owner,
	// withdrawn, not the bytes the query names), it failed or broke a
	// limit of the sandbox, or its output does not pass its schema.
	RefusalModule   RefusalCode = "module"
	RefusalBusy     RefusalCode = "busy"
	RefusalAudit    RefusalCode = "audit_unavailable"
	RefusalInternal RefusalCode = "internal"
)

// RefusedError is an owner's refusal.
type RefusedError struct {
	Owner  string
	Code   RefusalCode
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Owner == "" {
		return fmt.Sprintf("refused (%s): %s", e.Code, e.Reason)
	}
	return fmt.Sprintf("%s refused (%s): %s", e.Owner, e.Code, e.Reason)
}

func refusef(code RefusalCode, format string, a ...any) *RefusedError {
	return &RefusedError{Code: code, Reason: fmt.Sprintf(format, a...)}
}

// ErrClosed is returned once the service is closing.
var ErrClosed = errors.New("the analysis service is closed")

// ErrAuditUnavailable is wrapped when this node cannot record the start
// of an analysis in its audit trail: it then asks no owner anything.
var ErrAuditUnavailable = errors.New("this node's audit trail is unavailable")

// ErrNotFound is wrapped when an analysis, member or dataset is unknown
// to the caller.
var ErrNotFound = errors.New("not found")

// IncompleteError is an analysis that did not complete because at least
// one region did not contribute: its policy denied, its node refused, or
// it could not be reached. No partial result is ever presented as the
// whole: the error lists every region's outcome.
type IncompleteError struct {
	Regions []RegionOutcome
}

func (e *IncompleteError) Error() string {
	var parts []string
	for _, r := range e.Regions {
		if r.State != StateDone {
			parts = append(parts, fmt.Sprintf("%s: %s", r.Dataset, r.Message()))
		}
	}
	return "the analysis is incomplete, so no result is given: " + strings.Join(parts, "; ")
}

// Denied reports whether some region's policy denied (rather than a node
// failing or refusing).
func (e *IncompleteError) Denied() bool {
	for _, r := range e.Regions {
		if r.State == StateDenied {
			return true
		}
	}
	return false
}
