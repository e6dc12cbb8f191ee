package dspschema_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xborder/xborder/dsp/dspschema"
)

func TestOfficialExamplesMatchTheirSchemas(t *testing.T) {
	exs := dspschema.Examples()
	if len(exs) != 27 {
		t.Fatalf("%d examples, want the 27 published", len(exs))
	}
	covered := map[dspschema.Schema]bool{}
	for _, ex := range exs {
		covered[ex.Schema] = true
		err := dspschema.Validate(ex.Schema, ex.Body)
		if ex.Erratum == "" {
			if err != nil {
				t.Errorf("%s: %v", ex.Name, err)
			}
			continue
		}
		// A published example known to disagree with its schema must still
		// fail; when a release fixes it, the erratum goes.
		var se *dspschema.Error
		if !errors.As(err, &se) {
			t.Errorf("%s (erratum %q): err = %v, want *Error", ex.Name, ex.Erratum, err)
		}
	}
	for _, s := range []dspschema.Schema{
		dspschema.CatalogRequestMessage, dspschema.DatasetRequestMessage, dspschema.Catalog,
		dspschema.Dataset, dspschema.CatalogError, dspschema.ContractRequestMessage,
		dspschema.ContractOfferMessage, dspschema.ContractAgreementMessage,
		dspschema.ContractAgreementVerificationMessage, dspschema.ContractNegotiationEventMessage,
		dspschema.ContractNegotiationTerminationMessage, dspschema.ContractNegotiation,
		dspschema.ContractNegotiationError, dspschema.TransferRequestMessage,
		dspschema.TransferStartMessage, dspschema.TransferSuspensionMessage,
		dspschema.TransferCompletionMessage, dspschema.TransferTerminationMessage,
		dspschema.TransferProcess, dspschema.TransferError, dspschema.ProtocolVersion,
	} {
		if !covered[s] {
			t.Errorf("no official example of %s", s.Name())
		}
	}
}

// TestExamplesValidateAsValues: the decoded form of each example passes
// ValidateValue, as a message struct re-encoded by the dsp package would.
func TestExamplesValidateAsValues(t *testing.T) {
	for _, ex := range dspschema.Examples() {
		if ex.Erratum != "" {
			continue
		}
		var v any
		if err := json.Unmarshal(ex.Body, &v); err != nil {
			t.Fatal(err)
		}
		if err := dspschema.ValidateValue(ex.Schema, v); err != nil {
			t.Errorf("%s: %v", ex.Name, err)
		}
	}
}

func TestEverySchemaCompilesAndRefusesAnEmptyObject(t *testing.T) {
	if _, err := dspschema.New(); err != nil {
		t.Fatal(err)
	}
	for _, s := range dspschema.Schemas() {
		err := dspschema.Validate(s, []byte(`{}`))
		var se *dspschema.Error
		if !errors.As(err, &se) || !errors.Is(err, dspschema.ErrInvalid) {
			t.Errorf("%s accepted {} or failed oddly: %v", s.Name(), err)
		}
	}
}

type mutation struct {
	example string
	change  func(doc map[string]any)
	pointer string
	message string
}

