package policy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// toValue must give exactly the document OPA's JSON-based conversion
// gives, for every input type the engine takes.
func TestToValueMatchesJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 30, 0, 123456789, time.FixedZone("CET", 3600))
	project := &Project{ID: "fr-de-oncology", Title: "Oncology", Themes: []string{"health"}, Lead: "fr-grandest",
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/icu"}, EthicsRef: "CPP-1", Status: "active"}
	inputs := map[string]any{
		"exchange": ExchangeInput{
			Requester: Requester{Node: Node{Node: "de-bw", PeerID: "12D3Koo", Country: "DE"},
				Researcher: Researcher{Sub: "alice", Org: "Uni", Role: "researcher"}},
			Resource: Resource{Kind: "dataset", ID: "icu", Owner: "fr-grandest", Classification: "sensitive", PersonalData: true},
			Purpose:  "research", Project: project,
			Agreements: []Agreement{{ID: "a1", Model: "fr-grandest/seg", Parties: []string{"fr-grandest"}, ValidFrom: at, ValidUntil: at.Add(time.Hour), Status: "active"}},
			Self:       Node{Node: "fr-grandest", Country: "FR", Org: "Région"},
			Time:       at,
		},
		"exchange, nil project and slices": ExchangeInput{Time: time.Time{}},
		"catalogue":                        CatalogueInput{Requester: Node{Node: "ch-basel", Country: "CH"}, Entry: CatalogueEntry{ID: "x", Partners: []string{}}},
		"api":                              APIInput{User: APIUser{Sub: "op", Role: "operator"}, Method: "GET", Path: "/v1/status"},
		"registry": RegistryInput{
			Command: RegistryCommand{Op: "project.propose", Args: map[string]any{
				"id": "p", "partners": []any{"a", "b"}, "n": json.Number("12.5"), "f": 3.25, "i": 7, "ok": true, "none": nil,
				"nested": map[string]any{"list": []string{"x"}},
			}},
			Member: Node{Node: "fr-grandest", Country: "FR"},
			State:  map[string]any{"projects": map[string]any{}},
		},
		"membership": MembershipInput{Candidate: Candidate{Name: "nl", Country: "NL"}, Members: []Member{{Name: "a", Country: "FR"}}},
		"agreement": AgreementInput{Agreement: AgreementDraft{ID: "a", Model: ModelRef{Owner: "fr", ID: "m",
			TrainingDatasets: []DatasetRef{{Owner: "fr", ID: "d", PersonalData: true}}}, ValidUntil: at}, Time: at},
		"pointer to struct": &CatalogueInput{},
		"plain map":         map[string]any{"a": []any{1.5, "b", map[string]any{}}},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			got, err := toValue(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ast.InterfaceToValue(in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Compare(want) != 0 {
				t.Fatalf("toValue:\n %v\nJSON round trip:\n %v", got, want)
			}
		})
	}
}

func TestToValueRefusesWhatJSONCannotEncode(t *testing.T) {
	if _, err := toValue(map[string]any{"ch": make(chan int)}); err == nil {
		t.Fatal("a channel was converted")
	}
}
