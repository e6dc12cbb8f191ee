package exchange

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/agreement"
	"github.com/xborder/xborder/policy"
)

// PartyState is where one party stands on a draft, as far as this node
// knows.
type PartyState struct {
	Member string `json:"member"`
	// Decision is the party's policy answer, when this node heard it.
	Decision *policy.Decision `json:"decision,omitempty"`
	// Error says why the party could not be asked.
	Error  string `json:"error,omitempty"`
	Signed bool   `json:"signed"`
}

// Refused reports whether this party's policy said no or it could not be
// asked.
func (p PartyState) Refused() bool { return p.Error != "" || (p.Decision != nil && !p.Decision.Allow) }

// Draft is an agreement under negotiation, as this node holds it: at the
// proposer, every party's answer and every signature received; at another
// party, its own answer and signature.
type Draft struct {
	Agreement agreement.Agreement `json:"agreement"`
	Document  agreement.Signed    `json:"document"`
	Role      string              `json:"role"`
	Parties   []PartyState        `json:"parties"`
	Committed bool                `json:"committed"`
	Updated   time.Time           `json:"updated"`
}

func (d *Draft) party(name string) *PartyState {
	for i := range d.Parties {
		if d.Parties[i].Member == name {
			return &d.Parties[i]
		}
	}
	return nil
}

// Refusals lists the parties that refused or could not be asked.
func (d Draft) Refusals() []PartyState {
	var out []PartyState
	for _, p := range d.Parties {
		if p.Refused() {
			out = append(out, p)
		}
	}
	return out
}

// AgreementRefusedError is a proposal that at least one party's policy
// refused (or a party that could not be reached); the draft says who and
// why.
type AgreementRefusedError struct{ Draft Draft }

func (e *AgreementRefusedError) Error() string {
	var parts []string
	for _, p := range e.Draft.Refusals() {
		switch {
		case p.Error != "":
			parts = append(parts, fmt.Sprintf("%s could not be asked: %s", p.Member, p.Error))
		default:
			parts = append(parts, fmt.Sprintf("%s refused: %s", p.Member, strings.Join(p.Decision.Reasons, " ")))
		}
	}
	return fmt.Sprintf("agreement %s is not accepted by every party: %s", e.Draft.Agreement.ID, strings.Join(parts, "; "))
}

// Drafts lists the agreements under negotiation on this node.
func (g *Agreements) Drafts() ([]Draft, error) {
	var out []Draft
	err := g.s.db.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(exchangeAgreements).ForEach(func(_, raw []byte) error {
			var d Draft
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// Draft returns one draft held here.
func (g *Agreements) Draft(id string) (Draft, bool, error) { return g.load(id) }

func (g *Agreements) load(id string) (Draft, bool, error) {
	var d Draft
	var ok bool
	err := g.s.db.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(exchangeAgreements).Get([]byte(id))
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(raw, &d)
	})
	return d, ok, err
}

func (g *Agreements) store(d *Draft) error {
	d.Updated = g.s.now().UTC()
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return g.s.db.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(exchangeAgreements).Put([]byte(d.Agreement.ID), raw)
	})
}