func TestMutatedExamplesFailWithAClearMessage(t *testing.T) {
	first := func(doc map[string]any, key string) map[string]any {
		return doc[key].([]any)[0].(map[string]any)
	}
	for name, m := range map[string]mutation{
		"missing consumerPid": {"negotiation/example/contract-request-message.json",
			func(d map[string]any) { delete(d, "consumerPid") },
			"", `missing required property "consumerPid"`},
		"missing providerPid and consumerPid": {"transfer/example/transfer-completion-message.json",
			func(d map[string]any) { delete(d, "consumerPid"); delete(d, "providerPid") },
			"", `missing required properties "providerPid", "consumerPid"`},
		"@context a string": {"catalog/example/catalog-request-message.json",
			func(d map[string]any) { d["@context"] = dspschema.ContextURL },
			"/@context", "must be array, got string"},
		"@context without the DSP context": {"transfer/example/transfer-process.json",
			func(d map[string]any) { d["@context"] = []any{"https://w3id.org/dspace/2024/1/context.json"} },
			"/@context", `must contain "https://w3id.org/dspace/2025/1/context.jsonld"`},
		"@context with a non-string": {"transfer/example/transfer-process.json",
			func(d map[string]any) { d["@context"] = []any{dspschema.ContextURL, map[string]any{"x": "y"}} },
			"/@context/1", "must be string, got object"},
		"wrong @type": {"transfer/example/transfer-start-message.json",
			func(d map[string]any) { d["@type"] = "TransferStartedMessage" },
			"/@type", `must be "TransferStartMessage", got "TransferStartedMessage"`},
		"@type of another message": {"negotiation/example/contract-agreement-verification-message.json",
			func(d map[string]any) { d["@type"] = "ContractNegotiationEventMessage" },
			"/@type", `must be "ContractAgreementVerificationMessage", got "ContractNegotiationEventMessage"`},
		"unknown negotiation state": {"negotiation/example/contract-negotiation.json",
			func(d map[string]any) { d["state"] = "STARTED" },
			"/state", `must be one of "REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED", "TERMINATED", got "STARTED"`},
		"unknown transfer state": {"transfer/example/transfer-process.json",
			func(d map[string]any) { d["state"] = "dspace:STARTED" },
			"/state", `got "dspace:STARTED"`},
		"unknown event type": {"negotiation/example/contract-negotiation-event-message.json",
			func(d map[string]any) { d["eventType"] = "REJECTED" },
			"/eventType", `must be one of "ACCEPTED", "FINALIZED", got "REJECTED"`},
		"state a number": {"transfer/example/transfer-process.json",
			func(d map[string]any) { d["state"] = 3 },
			"/state", "must be string, got number"},
		"initial request without callbackAddress": {"negotiation/example/contract-request-message_initial.json",
			func(d map[string]any) { delete(d, "callbackAddress") },
			"", `needs exactly one of the properties "callbackAddress", "providerPid"`},
		"request with callbackAddress and providerPid": {"negotiation/example/contract-request-message.json",
			func(d map[string]any) { d["callbackAddress"] = "https://consumer.example/cb" },
			"", `must have only one of the properties "callbackAddress", "providerPid", has "callbackAddress", "providerPid"`},
		"offer without rules": {"negotiation/example/contract-offer-message.json",
			func(d map[string]any) { delete(d["offer"].(map[string]any), "permission") },
			"/offer", `needs at least one of the properties "permission", "prohibition"`},
		"offer in a message without target": {"negotiation/example/contract-offer-message.json",
			func(d map[string]any) { delete(d["offer"].(map[string]any), "target") },
			"/offer", `missing required property "target"`},
		"catalogue offer with a target": {"catalog/example/dataset.json",
			func(d map[string]any) { first(d, "hasPolicy")["target"] = "urn:x" },
			"/hasPolicy/0", `must not have property "target"`},
		"policy on the root catalogue": {"catalog/example/catalog.json",
			func(d map[string]any) { d["hasPolicy"] = d["dataset"].([]any)[0].(map[string]any)["hasPolicy"] },
			"", `must not have property "hasPolicy"`},
		"dataset without distribution": {"catalog/example/dataset.json",
			func(d map[string]any) { d["distribution"] = []any{} },
			"/distribution", "must have at least 1 item(s), has 0"},
		"agreement timestamp not a date": {"negotiation/example/contract-agreement-message.json",
			func(d map[string]any) { d["agreement"].(map[string]any)["timestamp"] = "yesterday" },
			"/agreement/timestamp", `"yesterday" does not match the pattern`},
		"agreement without assignee": {"negotiation/example/contract-agreement-message.json",
			func(d map[string]any) { delete(d["agreement"].(map[string]any), "assignee") },
			"/agreement", `missing required property "assignee"`},
		"unknown constraint operator": {"negotiation/example/contract-request-message.json",
			func(d map[string]any) {
				c := first(first(d["offer"].(map[string]any), "permission"), "constraint")
				c["operator"] = "approximately"
			},
			"/offer/permission/0/constraint/0", `matches none of the 2 allowed forms: (1) needs exactly one of the properties "and", "andSequence", "or", "xone" (2) /offer/permission/0/constraint/0/operator: must be one of "eq"`},
		"endpoint property without value": {"transfer/example/transfer-request-message.json",
			func(d map[string]any) {
				delete(first(d["dataAddress"].(map[string]any), "endpointProperties"), "value")
			},
			"/dataAddress/endpointProperties/0", `missing required property "value"`},
		"transfer request without format": {"transfer/example/transfer-request-message.json",
			func(d map[string]any) { delete(d, "format") },
			"", `missing required property "format"`},
		"unknown binding": {"common/example/protocol-version.json",
			func(d map[string]any) { first(d, "protocolVersions")["binding"] = "HTTP" },
			"/protocolVersions/0/binding", `must be one of "HTTPS", got "HTTP"`},
		"no protocol version": {"common/example/protocol-version.json",
			func(d map[string]any) { d["protocolVersions"] = []any{} },
			"/protocolVersions", "must have at least 1 item(s), has 0"},
	} {
		t.Run(name, func(t *testing.T) {
			ex := example(t, m.example)
			var doc map[string]any
			if err := json.Unmarshal(ex.Body, &doc); err != nil {
				t.Fatal(err)
			}
			m.change(doc)
			body, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			err = dspschema.Validate(ex.Schema, body)
			var se *dspschema.Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *dspschema.Error", err)
			}
			if !errors.Is(err, dspschema.ErrInvalid) || errors.Is(err, dspschema.ErrNotJSON) {
				t.Fatalf("err %v does not wrap ErrInvalid alone", err)
			}
			if se.Schema != ex.Schema {
				t.Errorf("Error.Schema = %s, want %s", se.Schema, ex.Schema)
			}
			found := slices.ContainsFunc(se.Causes, func(c dspschema.Cause) bool {
				return c.Pointer == m.pointer && strings.Contains(c.Message, m.message)
			})
			if !found {
				t.Fatalf("no cause at %q containing %q in %q", m.pointer, m.message, se.Causes)
			}
			if !strings.HasPrefix(err.Error(), "invalid "+ex.Schema.Name()+": ") {
				t.Errorf("message %q does not start by naming the schema", err)
			}
			if len(se.Causes) <= 3 && !strings.Contains(err.Error(), m.message) {
				t.Errorf("message %q does not say %q", err, m.message)
			}
		})
	}
}

