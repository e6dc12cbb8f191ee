package dsp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xborder/xborder/policy"
)

// ODRL terms this node writes beyond the protocol's context.
const (
	// LeftPurpose is the ODRL left operand of a purpose constraint.
	LeftPurpose = "purpose"
	// LeftElapsedTime bounds how long an agreement authorises use.
	LeftElapsedTime = "elapsedTime"
	// ActionUse is the permission every offer grants.
	ActionUse = "use"
	// ActionObligation is the action of a duty that carries one of the
	// policy's obligations as a sentence.
	ActionObligation = "urn:xborder:odrl:obligation"
	// offerPrefix starts every offer ID this node makes.
	offerPrefix = "urn:xborder:offer:"
	// onRequest is the purpose part of the offer made for an entry that no
	// purpose is granted for at once.
	onRequest = "on-request"
)

// offerTerms is one offer as derived from the policy, with what the
// negotiation needs to decide it again.
type offerTerms struct {
	Offer   Offer
	Purpose string // "" for the on-request offer
	// Purposes are those the on-request offer names.
	Purposes []string
	Decision policy.Decision
}

// requester is how the policy sees a participant.
func (s *Service) requester(p Participant) policy.Requester {
	return policy.Requester{Node: policy.Node{Node: p.ID, Country: p.Country, Org: p.Org, External: true}}
}

// exchangeInput is the exchange decision's input for a participant,
// an entry and a purpose.
func (s *Service) exchangeInput(p Participant, e Entry, purpose string, now time.Time) policy.ExchangeInput {
	res := e.Resource
	if res.Partners == nil {
		res.Partners = []string{}
	}
	return policy.ExchangeInput{
		Requester:  s.requester(p),
		Resource:   res,
		Purpose:    purpose,
		Agreements: []policy.Agreement{},
		Self:       s.d.Self,
		Time:       now.UTC(),
	}
}

// visible asks data.xborder.catalogue.visible whether p may see e; a
// policy failure hides the entry (fail closed).
func (s *Service) visible(ctx context.Context, p Participant, e Entry) bool {
	in := policy.CatalogueInput{Requester: s.requester(p).Node, Entry: e.Visibility}
	if in.Entry.Partners == nil {
		in.Entry.Partners = []string{}
	}
	ok, err := s.d.Policy.CatalogueVisible(ctx, in)
	if err != nil {
		s.log.Error("catalogue policy failed; the entry stays hidden", "entry", e.ID, "participant", p.ID, "err", err)
		return false
	}
	return ok
}

// offers derives the offers p is made for e: one per purpose the owner's
// exchange decision grants p, with the validity and obligations it
// states; when it grants none, one offer "on request" naming the
// vocabulary, so the consumer sees what it may ask and a negotiation of
// it is answered with the policy's reasons.
func (s *Service) offers(ctx context.Context, p Participant, e Entry) ([]offerTerms, error) {
	now := s.now()
	var out []offerTerms
	purposes := s.d.Policy.Purposes()
	for _, purpose := range purposes {
		d, err := s.d.Policy.Exchange(ctx, s.exchangeInput(p, e, purpose, now))
		if err != nil {
			return nil, err
		}
		if !d.Allow {
			continue
		}
		rule := Rule{Action: ActionUse, Constraint: []Constraint{{LeftOperand: LeftPurpose, Operator: "eq", RightOperand: purpose}}}
		if d.MaxValiditySeconds > 0 {
			rule.Constraint = append(rule.Constraint, Constraint{LeftOperand: LeftElapsedTime, Operator: "lteq", RightOperand: isoDuration(d.MaxValiditySeconds)})
		}
		o := Offer{ID: offerID(e.ID, purpose), Type: TypeOffer, Assigner: s.cfg.ParticipantID, Permission: []Rule{rule}}
		for _, ob := range d.Obligations {
			o.Obligation = append(o.Obligation, Rule{Action: ActionObligation, Description: ob})
		}
		out = append(out, offerTerms{Offer: o, Purpose: purpose, Decision: d})
	}
	if len(out) == 0 && len(purposes) > 0 {
		anyOf := make([]any, len(purposes))
		for i, p := range purposes {
			anyOf[i] = p
		}
		o := Offer{ID: offerID(e.ID, onRequest), Type: TypeOffer, Assigner: s.cfg.ParticipantID, Permission: []Rule{{
			Action: ActionUse, Constraint: []Constraint{{LeftOperand: LeftPurpose, Operator: "isAnyOf", RightOperand: anyOf}},
		}}}
		out = append(out, offerTerms{Offer: o, Purposes: purposes})
	}
	return out, nil
}

func offerID(entry, purpose string) string { return offerPrefix + entry + ":" + purpose }

// isoDuration writes seconds as an xsd:duration: whole days when it is.
func isoDuration(seconds int64) string {
	if seconds%86400 == 0 {
		return fmt.Sprintf("P%dD", seconds/86400)
	}
	return fmt.Sprintf("PT%dS", seconds)
}

// statedPurpose is the purpose a consumer's copy of an offer names with
// "purpose eq X", when it names exactly one.
func statedPurpose(o Offer) string {
	var found []string
	var walk func(cs []Constraint)
	walk = func(cs []Constraint) {
		for _, c := range cs {
			left := strings.TrimPrefix(strings.TrimPrefix(c.LeftOperand, "odrl:"), "http://www.w3.org/ns/odrl/2/")
			if left == LeftPurpose && c.Operator == "eq" {
				if v, ok := c.RightOperand.(string); ok {
					found = append(found, v)
				}
			}
			walk(c.And)
		}
	}
	for _, r := range o.Permission {
		walk(r.Constraint)
	}
	slices.Sort(found)
	found = slices.Compact(found)
	if len(found) == 1 {
		return found[0]
	}
	return ""
}
