package exchange

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xborder/xborder/internal/frame"
)

// Errors of the request → grant → transfer protocols, grouped so that
// callers see in one place what they can branch on.
var (
	// ErrServiceClosed is returned once Close has begun.
	ErrServiceClosed = errors.New("the exchange service is closed")
	// ErrRefused is wrapped by every *RefusedError: the owner would not
	// answer the request or serve the transfer.
	ErrRefused = errors.New("refused by the owner")
	// ErrInvalidGrant is wrapped when a grant does not verify, names
	// another node or dataset, or has expired — before it is sent.
	ErrInvalidGrant = errors.New("invalid grant")
	// ErrGrantExpired is wrapped when a grant expires before it is used,
	// or before the transfer it started completes.
	ErrGrantExpired = errors.New("the grant has expired")
	// ErrTransferRunning is returned by Fetch while another job already
	// downloads the same dataset (both would append to one partial file).
	ErrTransferRunning = errors.New("a transfer of this dataset is already running")
	// ErrMessageTooLarge is wrapped when a peer announces a frame over
	// the configured cap; the stream is reset without reading it.
	ErrMessageTooLarge = frame.ErrTooLarge
	// ErrReplay is returned by the nonce store for a jti it has seen.
	ErrReplay = errors.New("request already seen (replay)")
	// ErrBadName is wrapped when a member name cannot be used as a
	// directory name under the downloads directory.
	ErrBadName = errors.New("not a valid member name")
	// ErrBadID is wrapped when a dataset or model ID breaks the rule of
	// ValidateID.
	ErrBadID = errors.New("not a valid dataset or model ID")
	// ErrOwnResource is wrapped when a node is asked to request or fetch
	// one of its own entries.
	ErrOwnResource = errors.New("the entry belongs to this node")
	// ErrAuditUnavailable is wrapped when this node's audit trail cannot
	// be written: an action whose record cannot be kept does not happen.
	ErrAuditUnavailable = errors.New("the audit trail cannot be written; the node refuses to act until it can")
)

// RefusalCode says why an owner refused, in a form requesters branch on
// (the Reason next to it is for people).
type RefusalCode string

// Refusal codes carried on the wire. A requester retries only RefusalBusy.
const (
	RefusalNotMember    RefusalCode = "not_member"    // the remote peer is not a federation member
	RefusalBadToken     RefusalCode = "bad_token"     // malformed, badly signed, or issued by/for another peer
	RefusalExpired      RefusalCode = "expired"       // the request JWT is expired or not valid yet
	RefusalReplay       RefusalCode = "replay"        // the request's jti was seen before
	RefusalBadGrant     RefusalCode = "bad_grant"     // the grant is malformed or not signed by this owner
	RefusalGrantExpired RefusalCode = "grant_expired" // the grant has expired
	RefusalWrongPeer    RefusalCode = "wrong_peer"    // the grant was issued to another peer
	RefusalWrongDataset RefusalCode = "wrong_dataset" // the grant is for another dataset, or the dataset changed or left
	RefusalBadOffset    RefusalCode = "bad_offset"    // the resume offset is outside the blob
	RefusalBusy         RefusalCode = "busy"          // too many concurrent transfers for this peer; retry later
	RefusalUnavailable  RefusalCode = "unavailable"   // the owner cannot read the blob
	RefusalInternal     RefusalCode = "internal"      // the owner failed (policy evaluation, storage)
	// RefusalAgreementEnded: the model-sharing agreement a grant names was
	// revoked or expired.
	RefusalAgreementEnded RefusalCode = "agreement_ended"
	// RefusalProjectClosed: the joint project a grant was issued within
	// is closed, or no longer in the registry.
	RefusalProjectClosed RefusalCode = "project_closed"
	// RefusalNotAPartner: the requester is not (or no longer) a partner of
	// the joint project the grant was issued within.
	RefusalNotAPartner RefusalCode = "not_a_partner"
	// RefusalAuditUnavailable: the owner cannot write its audit trail, so
	// it neither decides nor serves until it can (a requester may retry).
	RefusalAuditUnavailable RefusalCode = "audit_unavailable"
	// RefusalRegistryBehind: the owner's registry replica is older than
	// it was before a restart, so it neither decides nor serves until it
	// has caught up (a requester may retry).
	RefusalRegistryBehind RefusalCode = "registry_catching_up"
)

// RefusedError is an owner's refusal. It wraps ErrRefused.
type RefusedError struct {
	Code   RefusalCode
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused by the owner (%s): %s", e.Code, e.Reason)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// Is makes an owner's refusal for want of an audit trail match
// ErrAuditUnavailable, as this node's own failure does.
func (e *RefusedError) Is(target error) bool {
	return target == ErrAuditUnavailable && e.Code == RefusalAuditUnavailable
}

// refusef builds a refusal with a formatted reason.
func refusef(code RefusalCode, format string, args ...any) *RefusedError {
	return &RefusedError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// IntegrityError is a completed transfer whose content does not hash to
// the SHA-256 the grant promised. The partial file has been deleted.
type IntegrityError struct {
	Owner   string
	Dataset string
	Want    string // SHA-256 in the grant
	Got     string // SHA-256 of what arrived
	Size    int64  // bytes that arrived
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("%s/%s: received %d bytes with SHA-256 %s, the grant promises %s; the download was discarded",
		e.Owner, e.Dataset, e.Size, e.Got, e.Want)
}

// ValidationError is input a caller gave that cannot be used: a
// publication, an agreement, an ID, a request. The caller corrects it; an
// API answers it 400 with the problems.
type ValidationError struct {
	// What was invalid, for the message ("agreement"); empty means a
	// catalogue entry.
	What     string
	Problems []string
	// Err, when set, is a sentinel callers branch on (ErrBadID).
	Err error
}

func (e *ValidationError) Error() string {
	what := e.What
	if what == "" {
		what = "catalogue entry"
	}
	return "invalid " + what + ": " + strings.Join(e.Problems, "; ")
}

func (e *ValidationError) Unwrap() error { return e.Err }