func TestCausesAreSortedAndTheMessageIsStable(t *testing.T) {
	doc := []byte(`{"@context":{"x":1},"@type":"Nope","state":"DONE","providerPid":7}`)
	var want string
	var wg sync.WaitGroup
	var mu sync.Mutex
	msgs := map[string]bool{}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				err := dspschema.Validate(dspschema.TransferProcess, doc)
				mu.Lock()
				msgs[err.Error()] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(msgs) != 1 {
		t.Fatalf("%d different messages for one document: %v", len(msgs), msgs)
	}
	for m := range msgs {
		want = m
	}
	const expect = `invalid TransferProcess: missing required property "consumerPid"; /@context: must be array, got object; /@type: must be "TransferProcess", got "Nope"; and 2 more`
	if want != expect {
		t.Fatalf("message\n got %s\nwant %s", want, expect)
	}
	var se *dspschema.Error
	errors.As(dspschema.Validate(dspschema.TransferProcess, doc), &se)
	if !slices.IsSortedFunc(se.Causes, func(a, b dspschema.Cause) int { return strings.Compare(a.Pointer, b.Pointer) }) {
		t.Fatalf("causes not sorted by pointer: %q", se.Causes)
	}
}

func TestManyProblemsAreCapped(t *testing.T) {
	var datasets []string
	for i := range 500 {
		datasets = append(datasets, fmt.Sprintf(`{"@id":"d%d","hasPolicy":[],"distribution":[]}`, i))
	}
	doc := `{"@context":["` + dspschema.ContextURL + `"],"@id":"c","@type":"Catalog","participantId":"p","dataset":[` + strings.Join(datasets, ",") + `]}`
	err := dspschema.Validate(dspschema.Catalog, []byte(doc))
	var se *dspschema.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if len(se.Causes) > 32 || se.More == 0 {
		t.Fatalf("%d causes kept, %d more: not capped", len(se.Causes), se.More)
	}
	if msg := err.Error(); len(msg) > 1000 || !strings.Contains(msg, " more") {
		t.Fatalf("message of %d bytes: %.300s", len(msg), msg)
	}
}

func TestNotJSONIsAnError(t *testing.T) {
	for _, doc := range []string{"", "   ", "{", `{"@type":`, `{} {}`, `nul`, "\xff", `{"a":1}x`} {
		err := dspschema.Validate(dspschema.CatalogRequestMessage, []byte(doc))
		var se *dspschema.Error
		if !errors.As(err, &se) || !errors.Is(err, dspschema.ErrNotJSON) {
			t.Errorf("%q: err = %v, want *Error wrapping ErrNotJSON", doc, err)
			continue
		}
		if !strings.Contains(err.Error(), "not a JSON document") {
			t.Errorf("%q: message %q", doc, err)
		}
	}
}

