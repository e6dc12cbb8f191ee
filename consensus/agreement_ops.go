package consensus

import (
	"crypto/ed25519"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/agreement"
)

// Registry operations on model-sharing agreements.
const (
	// OpAgreementCommit stores an agreement every party signed.
	OpAgreementCommit = "agreement.commit"
	// OpAgreementRevoke ends an agreement; any party may.
	OpAgreementRevoke = "agreement.revoke"
)

// Agreement statuses in the registry. An active agreement past its
// valid_until is reported as expired by readers; the FSM has no clock.
const (
	AgreementActive  = "active"
	AgreementRevoked = "revoked"
	AgreementExpired = "expired"
)

// AgreementCommit is the argument of agreement.commit.
type AgreementCommit struct {
	Document SignedAgreement `json:"document"`
}

// AgreementRevocation is the argument of agreement.revoke.
type AgreementRevocation struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

// AgreementRecord is a committed agreement as every member holds it: the
// terms, the signed document and what happened to it since.
type AgreementRecord struct {
	Agreement
	Document    SignedAgreement `json:"document"`
	Status      string          `json:"status"` // active or revoked
	CommittedBy string          `json:"committed_by"`
	Committed   int64           `json:"committed"` // ts of the commit, Unix ms
	RevokedBy   string          `json:"revoked_by,omitempty"`
	Revoked     int64           `json:"revoked,omitempty"` // ts of the revocation, Unix ms
	Reason      string          `json:"revoke_reason,omitempty"`
}

// StatusAt is the status a reader reports at t: revoked, expired, not yet
// in force ("pending") or active.
func (r AgreementRecord) StatusAt(t time.Time) string {
	switch {
	case r.Status == AgreementRevoked:
		return AgreementRevoked
	case !t.Before(r.ValidUntil):
		return AgreementExpired
	case t.Before(r.ValidFrom):
		return "pending"
	}
	return AgreementActive
}

// Authorises reports whether the agreement lets its parties use the model
// at t: committed, not revoked, in force.
func (r AgreementRecord) Authorises(t time.Time) bool { return r.StatusAt(t) == AgreementActive }

var bAgreements = []byte("agreements")

// runAgreementOp applies the agreement operations; handled is false for
// any other operation.
func runAgreementOp(tx *bolt.Tx, c Command, by Member) (handled bool, err error) {
	switch c.Op {
	case OpAgreementCommit:
		var a AgreementCommit
		if err := decodeArgs(c, &a); err != nil {
			return true, err
		}
		return true, commitAgreement(tx, c, by, a)
	case OpAgreementRevoke:
		var a AgreementRevocation
		if err := decodeArgs(c, &a); err != nil {
			return true, err
		}
		return true, revokeAgreement(tx, c, by, a)
	}
	return false, nil
}

func commitAgreement(tx *bolt.Tx, c Command, by Member, arg AgreementCommit) error {
	keyOf := func(name string) (ed25519.PublicKey, bool) {
		m, err := get[Member](tx, bMembers, name)
		if err != nil {
			return nil, false
		}
		return MemberKey(m)
	}
	a, err := agreement.Verify(arg.Document, keyOf)
	if err != nil {
		return reject(c.Op, "%v", err)
	}
	if !a.HasParty(by.Name) {
		return reject(c.Op, "%s is not a party to agreement %s; only a party commits it", by.Name, a.ID)
	}
	if _, err := get[AgreementRecord](tx, bAgreements, a.ID); err == nil {
		return rejectCode(c.Op, codeExists, "agreement %s already exists", a.ID)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return put(tx, bAgreements, a.ID, AgreementRecord{Agreement: a, Document: arg.Document, Status: AgreementActive,
		CommittedBy: by.Name, Committed: c.TS})
}

func revokeAgreement(tx *bolt.Tx, c Command, by Member, arg AgreementRevocation) error {
	if len(arg.Reason) > maxConditions {
		return reject(c.Op, "the reason is %d bytes, over %d", len(arg.Reason), maxConditions)
	}
	r, err := get[AgreementRecord](tx, bAgreements, arg.ID)
	if errors.Is(err, ErrNotFound) {
		return reject(c.Op, "no agreement %q", arg.ID)
	} else if err != nil {
		return err
	}
	if !r.HasParty(by.Name) {
		return reject(c.Op, "%s is not a party to agreement %s; only a party revokes it", by.Name, r.ID)
	}
	if r.Status == AgreementRevoked {
		return reject(c.Op, "agreement %s was already revoked by %s", r.ID, r.RevokedBy)
	}
	r.Status, r.RevokedBy, r.Revoked, r.Reason = AgreementRevoked, by.Name, c.TS, arg.Reason
	return put(tx, bAgreements, r.ID, r)
}

// Agreements lists the committed agreements.
func (r *Registry) Agreements() ([]AgreementRecord, error) {
	var out []AgreementRecord
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = list[AgreementRecord](tx, bAgreements)
		return err
	})
	return out, err
}

// Agreement returns one committed agreement, or an error wrapping
// ErrNotFound.
func (r *Registry) Agreement(id string) (AgreementRecord, error) {
	var a AgreementRecord
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		a, err = get[AgreementRecord](tx, bAgreements, id)
		return err
	})
	return a, err
}
