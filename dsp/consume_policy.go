package dsp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/xborder/xborder/policy"
)

// ConsumerPolicy decides whether a local researcher may take a dataset
// from another provider (data.xborder.dataspace.decision).
type ConsumerPolicy interface {
	Dataspace(ctx context.Context, in policy.DataspaceInput) (policy.Decision, error)
}

// decideConsume asks this node's own policy whether its researcher may
// take d from p under offer o for the purpose; the decision is recorded
// before anything is sent, and a refusal names the policy's reasons.
func (s *Service) decideConsume(ctx context.Context, p Participant, d Dataset, o Offer, req NegotiateRequest) error {
	if s.d.ConsumerPolicy == nil {
		return consumerRefusal(http.StatusForbidden, CodeDenied, "This node takes nothing from a dataspace: it has no consumer policy.")
	}
	var offer map[string]any
	if raw, err := json.Marshal(o); err == nil {
		_ = json.Unmarshal(raw, &offer)
	}
	in := policy.DataspaceInput{
		Researcher: req.Researcher,
		Provider:   policy.DataspaceProvider{ID: p.ID, Country: p.Country, Org: p.Org, URL: p.Address},
		Dataset: policy.DataspaceDataset{ID: d.ID, Title: d.Title, Description: d.Description, Keywords: nonNil(d.Keyword),
			Themes: iris(d.Theme), License: iri(d.License), Publisher: iri(d.Publisher)},
		Offer: offer, Purpose: req.Purpose, Self: s.d.Self, Time: s.now().UTC(),
	}
	dec, err := s.d.ConsumerPolicy.Dataspace(ctx, in)
	if errors.Is(err, policy.ErrNoDecision) {
		dec, err = policy.Decision{Reasons: []string{"This node's policy has no data.xborder.dataspace.decision, so it takes nothing from a dataspace."}, Rules: []string{"no_decision"}}, nil
	}
	if err != nil {
		return consumerRefusal(http.StatusServiceUnavailable, CodePolicyFailed, "This node's policy could not decide: %v", err)
	}
	if err := s.d.Recorder.Record("dsp.consumer.decision", req.Researcher.Sub+" <- "+p.ID, map[string]any{
		"provider": p.ID, "dataset": d.ID, "offer": o.ID, "purpose": req.Purpose, "researcher": req.Researcher.Sub,
		"allow": dec.Allow, "reasons": dec.Reasons, "rules": dec.Rules, "bundle": dec.Bundle,
	}); err != nil {
		return consumerRefusal(http.StatusServiceUnavailable, CodeAuditFailed, "The decision could not be recorded, so nothing is asked: %v", err)
	}
	if !dec.Allow {
		return &ConsumerError{Status: http.StatusForbidden, Code: CodeDenied, Reasons: dec.Reasons}
	}
	return nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func iris(v []IRI) []string {
	out := make([]string, 0, len(v))
	for _, x := range v {
		out = append(out, strings.TrimSpace(x.ID))
	}
	return out
}

func iri(v *IRI) string {
	if v == nil {
		return ""
	}
	return v.ID
}