func TestUnknownSchemaIsTheCallersMistake(t *testing.T) {
	for _, s := range []dspschema.Schema{"", "https://example.com/x.json", dspschema.Base + "negotiation/contract-schema.json"} {
		err := dspschema.Validate(s, []byte(`{}`))
		var se *dspschema.Error
		if !errors.Is(err, dspschema.ErrUnknownSchema) || errors.As(err, &se) {
			t.Errorf("%q: err = %v, want ErrUnknownSchema and no *Error", s, err)
		}
		if err := dspschema.ValidateValue(s, map[string]any{}); !errors.Is(err, dspschema.ErrUnknownSchema) {
			t.Errorf("ValidateValue %q: err = %v", s, err)
		}
	}
}

func TestValidateValue(t *testing.T) {
	type event struct {
		Context     []string `json:"@context"`
		Type        string   `json:"@type"`
		ProviderPID string   `json:"providerPid"`
		ConsumerPID string   `json:"consumerPid"`
		EventType   string   `json:"eventType"`
	}
	ok := event{[]string{dspschema.ContextURL}, "ContractNegotiationEventMessage", "urn:p", "urn:c", "FINALIZED"}
	if err := dspschema.ValidateValue(dspschema.ContractNegotiationEventMessage, ok); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.EventType = "finalized"
	err := dspschema.ValidateValue(dspschema.ContractNegotiationEventMessage, bad)
	if !errors.Is(err, dspschema.ErrInvalid) || !strings.Contains(err.Error(), `/eventType: must be one of "ACCEPTED", "FINALIZED", got "finalized"`) {
		t.Fatalf("err = %v", err)
	}
	err = dspschema.ValidateValue(dspschema.ContractNegotiationEventMessage, map[string]any{"c": make(chan int)})
	var se *dspschema.Error
	if err == nil || errors.As(err, &se) {
		t.Fatalf("unmarshallable value: err = %v, want a plain error", err)
	}
}

func TestForType(t *testing.T) {
	for _, s := range dspschema.Schemas() {
		name := s.Name()
		got, ok := dspschema.ForType(name)
		switch name {
		case "ProtocolVersion", "DIDService", "Context", "Offer", "MessageOffer", "Agreement":
			if ok {
				t.Errorf("ForType(%q) = %s, want none", name, got)
			}
		default:
			if !ok || got != s {
				t.Errorf("ForType(%q) = %s, %v; want %s", name, got, ok, s)
			}
		}
	}
	for _, typ := range []string{"", "dspace:ContractRequestMessage", "contractrequestmessage", "Offer", "Distribution"} {
		if s, ok := dspschema.ForType(typ); ok {
			t.Errorf("ForType(%q) = %s", typ, s)
		}
	}
	// Each example's @type leads to its schema.
	for _, ex := range dspschema.Examples() {
		var doc struct {
			Type string `json:"@type"`
		}
		_ = json.Unmarshal(ex.Body, &doc)
		if doc.Type == "" {
			continue
		}
		if s, ok := dspschema.ForType(doc.Type); !ok || s != ex.Schema {
			t.Errorf("%s: ForType(%q) = %s, want %s", ex.Name, doc.Type, s, ex.Schema)
		}
	}
}

func TestSchemaPartsOfPolicies(t *testing.T) {
	offer := []byte(`{"@id":"urn:o","@type":"Offer","permission":[{"action":"use"}]}`)
	if err := dspschema.Validate(dspschema.Offer, offer); err != nil {
		t.Fatalf("catalogue offer: %v", err)
	}
	if err := dspschema.Validate(dspschema.MessageOffer, offer); err != nil {
		t.Fatalf("message offer: %v", err)
	}
	agreement := []byte(`{"@id":"urn:a","@type":"Agreement","target":"urn:d","assigner":"urn:p","assignee":"urn:c",` +
		`"timestamp":"2026-12-07T18:00:00Z","permission":[{"action":"use","constraint":[{"leftOperand":"purpose","operator":"eq","rightOperand":"research"}]}]}`)
	if err := dspschema.Validate(dspschema.Agreement, agreement); err != nil {
		t.Fatalf("agreement: %v", err)
	}
	if err := dspschema.Validate(dspschema.Agreement, offer); err == nil {
		t.Fatal("an offer passed as an agreement")
	}
}

func TestExamplesAreCopies(t *testing.T) {
	a := dspschema.ExamplesOf(dspschema.TransferProcess)
	if len(a) != 1 {
		t.Fatalf("%d TransferProcess examples", len(a))
	}
	a[0].Body[0] = 'X'
	if b := dspschema.ExamplesOf(dspschema.TransferProcess); b[0].Body[0] != '{' {
		t.Fatal("changing an example's body changed the embedded example")
	}
	if n := len(dspschema.ExamplesOf(dspschema.ContractRequestMessage)); n != 2 {
		t.Fatalf("%d ContractRequestMessage examples, want 2 (with _initial)", n)
	}
}

