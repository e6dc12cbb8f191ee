package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The guide for legal teams shows examples a reader copies; those marked
// `<!-- tested: NAME -->` in docs/policies.md are checked here, so that
// the guide cannot drift from the shipped policies.

var testedBlock = regexp.MustCompile("(?s)<!-- tested: ([a-z ]+) -->\n```[a-z]*\n(.*?)\n```")

func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range testedBlock.FindAllStringSubmatch(string(raw), -1) {
		out[m[1]] = m[2]
	}
	return out
}

func docBlock(t *testing.T, blocks map[string]string, name string) string {
	t.Helper()
	b, ok := blocks[name]
	if !ok {
		t.Fatalf("docs/policies.md has no block marked <!-- tested: %s -->", name)
	}
	return b
}

// normalJSON is a JSON document as encoding/json reads it, for comparing
// documents whatever their layout and key order.
func normalJSON(t *testing.T, v any) any {
	t.Helper()
	raw, ok := v.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	return out
}

// The analysis input of the guide gets the answer the guide shows, from
// the Rego as `xborder policy eval` runs it and through the engine's typed
// input and decision.
func TestGuideAnalysisExampleIsTheShippedAnswer(t *testing.T) {
	ctx := context.Background()
	blocks := docBlocks(t)
	inRaw := []byte(docBlock(t, blocks, "analysis input"))
	want := normalJSON(t, []byte(docBlock(t, blocks, "analysis answer")))

	input, err := ParseInput(inRaw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := EvalQuery(ctx, "../policies", string(AnalysisDecisionPoint), input, ExplainOff)
	if err != nil || !res.Defined {
		t.Fatalf("eval: %+v %v", res, err)
	}
	if got := normalJSON(t, res.Value); !reflect.DeepEqual(got, want) {
		t.Fatalf("the guide's answer is not the policy's:\npolicy: %v\nguide:  %v", got, want)
	}

	var in AnalysisInput
	dec := json.NewDecoder(bytes.NewReader(inRaw))
	dec.DisallowUnknownFields() // every field of the guide's input is one the node sends
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ctx, "../policies", nil, WithEvaluator(EvaluatorTopdown)) // the plan is held to topdown elsewhere
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Analysis(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	d.Bundle = ""
	wantDecision := want.(map[string]any)
	got := normalJSON(t, d).(map[string]any)
	delete(got, "bundle")
	if !reflect.DeepEqual(got, wantDecision) {
		t.Fatalf("the engine's decision is not the guide's:\nengine: %v\nguide:  %v", got, wantDecision)
	}
}

// The guide's stricter limits for confidential data, added as it says to a
// copy of the shipped policies, pass the guide's test.
func TestGuideStricterLimitsExamplePasses(t *testing.T) {
	ctx := context.Background()
	blocks := docBlocks(t)
	dir := copyDir(t, "../policies")
	appendTo := func(name, body string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("\n" + body + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	appendTo("analysis.rego", docBlock(t, blocks, "analysis stricter rule"))
	appendTo("analysis_test.rego", docBlock(t, blocks, "analysis stricter test"))
	var out bytes.Buffer
	c, _, err := compileDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	tests := len(testRules(c))
	sum, err := Test(ctx, dir, TestOptions{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	// The guide's test passes, and the guide says which shipped test lists
	// the rules of a confidential analysis and so must learn the new ones:
	// it alone fails.
	report := out.String()
	if sum.Passed != tests-1 || sum.Failed != 1 || sum.Errored != 0 || len(sum.Differences) != 0 ||
		!strings.Contains(report, "data.xborder.analysis_test.test_confidential_for_named_partner_allowed: FAIL") {
		t.Fatalf("the guide's example: %+v (of %d tests)\n%s", sum, tests, report)
	}
}

// The dataspace input of the guide gets the answer the guide shows, from
// the Rego as `xborder policy eval` runs it and through the engine's typed
// input and decision.
func TestGuideDataspaceExampleIsTheShippedAnswer(t *testing.T) {
	ctx := context.Background()
	blocks := docBlocks(t)
	inRaw := []byte(docBlock(t, blocks, "dataspace input"))
	want := normalJSON(t, []byte(docBlock(t, blocks, "dataspace answer")))

	input, err := ParseInput(inRaw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := EvalQuery(ctx, "../policies", string(DataspaceDecision), input, ExplainOff)
	if err != nil || !res.Defined {
		t.Fatalf("eval: %+v %v", res, err)
	}
	if got := normalJSON(t, res.Value); !reflect.DeepEqual(got, want) {
		t.Fatalf("the guide's answer is not the policy's:\npolicy: %v\nguide:  %v", got, want)
	}

	var in DataspaceInput
	dec := json.NewDecoder(bytes.NewReader(inRaw))
	dec.DisallowUnknownFields() // every field of the guide's input is one the node sends
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ctx, "../policies", nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Dataspace(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got := normalJSON(t, d).(map[string]any)
	delete(got, "bundle")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the engine's decision is not the guide's:\nengine: %v\nguide:  %v", got, want)
	}
}

// The guide's example rules for dataspaces, added as it says to a copy of
// the shipped policies, compile strictly, keep every shipped test passing
// and decide as the guide says.
func TestGuideDataspaceRulesDecideAsTheGuideSays(t *testing.T) {
	ctx := context.Background()
	blocks := docBlocks(t)
	dir := copyDir(t, "../policies")
	appendTo := func(name, body string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("\n" + body + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	appendTo("dataspace.rego", docBlock(t, blocks, "dataspace health rule"))
	appendTo("exchange.rego", docBlock(t, blocks, "participant suspended rule"))
	if _, err := Check(dir); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := Test(ctx, dir, TestOptions{Out: &out})
	if err != nil || sum.Failed != 0 || sum.Errored != 0 || len(sum.Differences) != 0 {
		t.Fatalf("the shipped tests with the guide's rules: %+v %v\n%s", sum, err, out.String())
	}
	e, err := NewEngine(ctx, dir, nil, WithEvaluator(EvaluatorTopdown))
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}

	in := commuterFlows(t)
	in.Offer = map[string]any{"@id": "urn:uuid:offer-9"}
	in.Dataset.Themes = []string{"http://publications.europa.eu/resource/authority/data-theme/HEAL"}
	in.Purpose = "industrial-rd"
	if d, err := e.Dataspace(ctx, in); err != nil || d.Allow || !slices.Equal(d.Rules, []string{"health_data_research_only"}) {
		t.Fatalf("health data for industrial-rd: %+v %v", d, err)
	}
	in.Purpose = "research"
	if d, err := e.Dataspace(ctx, in); err != nil || !d.Allow {
		t.Fatalf("health data for research: %+v %v", d, err)
	}

	air := Resource{Kind: "dataset", ID: "air-quality-2025", Owner: "fr-grandest", Classification: "open"}
	self := Node{Node: "fr-grandest", Country: "FR"}
	former := Requester{Node: Node{Node: "did:web:connector.former-partner.example", Country: "DE", External: true}}
	if d, err := e.Exchange(ctx, ExchangeInput{Requester: former, Resource: air, Purpose: "research", Self: self}); err != nil ||
		d.Allow || !slices.Equal(d.Rules, []string{"participant_suspended"}) {
		t.Fatalf("suspended participant: %+v %v", d, err)
	}
	other := former
	other.Node.Node = "did:web:dataspace.acme-mobility.example"
	if d, err := e.Exchange(ctx, ExchangeInput{Requester: other, Resource: air, Purpose: "research", Self: self}); err != nil || !d.Allow {
		t.Fatalf("another participant: %+v %v", d, err)
	}
}
