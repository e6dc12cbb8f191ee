package policy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// researchOffer is an ODRL offer as a DSP provider's catalogue carries it,
// decoded as the node decodes what it receives.
func researchOffer(t *testing.T) map[string]any {
	t.Helper()
	var offer map[string]any
	err := json.Unmarshal([]byte(`{"@id": "urn:uuid:offer-1", "@type": "Offer",
		"permission": [{"action": "use", "constraint": [
			{"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": ["research", "statistics"]}]}]}`), &offer)
	if err != nil {
		t.Fatal(err)
	}
	return offer
}

func commuterFlows(t *testing.T) DataspaceInput {
	return DataspaceInput{
		Researcher: Researcher{Sub: "alice@unistra.fr", Org: "Université de Strasbourg", Role: "researcher"},
		Provider: DataspaceProvider{ID: "did:web:dataspace.acme-mobility.example", Country: "DE", Org: "ACME Mobility GmbH",
			URL: "https://connector.acme-mobility.example/dsp"},
		Dataset: DataspaceDataset{ID: "urn:uuid:3afeadd8", Title: "Cross-border commuter flows 2025",
			Themes: []string{"http://publications.europa.eu/resource/authority/data-theme/TRAN"}, Keywords: []string{"mobility"}},
		Offer:   researchOffer(t),
		Purpose: "research",
		Self:    Node{Node: "fr-grandest", Country: "FR", Org: "Région Grand Est"},
		Time:    time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	}
}

// The shipped consumer policy, from the plan and by topdown: a researcher
// takes data for a purpose the offer admits from a provider in the EU; a
// purpose the offer does not admit, a role that takes no data, a provider
// outside the EU/EEA and adequacy, and a request without an offer are
// refused, each with its rule and sentence.
func TestDataspaceDecisionsOfTheShippedPolicy(t *testing.T) {
	ctx := context.Background()
	for _, ev := range []string{EvaluatorPlan, EvaluatorTopdown} {
		t.Run(ev, func(t *testing.T) {
			e, err := NewEngine(ctx, "../policies", nil, WithEvaluator(ev))
			t.Cleanup(func() { closeEngine(e) })
			if err != nil {
				t.Fatal(err)
			}
			e.Bundle().Plan(ctx)
			if got := e.Info().Evaluator; (got == "plan") != (ev == EvaluatorPlan) {
				t.Fatalf("evaluator %q, want %s", got, ev)
			}
			in := commuterFlows(t)
			d, err := e.Dataspace(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allow || !slices.Equal(d.Rules, []string{"consumer_role", "offer_admits_purpose", "provider_eu_eea", "purpose_in_vocabulary"}) ||
				d.MaxValidity != 90*24*time.Hour || d.Bundle != e.Info().Hash ||
				!slices.Contains(d.Obligations, `Use the data only for the purpose "research" named in the contract agreement.`) {
				t.Fatalf("allowed request: %+v", d)
			}

			refusals := []struct {
				name   string
				change func(*DataspaceInput)
				rules  []string
			}{
				{"purpose the offer excludes", func(in *DataspaceInput) { in.Purpose = "industrial-rd" }, []string{"offer_purpose_excluded"}},
				{"purpose outside the vocabulary", func(in *DataspaceInput) { in.Purpose = "marketing"; in.Offer = map[string]any{} },
					[]string{"unknown_purpose"}},
				{"legal team", func(in *DataspaceInput) { in.Researcher.Role = "legal" }, []string{"role_not_permitted"}},
				{"provider outside adequacy", func(in *DataspaceInput) { in.Provider.Country = "IN" }, []string{"provider_not_adequate"}},
				{"provider of no known country", func(in *DataspaceInput) { in.Provider.Country = "" }, []string{"provider_not_adequate"}},
				{"no offer", func(in *DataspaceInput) { in.Offer = nil }, []string{"offer_missing"}},
				{"no provider", func(in *DataspaceInput) { in.Provider.ID = "" }, []string{"provider_missing"}},
			}
			for _, tc := range refusals {
				in := commuterFlows(t)
				tc.change(&in)
				d, err := e.Dataspace(ctx, in)
				if err != nil || d.Allow || !slices.Equal(d.Rules, tc.rules) || len(d.Reasons) != len(tc.rules) ||
					d.MaxValidity != 0 || len(d.Obligations) != 0 {
					t.Errorf("%s: %+v %v, want a refusal by %v", tc.name, d, err, tc.rules)
				}
			}
		})
	}
}

// A region's policy written before data.xborder.dataspace.decision existed
// still loads, is planned and decides everything else; it takes nothing
// from a dataspace and says why.
func TestAPolicyWithoutTheDataspacePointTakesNothing(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "../policies")
	for _, f := range []string{"dataspace.rego", "dataspace_test.rego"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatalf("a policy without the dataspace point: %v", err)
	}
	if e.Bundle().Defines(DataspaceDecision) {
		t.Fatal("the bundle defines the dataspace point without dataspace.rego")
	}
	check := func() {
		t.Helper()
		d, err := e.Dataspace(ctx, commuterFlows(t))
		if err != nil || d.Allow || !slices.Equal(d.Rules, []string{NoDataspacePolicyRule}) ||
			!strings.Contains(d.Reasons[0], "no data.xborder.dataspace.decision rule") || d.Bundle != e.Info().Hash ||
			d.Obligations == nil {
			t.Fatalf("dataspace without the point: %+v %v", d, err)
		}
	}
	check()
	e.Bundle().Plan(ctx)
	if ev := e.Bundle().Evaluator(); ev != "plan" {
		t.Fatalf("a policy without the optional point is still planned: %s", ev)
	}
	check()
	if ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "researcher"}, Method: "POST", Path: "/v1/dsp/negotiations"}); err != nil || !ok {
		t.Fatalf("the other points still decide: %v %v", ok, err)
	}
}