func TestJSONLDContexts(t *testing.T) {
	for _, url := range []string{dspschema.ContextURL, dspschema.ODRLProfileURL} {
		b, ok := dspschema.JSONLDContext(url)
		var doc map[string]any
		if !ok || json.Unmarshal(b, &doc) != nil || doc["@context"] == nil {
			t.Errorf("%s: no JSON-LD context embedded", url)
		}
	}
	if _, ok := dspschema.JSONLDContext("https://www.w3.org/ns/odrl.jsonld"); ok {
		t.Error("a context that is not embedded was returned")
	}
}

func TestSchemaNames(t *testing.T) {
	for s, want := range map[dspschema.Schema]string{
		dspschema.ContractRequestMessage:            "ContractRequestMessage",
		dspschema.Agreement:                         "Agreement",
		"https://example.com/a/b-schema.json":       "b-schema.json",
		"https://example.com/a.json#/definitions/X": "X",
	} {
		if got := s.Name(); got != want {
			t.Errorf("%s.Name() = %q, want %q", s, got, want)
		}
	}
}

func example(t *testing.T, name string) dspschema.Example {
	t.Helper()
	for _, ex := range dspschema.Examples() {
		if ex.Name == name {
			return ex
		}
	}
	t.Fatalf("no example %s", name)
	return dspschema.Example{}
}

func ExampleValidate() {
	err := dspschema.Validate(dspschema.ContractNegotiationEventMessage, []byte(`{
		"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
		"@type": "ContractNegotiationEventMessage",
		"providerPid": "urn:uuid:a343fcbf",
		"eventType": "DONE"
	}`))
	fmt.Println(err)
	// Output: invalid ContractNegotiationEventMessage: missing required property "consumerPid"; /eventType: must be one of "ACCEPTED", "FINALIZED", got "DONE"
}

// nestedRequest is a contract request whose one constraint nests n logical
// "and"s around an atomic constraint with an unknown operator.
func nestedRequest(n int) []byte {
	inner := strings.Repeat(`{"and":[`, n) + `{"leftOperand":"a","operator":"zz","rightOperand":"b"}` + strings.Repeat(`]}`, n)
	return []byte(`{"@context":["` + dspschema.ContextURL + `"],"@type":"ContractRequestMessage","consumerPid":"c",` +
		`"callbackAddress":"https://c.example/cb","offer":{"@id":"o","@type":"Offer","permission":[{"action":"use","constraint":[` + inner + `]}]}}`)
}

// TestDeepDocumentsAreRefused: nesting costs the validator time and words
// quadratic in depth, so a document nested past MaxDepth is refused before
// it is parsed, and the deepest one allowed still gets a short message.
func TestDeepDocumentsAreRefused(t *testing.T) {
	for _, n := range []int{30, 1000, 4999} {
		err := dspschema.Validate(dspschema.ContractRequestMessage, nestedRequest(n))
		if !errors.Is(err, dspschema.ErrTooDeep) || !strings.Contains(err.Error(), "nested deeper than 64 levels") {
			t.Errorf("depth %d: err = %v, want ErrTooDeep", n, err)
		}
	}
	// 29 nested constraints are 64 levels: validated, and worded briefly.
	err := dspschema.Validate(dspschema.ContractRequestMessage, nestedRequest(29))
	var se *dspschema.Error
	if !errors.As(err, &se) || errors.Is(err, dspschema.ErrTooDeep) {
		t.Fatalf("depth 64: err = %v, want a schema refusal", err)
	}
	if msg := err.Error(); len(msg) > 1000 || !strings.Contains(msg, "/offer/permission/0/constraint/0: matches none of the 2 allowed forms") {
		t.Fatalf("depth 64: message of %d bytes: %.400s", len(msg), msg)
	}
	for _, c := range se.Causes {
		if len(c.Message) > 1500 {
			t.Fatalf("a cause of %d bytes", len(c.Message))
		}
	}
	// Brackets inside strings are not nesting.
	doc := `{"@context":["` + dspschema.ContextURL + `"],"@type":"CatalogRequestMessage","filter":["` + strings.Repeat(`[{\"`, 100) + `"]}`
	if err := dspschema.Validate(dspschema.CatalogRequestMessage, []byte(doc)); err != nil {
		t.Fatalf("brackets in a string counted as nesting: %v", err)
	}
}
