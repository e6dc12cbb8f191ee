package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// memAgreements answers proposals from a fixed set of party states.
type memAgreements struct{ parties []exchange.PartyState }

func (m memAgreements) ProposeAgreement(_ context.Context, a consensus.Agreement) (AgreementView, error) {
	d := exchange.Draft{Agreement: a, Parties: m.parties}
	v := AgreementView{Agreement: a, PartyStates: m.parties, Status: AgreementNegotiating}
	if len(d.Refusals()) > 0 {
		v.Status = AgreementRefused
		return v, &exchange.AgreementRefusedError{Draft: d}
	}
	return v, nil
}
func (memAgreements) SignAgreement(_ context.Context, id string) (AgreementView, error) {
	return AgreementView{}, errors.New("agreement " + id + ": " + exchange.ErrNoDraft.Error())
}
func (memAgreements) RevokeAgreement(context.Context, string, string) (AgreementView, error) {
	return AgreementView{}, &policy.DeniedError{Point: policy.RegistryDecision, Decision: policy.Decision{
		Reasons: []string{"Your node is not a party."}, Rules: []string{"not_party"}}}
}
func (memAgreements) Agreements(context.Context) ([]AgreementView, uint64, error) { return nil, 3, nil }
func (memAgreements) Agreement(_ context.Context, id string) (AgreementView, uint64, error) {
	return AgreementView{}, 3, fmt.Errorf("agreement %s: %w", id, consensus.ErrNotFound)
}

func TestAgreementProposalAnswers(t *testing.T) {
	accepts := &policy.Decision{Allow: true}
	refuses := &policy.Decision{Reasons: []string{"Basel signs for one year at most."}, Rules: []string{"basel_one_year_at_most"}}
	for name, c := range map[string]struct {
		parties []exchange.PartyState
		code    int
		denied  bool
		reason  string
	}{
		"every party accepts": {[]exchange.PartyState{{Member: "fr-grandest", Decision: accepts}, {Member: "ch-basel", Decision: accepts}}, http.StatusCreated, false, ""},
		"a party refuses":     {[]exchange.PartyState{{Member: "fr-grandest", Decision: accepts}, {Member: "ch-basel", Decision: refuses}}, http.StatusForbidden, true, "ch-basel: Basel signs for one year at most."},
		"a party unreachable": {[]exchange.PartyState{{Member: "fr-grandest", Decision: accepts}, {Member: "ch-basel", Error: "no route"}}, http.StatusBadGateway, false, "ch-basel could not be asked: no route"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.server.agreements = memAgreements{parties: c.parties}
			body, _ := json.Marshal(AgreementProposal{ID: "seg", Model: "fr-grandest/m", Parties: []string{"fr-grandest", "ch-basel"},
				Purposes: []string{"research"}, ValidUntil: time.Now().AddDate(1, 0, 0)})
			req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/v1/agreements", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+f.token(t, RoleOperator, time.Hour))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got AgreementRefusal
			_ = json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != c.code || got.Denied != c.denied || (c.reason != "" && !strings.Contains(strings.Join(got.Reasons, "|"), c.reason)) {
				t.Fatalf("status %d, answer %+v", resp.StatusCode, got)
			}
		})
	}
}