// A dataspace point that is undefined for an input (a legal team's rule
// with no else) is ErrNoDecision: the caller refuses.
func TestUndefinedDataspaceDecisionIsAnError(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "dataspace.rego", "package xborder.dataspace\n\ndecision := {\"allow\": true} if input.purpose == \"research\"\n")
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	in := commuterFlows(t)
	if d, err := e.Dataspace(ctx, in); err != nil || !d.Allow {
		t.Fatalf("defined: %+v %v", d, err)
	}
	in.Purpose = "statistics"
	d, err := e.Dataspace(ctx, in)
	if !errors.Is(err, ErrNoDecision) || d.Allow {
		t.Fatalf("undefined: %+v %v, want ErrNoDecision and no allow", d, err)
	}
}

// Purposes is the vocabulary of the active bundle, sorted, and follows a
// reload.
func TestPurposesAreTheActiveVocabulary(t *testing.T) {
	ctx := context.Background()
	shipped, err := NewEngine(ctx, "../policies", nil)
	t.Cleanup(func() { closeEngine(shipped) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"education", "industrial-rd", "public-health", "research", "statistics"}
	if got := shipped.Purposes(); !slices.Equal(got, want) {
		t.Fatalf("shipped purposes %v, want %v", got, want)
	}

	dir := copyDir(t, "testdata/minimal")
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Purposes(); !slices.Equal(got, []string{"research", "statistics"}) {
		t.Fatalf("minimal purposes %v", got)
	}
	write(t, filepath.Join(dir, "data"), "purposes.json",
		`{"purposes": {"statistics": {}, "environmental-monitoring": {"research": false}, "research": {}}}`)
	if _, err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Purposes(); !slices.Equal(got, []string{"environmental-monitoring", "research", "statistics"}) {
		t.Fatalf("purposes after reload %v", got)
	}
	// A vocabulary of another shape gives none: no purpose, no offer.
	write(t, filepath.Join(dir, "data"), "purposes.json", `{"purposes": ["research"]}`)
	if _, err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Purposes(); got == nil || len(got) != 0 {
		t.Fatalf("purposes of a list %#v, want an empty list", got)
	}
}

// A provider derives the offers of an entry for a participant of a
// dataspace by asking data.xborder.exchange.decision once per purpose of
// the vocabulary: open data gives one offer per purpose, for 30 days;
// restricted data none for a participant outside the EU/EEA and adequacy;
// personal health data none, each refusal saying why. The catalogue shows
// a participant what it shows the public.
func TestParticipantOffersArePerPurposeExchangeDecisions(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, "../policies", nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	e.Bundle().Plan(ctx)
	acme := Requester{Node: Node{Node: "did:web:dataspace.acme-mobility.example", Country: "DE", Org: "ACME Mobility GmbH", External: true}}
	self := Node{Node: "fr-grandest", Country: "FR", Org: "Région Grand Est"}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	offers := func(requester Requester, res Resource) (allowed []string, refusals map[string]bool) {
		refusals = map[string]bool{}
		for _, p := range e.Purposes() {
			d, err := e.Exchange(ctx, ExchangeInput{Requester: requester, Resource: res, Purpose: p, Self: self, Time: now})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow {
				if d.MaxValidity != 30*24*time.Hour {
					t.Fatalf("%s for %s: validity %v, want 30 days", res.ID, p, d.MaxValidity)
				}
				allowed = append(allowed, p)
				continue
			}
			for _, r := range d.Rules {
				refusals[r] = true
			}
		}
		return allowed, refusals
	}
	air := Resource{Kind: "dataset", ID: "air-quality-2025", Owner: "fr-grandest", Theme: "bioeconomy", Classification: "open"}
	if got, _ := offers(acme, air); !slices.Equal(got, e.Purposes()) {
		t.Fatalf("open data: offers for %v, want every purpose", got)
	}
	steel := Resource{Kind: "dataset", ID: "steel-sensors-2025", Owner: "fr-grandest", Theme: "industry", Classification: "restricted"}
	if got, _ := offers(acme, steel); !slices.Equal(got, e.Purposes()) {
		t.Fatalf("restricted data in Germany: offers for %v", got)
	}
	far := acme
	far.Country = "IN"
	if got, why := offers(far, steel); len(got) != 0 || !why["transfer_not_adequate"] {
		t.Fatalf("restricted data outside adequacy: offers for %v, refusals %v", got, why)
	}
	icu := Resource{Kind: "dataset", ID: "icu-admissions-2025", Owner: "fr-grandest", Theme: "health",
		Classification: "sensitive", PersonalData: true}
	if got, why := offers(acme, icu); len(got) != 0 || !why["special_data_members_only"] {
		t.Fatalf("personal health data: offers for %v, refusals %v", got, why)
	}
	// The same without "external" is a member, who gets open data for
	// 90 days: the flag, not the id, decides.
	member := acme
	member.External = false
	if d, err := e.Exchange(ctx, ExchangeInput{Requester: member, Resource: air, Purpose: "research", Self: self, Time: now}); err != nil ||
		!d.Allow || d.MaxValidity != 90*24*time.Hour {
		t.Fatalf("member: %+v %v", d, err)
	}

	for _, tc := range []struct {
		entry CatalogueEntry
		want  bool
	}{
		{CatalogueEntry{ID: "air", Owner: "fr-grandest", Classification: "open"}, true},
		{CatalogueEntry{ID: "icu", Owner: "fr-grandest", Classification: "sensitive", PublicListing: true}, true},
		{CatalogueEntry{ID: "icu", Owner: "fr-grandest", Classification: "sensitive"}, false},
		{CatalogueEntry{ID: "battery", Owner: "fr-grandest", Classification: "confidential", PublicListing: true,
			Partners: []string{acme.Node.Node}}, false},
	} {
		ok, err := e.CatalogueVisible(ctx, CatalogueInput{Requester: acme.Node, Entry: tc.entry})
		if err != nil || ok != tc.want {
			t.Errorf("catalogue %+v for a participant: %v %v, want %v", tc.entry, ok, err, tc.want)
		}
	}
}
