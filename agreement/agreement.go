// Package agreement holds the model-sharing agreement document: the terms
// every party signs, their canonical bytes, and the JWS JSON document that
// carries one EdDSA signature per party. It is a leaf: the registry
// (consensus) verifies and stores the document, the exchange negotiates
// it, and neither depends on the other for it.
//
// # Caveats
//
//   - The canonical form is the signed text: changing a field name, its
//     order or the encoding of times breaks every signature the registry
//     holds.
//   - Validate is applied by every registry replica; it must stay
//     deterministic and free of clocks.
package agreement

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Agreement is the text of a model-sharing agreement: what every party
// signs. Its canonical form (Canonical) is the JSON encoding of the
// normalised value; parties sign those exact bytes, so a document changed
// after signing no longer verifies.
type Agreement struct {
	ID         string    `json:"id"`
	Model      string    `json:"model"`    // owner/id of the model's catalogue entry
	Parties    []string  `json:"parties"`  // member names, sorted
	Purposes   []string  `json:"purposes"` // sorted
	Conditions string    `json:"conditions"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	CreatedBy  string    `json:"created_by"` // the member that proposed it
	Created    time.Time `json:"created"`
}

// Limits on an agreement's text.
const (
	// MaxConditions bounds the conditions, and a revocation's reason.
	MaxConditions    = 8 << 10
	maxDocumentBytes = 64 << 10
	maxParties       = 64
)

// Member names and ids as the registry accepts them (consensus checks
// its own records with the same patterns).
var (
	idPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

// Normalize returns the agreement in canonical order and precision:
// parties and purposes sorted, times in UTC to the second.
func (a Agreement) Normalize() Agreement {
	a.Parties = slices.Sorted(slices.Values(a.Parties))
	a.Purposes = slices.Sorted(slices.Values(a.Purposes))
	a.ValidFrom = a.ValidFrom.UTC().Truncate(time.Second)
	a.ValidUntil = a.ValidUntil.UTC().Truncate(time.Second)
	a.Created = a.Created.UTC().Truncate(time.Second)
	return a
}

// Canonical is the byte string every party signs.
func (a Agreement) Canonical() []byte {
	raw, _ := json.Marshal(a.Normalize()) // a struct of strings and times always encodes
	return raw
}

// ModelOwner is the member that owns the model.
func (a Agreement) ModelOwner() string {
	owner, _, _ := strings.Cut(a.Model, "/")
	return owner
}

// HasParty reports whether name is a party.
func (a Agreement) HasParty(name string) bool { return slices.Contains(a.Parties, name) }

// InForce reports whether the agreement authorises at t (revocation aside).
func (a Agreement) InForce(t time.Time) bool {
	return !t.Before(a.ValidFrom) && t.Before(a.ValidUntil)
}

// Validate checks what every member checks the same way before storing an
// agreement; the parties' own policies judge the rest.
func (a Agreement) Validate() error {
	switch {
	case !idPattern.MatchString(a.ID):
		return fmt.Errorf("agreement id %q must be lower-case letters, digits, '.', '_' or '-' (at most 64)", a.ID)
	case !validRef(a.Model):
		return fmt.Errorf("model %q must be OWNER/ID", a.Model)
	case len(a.Parties) < 2:
		return errors.New("an agreement needs at least two parties")
	case len(a.Parties) > maxParties:
		return fmt.Errorf("an agreement has at most %d parties", maxParties)
	case len(a.Purposes) == 0:
		return errors.New("an agreement names at least one purpose")
	case len(a.Conditions) > MaxConditions:
		return fmt.Errorf("conditions are %d bytes, over %d", len(a.Conditions), MaxConditions)
	case a.ValidFrom.IsZero() || a.ValidUntil.IsZero():
		return errors.New("valid_from and valid_until are required")
	case !a.ValidUntil.After(a.ValidFrom):
		return fmt.Errorf("valid_until %s is not after valid_from %s", a.ValidUntil.Format(time.RFC3339), a.ValidFrom.Format(time.RFC3339))
	}
	seen := map[string]bool{}
	for _, p := range a.Parties {
		if !namePattern.MatchString(p) {
			return fmt.Errorf("party %q is not a member name", p)
		}
		if seen[p] {
			return fmt.Errorf("party %s is named twice", p)
		}
		seen[p] = true
	}
	for _, p := range a.Purposes {
		if p == "" || len(p) > 64 {
			return fmt.Errorf("purpose %q must be 1 to 64 characters", p)
		}
	}
	if !a.HasParty(a.ModelOwner()) {
		return fmt.Errorf("the model's owner %s is not a party", a.ModelOwner())
	}
	if !a.HasParty(a.CreatedBy) {
		return fmt.Errorf("the proposer %s is not a party", a.CreatedBy)
	}
	return nil
}

func validRef(ref string) bool {
	owner, id, ok := strings.Cut(ref, "/")
	return ok && namePattern.MatchString(owner) && idPattern.MatchString(id)
}
