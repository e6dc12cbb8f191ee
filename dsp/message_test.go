package dsp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/dsp/dspschema"
	"github.com/xborder/xborder/policy"
)

// decodeTarget returns a fresh value of the struct the package decodes a
// message of type typ into, or nil when it has none.
func decodeTarget(typ string) any {
	switch typ {
	case TypeCatalogRequest:
		return new(CatalogRequestMessage)
	case TypeDatasetRequest:
		return new(DatasetRequestMessage)
	case TypeCatalog:
		return new(Catalog)
	case TypeDataset:
		return new(Dataset)
	case TypeCatalogError, TypeNegotiationError, TypeTransferError:
		return new(ErrorMessage)
	case TypeContractRequest:
		return new(ContractRequestMessage)
	case TypeContractOffer:
		return new(ContractOfferMessage)
	case TypeContractAgreement:
		return new(ContractAgreementMessage)
	case TypeAgreementVerification:
		return new(ContractAgreementVerificationMessage)
	case TypeNegotiationEvent:
		return new(ContractNegotiationEventMessage)
	case TypeNegotiationTermination:
		return new(ContractNegotiationTerminationMessage)
	case TypeNegotiation:
		return new(ContractNegotiation)
	case TypeTransferRequest:
		return new(TransferRequestMessage)
	case TypeTransferStart:
		return new(TransferStartMessage)
	case TypeTransferSuspension, TypeTransferCompletion, TypeTransferTermination:
		return new(TransferCodeMessage)
	case TypeTransferProcess:
		return new(TransferProcess)
	}
	return nil
}

// decodedTypes are the @types decodeTarget knows, in a fixed order.
var decodedTypes = []string{
	TypeCatalogRequest, TypeDatasetRequest, TypeCatalog, TypeDataset, TypeCatalogError,
	TypeContractRequest, TypeContractOffer, TypeContractAgreement, TypeAgreementVerification,
	TypeNegotiationEvent, TypeNegotiationTermination, TypeNegotiation, TypeNegotiationError,
	TypeTransferRequest, TypeTransferStart, TypeTransferSuspension, TypeTransferCompletion,
	TypeTransferTermination, TypeTransferProcess, TypeTransferError,
}

func schemaOf(t testing.TB, typ string) dspschema.Schema {
	t.Helper()
	s, ok := dspschema.ForType(typ)
	if !ok {
		t.Fatalf("no schema for @type %q", typ)
	}
	return s
}

// TestOfficialExamplesDecodeAndReencode: every official example message is
// accepted by the package's decoder, and what the package writes back from
// the decoded struct still matches the schema, keeps every identifier, and
// writes the same again.
func TestOfficialExamplesDecodeAndReencode(t *testing.T) {
	n := 0
	for _, ex := range dspschema.Examples() {
		var head struct {
			Type string `json:"@type"`
		}
		if err := json.Unmarshal(ex.Body, &head); err != nil {
			t.Fatal(err)
		}
		v := decodeTarget(head.Type)
		if v == nil {
			continue // the DID service and version documents: no @type decoder
		}
		n++
		t.Run(ex.Name, func(t *testing.T) {
			if err := DecodeBytes(ex.Body, head.Type, v); err != nil {
				t.Fatalf("decode: %v", err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := dspschema.Validate(ex.Schema, out); err != nil {
				t.Fatalf("re-encoded %s fails its schema: %v\n%s", head.Type, err, out)
			}
			again := decodeTarget(head.Type)
			if err := DecodeBytes(out, head.Type, again); err != nil {
				t.Fatalf("decode of the re-encoded: %v", err)
			}
			if out2, _ := json.Marshal(again); !bytes.Equal(out, out2) {
				t.Fatalf("a second round trip changed the message:\n%s\n%s", out, out2)
			}
			// Every string the example carries at the top level (pids,
			// agreement id, format, callback, @id) survives.
			var orig, back map[string]any
			_ = json.Unmarshal(ex.Body, &orig)
			_ = json.Unmarshal(out, &back)
			for k, val := range orig {
				if s, ok := val.(string); ok && back[k] != s {
					t.Errorf("%s: %q became %v", k, s, back[k])
				}
			}
		})
	}
	if n < 24 {
		t.Fatalf("only %d examples decoded", n)
	}
}

// The version document has no @context: it is read with encoding/json.
func TestOfficialVersionExampleRoundTrips(t *testing.T) {
	for _, ex := range dspschema.ExamplesOf(dspschema.ProtocolVersion) {
		var v VersionResponse
		if err := json.Unmarshal(ex.Body, &v); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(v)
		if err := dspschema.Validate(dspschema.ProtocolVersion, out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
}

// The official dataset example writes a distribution's accessService as a
// DataService object, the catalogue example as its @id: both read the same.
func TestAccessServiceInBothForms(t *testing.T) {
	var d Distribution
	for _, raw := range []string{
		`{"@type":"Distribution","format":"HttpData-PULL","accessService":"urn:svc"}`,
		`{"@type":"Distribution","format":"HttpData-PULL","accessService":{"@id":"urn:svc","@type":"DataService","endpointURL":"https://p.example/dsp"}}`,
	} {
		d = Distribution{AccessService: "stale"}
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			t.Fatal(err)
		}
		if d.AccessService != "urn:svc" || d.Format != FormatHTTPPull || d.Type != TypeDistribution {
			t.Fatalf("%s read as %+v", raw, d)
		}
	}
	for _, raw := range []string{`{"accessService":7}`, `{"accessService":{"@id":7}}`, `{"format":1}`} {
		if err := json.Unmarshal([]byte(raw), &d); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

// schemaCatalogue and schemaPolicy are the provider's catalogue and policy
// as far as building a catalogue needs them.
type schemaCatalogue struct{ entries []Entry }

func (c schemaCatalogue) Entries(context.Context) []Entry { return c.entries }
func (c schemaCatalogue) Entry(_ context.Context, id string) (Entry, bool) {
	for _, e := range c.entries {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}
func (schemaCatalogue) Open(context.Context, string) (io.ReadSeekCloser, error) {
	return nil, errors.New("no content")
}

type schemaPolicy struct {
	purposes []string
	allow    map[string]policy.Decision // by purpose
}

func (schemaPolicy) CatalogueVisible(context.Context, policy.CatalogueInput) (bool, error) {
	return true, nil
}
func (p schemaPolicy) Exchange(_ context.Context, in policy.ExchangeInput) (policy.Decision, error) {
	return p.allow[in.Purpose], nil
}
func (p schemaPolicy) Purposes() []string { return p.purposes }

// schemaService is a provider with just what building documents needs (no
// store: nothing here is persisted).
func schemaService(pol schemaPolicy) *Service {
	cfg := DefaultConfig("unused")
	cfg.ParticipantID = "did:web:provider.example"
	cfg.PublicURL = "https://provider.example"
	entries := []Entry{{
		ID: "urn:xborder:entry:1", SHA256: strings.Repeat("ab", 32), Size: 1234, MediaType: "text/csv",
		DCAT: DCAT{Title: "Admissions 2025", Description: "Weekly admissions", Keyword: []string{"health"},
			Theme: []IRI{{ID: "http://publications.europa.eu/resource/authority/data-theme/HEAL"}}, License: &IRI{ID: "https://creativecommons.org/licenses/by/4.0/"}},
	}, {ID: "urn:xborder:entry:2", DCAT: DCAT{Title: "Second"}}}
	return &Service{
		cfg: cfg,
		d: Deps{Catalogue: schemaCatalogue{entries}, Policy: pol,
			Self: policy.Node{Node: "node-a", Country: "DE", Org: "Clinic A"}},
		log: slog.New(slog.DiscardHandler),
		now: func() time.Time { return time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC) },
	}
}

// TestBuiltMessagesMatchTheirSchemas: every document the package builds,
// as its constructors and its provider and consumer fill them, matches the
// official schema of its @type.
func TestBuiltMessagesMatchTheirSchemas(t *testing.T) {
	ctx := context.Background()
	granting := schemaPolicy{purposes: []string{"research", "public-health"}, allow: map[string]policy.Decision{
		"research": {Allow: true, MaxValiditySeconds: 30 * 86400, Obligations: []string{"Cite the provider."}},
	}}
	refusing := schemaPolicy{purposes: []string{"research", "public-health"}}
	catGranting, err := schemaService(granting).Catalog(ctx, Participant{ID: "did:web:consumer.example"})
	if err != nil {
		t.Fatal(err)
	}
	catRefusing, err := schemaService(refusing).Catalog(ctx, Participant{ID: "did:web:consumer.example"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := schemaService(granting).dataset(ctx, Participant{ID: "did:web:consumer.example"}, schemaCatalogue{}.mustEntry(t, schemaService(granting)))
	if err != nil {
		t.Fatal(err)
	}
	ds.Context = []string{ContextURL} // as handleDataset answers it
	offer := catGranting.Dataset[0].HasPolicy[0]
	offer.Target = catGranting.Dataset[0].ID // the consumer's copy names its dataset
	agreement := Agreement{ID: "urn:uuid:agreement", Type: TypeAgreement, Target: offer.Target,
		Assigner: "did:web:provider.example", Assignee: "did:web:consumer.example",
		Timestamp:  time.Date(2026, 12, 7, 18, 0, 0, 0, time.FixedZone("CET", 3600)).Format(time.RFC3339),
		Permission: offer.Permission, Obligation: offer.Obligation}
	addr := &DataAddress{Type: TypeDataAddress, EndpointType: HTTPEndpointType, Endpoint: "https://provider.example/dsp/data/p1",
		EndpointProperties: []EndpointProperty{
			{Type: TypeEndpointProperty, Name: "authorization", Value: "token"},
			{Type: TypeEndpointProperty, Name: "authType", Value: "bearer"},
		}}

	docs := map[string]struct {
		schema dspschema.Schema
		v      any
	}{
		"catalog request":              {dspschema.CatalogRequestMessage, NewCatalogRequest()},
		"dataset request":              {dspschema.DatasetRequestMessage, NewDatasetRequest("urn:xborder:entry:1")},
		"catalogue with offers":        {dspschema.Catalog, catGranting},
		"catalogue offered on request": {dspschema.Catalog, catRefusing},
		"empty catalogue": {dspschema.Catalog, func() Catalog {
			c, _ := schemaService(granting).Catalog(ctx, Participant{})
			c.Dataset = nil
			return c
		}()},
		"dataset":              {dspschema.Dataset, ds},
		"offer in a catalogue": {dspschema.Offer, catGranting.Dataset[0].HasPolicy[0]},
		"agreement":            {dspschema.Agreement, agreement},
		"catalog error":        {dspschema.CatalogError, NewError(TypeCatalogError, "", "", CodeNotFound, "No such dataset.")},
		"negotiation error":    {dspschema.ContractNegotiationError, NewError(TypeNegotiationError, "p1", "c1", CodeDenied, "Refused.")},
		"transfer error":       {dspschema.TransferError, NewError(TypeTransferError, "p1", "c1", CodeInvalidState, "Not started.")},
		"initial contract request": {dspschema.ContractRequestMessage, ContractRequestMessage{Header: header(TypeContractRequest),
			ConsumerPID: "c1", Offer: offer, CallbackAddress: "https://consumer.example/dsp"}},
		"counter contract request": {dspschema.ContractRequestMessage, ContractRequestMessage{Header: header(TypeContractRequest),
			ProviderPID: "p1", ConsumerPID: "c1", Offer: offer}},
		"initial contract offer": {dspschema.ContractOfferMessage, ContractOfferMessage{Header: header(TypeContractOffer),
			ProviderPID: "p1", Offer: offer, CallbackAddress: "https://provider.example/dsp"}},
		"contract agreement": {dspschema.ContractAgreementMessage, ContractAgreementMessage{Header: header(TypeContractAgreement),
			ProviderPID: "p1", ConsumerPID: "c1", Agreement: agreement, CallbackAddress: "https://provider.example/dsp"}},
		"agreement verification": {dspschema.ContractAgreementVerificationMessage, ContractAgreementVerificationMessage{
			Header: header(TypeAgreementVerification), ProviderPID: "p1", ConsumerPID: "c1"}},
		"event accepted": {dspschema.ContractNegotiationEventMessage, ContractNegotiationEventMessage{
			Header: header(TypeNegotiationEvent), ProviderPID: "p1", ConsumerPID: "c1", EventType: EventAccepted}},
		"event finalized": {dspschema.ContractNegotiationEventMessage, ContractNegotiationEventMessage{
			Header: header(TypeNegotiationEvent), ProviderPID: "p1", ConsumerPID: "c1", EventType: EventFinalized}},
		"negotiation termination": {dspschema.ContractNegotiationTerminationMessage, ContractNegotiationTerminationMessage{
			Header: header(TypeNegotiationTermination), ProviderPID: "p1", ConsumerPID: "c1", Code: CodeDenied, Reason: []string{"Refused."}}},
		"transfer request": {dspschema.TransferRequestMessage, TransferRequestMessage{Header: header(TypeTransferRequest),
			ConsumerPID: "c1", AgreementID: "urn:uuid:agreement", Format: FormatHTTPPull, CallbackAddress: "https://consumer.example/dsp"}},
		"transfer start": {dspschema.TransferStartMessage, TransferStartMessage{Header: header(TypeTransferStart),
			ProviderPID: "p1", ConsumerPID: "c1", DataAddress: addr}},
		"transfer suspension": {dspschema.TransferSuspensionMessage, TransferCodeMessage{Header: header(TypeTransferSuspension),
			ProviderPID: "p1", ConsumerPID: "c1", Code: "paused", Reason: []string{"Maintenance."}}},
		"transfer completion": {dspschema.TransferCompletionMessage, TransferCodeMessage{Header: header(TypeTransferCompletion),
			ProviderPID: "p1", ConsumerPID: "c1"}},
		"transfer termination": {dspschema.TransferTerminationMessage, TransferCodeMessage{Header: header(TypeTransferTermination),
			ProviderPID: "p1", ConsumerPID: "c1", Code: CodeDenied}},
		"version document": {dspschema.ProtocolVersion, schemaService(granting).Versions()},
		"data address":     {dspschema.DataAddress, addr},
	}
	for _, s := range []NegotiationState{NegRequested, NegOffered, NegAccepted, NegAgreed, NegVerified, NegFinalized, NegTerminated} {
		docs["negotiation "+string(s)] = struct {
			schema dspschema.Schema
			v      any
		}{dspschema.ContractNegotiation, NewNegotiation("p1", "c1", s)}
	}
	for _, s := range []TransferState{TPRequested, TPStarted, TPSuspended, TPCompleted, TPTerminated} {
		docs["transfer "+string(s)] = struct {
			schema dspschema.Schema
			v      any
		}{dspschema.TransferProcess, NewTransferProcess("p1", "c1", s)}
	}
	for name, d := range docs {
		t.Run(name, func(t *testing.T) {
			if err := dspschema.ValidateValue(d.schema, d.v); err != nil {
				out, _ := json.Marshal(d.v)
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
	if len(catGranting.Dataset) != 2 || len(catRefusing.Dataset[0].HasPolicy) != 1 {
		t.Fatalf("catalogues not as expected: %d datasets, %d on-request offers", len(catGranting.Dataset), len(catRefusing.Dataset[0].HasPolicy))
	}
}

func (schemaCatalogue) mustEntry(t *testing.T, s *Service) Entry {
	t.Helper()
	e, ok := s.d.Catalogue.Entry(context.Background(), "urn:xborder:entry:1")
	if !ok {
		t.Fatal("no entry")
	}
	return e
}

// TestErrorAnswersMatchTheirSchemas: the error objects the provider answers
// with match their schemas, even when it knows neither process.
func TestErrorAnswersMatchTheirSchemas(t *testing.T) {
	for _, c := range []struct {
		typ, prov, cons string
		err             error
	}{
		{TypeCatalogError, "", "", &MessageError{Type: TypeCatalogRequest, Reason: "bad"}},
		{TypeNegotiationError, "", "", &MessageError{Type: TypeContractRequest, Reason: "bad"}},
		{TypeNegotiationError, "p1", "", ErrNotFound},
		{TypeNegotiationError, "p1", "c1", refuse(http.StatusForbidden, CodeDenied, "Refused.", "Second reason.")},
		{TypeTransferError, "", "c1", &AuthError{Code: CodeUnauthorized, Reason: "no token"}},
		{TypeTransferError, "p1", "c1", errors.New("disk failed")},
	} {
		rec := httptest.NewRecorder()
		writeError(rec, c.typ, c.prov, c.cons, c.err)
		if rec.Code < 400 {
			t.Errorf("%s %v: status %d", c.typ, c.err, rec.Code)
		}
		if err := dspschema.Validate(schemaOf(t, c.typ), rec.Body.Bytes()); err != nil {
			t.Errorf("%s answering %v: %v\n%s", c.typ, c.err, err, rec.Body.Bytes())
		}
	}
}

// TestBadMessagesAreRefusedWithTheirReason: each refusal is a
// *MessageError naming the expected type and what was wrong.
func TestBadMessagesAreRefusedWithTheirReason(t *testing.T) {
	const ctx = `"@context":["https://w3id.org/dspace/2025/1/context.jsonld"]`
	offer := `"offer":{"@id":"urn:o","@type":"Offer","target":"urn:d","permission":[{"action":"use"}]}`
	for name, c := range map[string]struct {
		typ, body, want string
		schema          bool // refused by the JSON Schema (the error unwraps to *dspschema.Error)
	}{
		"wrong @type": {TypeContractRequest,
			`{` + ctx + `,"@type":"ContractOfferMessage","consumerPid":"c",` + offer + `}`,
			`@type is "ContractOfferMessage"; this endpoint takes "ContractRequestMessage"`, false},
		"no @type":           {TypeTransferRequest, `{` + ctx + `}`, "@type is missing", false},
		"@type not a string": {TypeTransferRequest, `{` + ctx + `,"@type":["TransferRequestMessage"]}`, "@type is missing or not a string", false},
		"missing consumerPid": {TypeContractRequest,
			`{` + ctx + `,"@type":"ContractRequestMessage","callbackAddress":"https://c.example/cb",` + offer + `}`,
			`missing required property "consumerPid"`, true},
		"missing consumerPid in a transfer message": {TypeTransferCompletion,
			`{` + ctx + `,"@type":"TransferCompletionMessage","providerPid":"p"}`,
			`missing required property "consumerPid"`, true},
		"@context a string": {TypeCatalogRequest,
			`{"@context":"https://w3id.org/dspace/2025/1/context.jsonld","@type":"CatalogRequestMessage"}`,
			"@context must be an array of strings", false},
		"@context an object": {TypeCatalogRequest,
			`{"@context":{"@vocab":"https://w3id.org/dspace/2025/1/"},"@type":"CatalogRequestMessage"}`,
			"@context must be an array of strings", false},
		"@context missing": {TypeCatalogRequest, `{"@type":"CatalogRequestMessage"}`, "@context is missing", false},
		"@context of another version": {TypeCatalogRequest,
			`{"@context":["https://w3id.org/dspace/2024/1/context.json"],"@type":"CatalogRequestMessage"}`,
			"@context must be an array of strings naming https://w3id.org/dspace/2025/1/context.jsonld", false},
		"unknown negotiation state": {TypeNegotiation,
			`{` + ctx + `,"@type":"ContractNegotiation","providerPid":"p","consumerPid":"c","state":"DONE"}`,
			`/state: must be one of "REQUESTED"`, true},
		"unknown transfer state": {TypeTransferProcess,
			`{` + ctx + `,"@type":"TransferProcess","providerPid":"p","consumerPid":"c","state":"dspace:STARTED"}`,
			`/state: must be one of`, true},
		"unknown event": {TypeNegotiationEvent,
			`{` + ctx + `,"@type":"ContractNegotiationEventMessage","providerPid":"p","consumerPid":"c","eventType":"AGREED"}`,
			`/eventType: must be one of "ACCEPTED", "FINALIZED", got "AGREED"`, true},
		"request naming callback and provider": {TypeContractRequest,
			`{` + ctx + `,"@type":"ContractRequestMessage","consumerPid":"c","providerPid":"p","callbackAddress":"https://c.example/cb",` + offer + `}`,
			`must have only one of the properties "callbackAddress", "providerPid"`, true},
		"offer without rules": {TypeContractRequest,
			`{` + ctx + `,"@type":"ContractRequestMessage","consumerPid":"c","callbackAddress":"https://c.example/cb","offer":{"@id":"o","@type":"Offer"}}`,
			`/offer: needs at least one of the properties "permission", "prohibition"`, true},
		"number as a pid": {TypeAgreementVerification,
			`{` + ctx + `,"@type":"ContractAgreementVerificationMessage","providerPid":1,"consumerPid":"c"}`,
			`/providerPid: must be string, got number`, true},
		"transfer request without callback": {TypeTransferRequest,
			`{` + ctx + `,"@type":"TransferRequestMessage","consumerPid":"c","agreementId":"a","format":"HttpData-PULL"}`,
			`missing required property "callbackAddress"`, true},
		"empty consumerPid": {TypeContractRequest,
			`{` + ctx + `,"@type":"ContractRequestMessage","consumerPid":"","callbackAddress":"https://c.example/cb",` + offer + `}`,
			"consumerPid is empty", false},
		"empty offer target": {TypeContractOffer,
			`{` + ctx + `,"@type":"ContractOfferMessage","providerPid":"p","callbackAddress":"https://p.example/cb","offer":{"@id":"o","@type":"Offer","target":"","permission":[{"action":"use"}]}}`,
			"offer.target is empty", false},
		"empty agreement assignee": {TypeContractAgreement,
			`{` + ctx + `,"@type":"ContractAgreementMessage","providerPid":"p","consumerPid":"c","agreement":{"@id":"a","@type":"Agreement","target":"d","assigner":"p","assignee":"","permission":[{"action":"use"}]}}`,
			"agreement.assignee is empty", false},
		"a name given twice": {TypeNegotiationEvent,
			`{` + ctx + `,"@type":"ContractNegotiationEventMessage","providerPid":"p","consumerPid":"c","eventType":"ACCEPTED","eventType":"FINALIZED"}`,
			"duplicate", false},
		"name in another case": {TypeAgreementVerification,
			`{` + ctx + `,"@type":"ContractAgreementVerificationMessage","ProviderPid":"p","consumerPid":"c"}`,
			`missing required property "providerPid"`, true},
		"empty body":            {TypeCatalogRequest, "", "the body is empty", false},
		"blank body":            {TypeCatalogRequest, " \n\t", "the body is empty", false},
		"not JSON":              {TypeCatalogRequest, "catalog please", "the body is not a JSON object", false},
		"an array":              {TypeCatalogRequest, `[{"@type":"CatalogRequestMessage"}]`, "the body is not a JSON object", false},
		"two values":            {TypeCatalogRequest, `{` + ctx + `,"@type":"CatalogRequestMessage"} {}`, "the body is not a JSON object", false},
		"cut short":             {TypeCatalogRequest, `{` + ctx + `,"@type":"CatalogRe`, "the body is not a JSON object", false},
		"invalid UTF-8 @type":   {TypeCatalogRequest, `{` + ctx + ",\"@type\":\"Catalog\xffRequestMessage\"}", "invalid UTF-8", false},
		"@type in another case": {TypeCatalogRequest, `{` + ctx + `,"@Type":"CatalogRequestMessage"}`, "@type is missing", false},
	} {
		t.Run(name, func(t *testing.T) {
			v := decodeTarget(c.typ)
			err := DecodeBytes([]byte(c.body), c.typ, v)
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want *MessageError", err)
			}
			if me.Type != c.typ {
				t.Errorf("MessageError.Type = %q, want %q", me.Type, c.typ)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("reason %q does not say %q", err, c.want)
			}
			var se *dspschema.Error
			if got := errors.As(err, &se); got != c.schema {
				t.Errorf("refused by the schema: %v, want %v (%v)", got, c.schema, err)
			}
			// The provider answers it as a 400 whose reason is this one.
			if pe := asProtoError(err); pe.status != http.StatusBadRequest || pe.code != CodeBadMessage {
				t.Errorf("answered %d %s", pe.status, pe.code)
			}
		})
	}
}

func TestTooLargeBodyIsRefused(t *testing.T) {
	// A well-formed message padded past the cap: refused before parsing.
	pad := strings.Repeat(" ", MaxMessageBytes)
	body := `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"CatalogRequestMessage"}` + pad
	err := Decode(strings.NewReader(body), TypeCatalogRequest, new(CatalogRequestMessage))
	var me *MessageError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want a *MessageError saying the body is too large", err)
	}
	// Decode stops reading at the cap: an endless body is refused too.
	err = Decode(io.MultiReader(strings.NewReader(body), endless{}), TypeCatalogRequest, new(CatalogRequestMessage))
	if !errors.As(err, &me) {
		t.Fatalf("endless body: err = %v", err)
	}
	// Exactly at the cap is still read.
	ok := `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"CatalogRequestMessage"}`
	ok += strings.Repeat(" ", MaxMessageBytes-len(ok))
	if err := Decode(bytes.NewReader([]byte(ok)), TypeCatalogRequest, new(CatalogRequestMessage)); err != nil {
		t.Fatalf("a body of exactly MaxMessageBytes: %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestSchemaRefusalNamesThePointer: a schema refusal reads as one sentence
// for the 400 body, not the schema's name twice.
func TestSchemaRefusalNamesThePointer(t *testing.T) {
	body := `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"TransferStartMessage","providerPid":"p","consumerPid":"c",` +
		`"dataAddress":{"@type":"DataAddress","endpointType":"https://w3id.org/idsa/v4.1/HTTP","endpointProperties":[{"@type":"EndpointProperty","name":"authorization"}]}}`
	err := DecodeBytes([]byte(body), TypeTransferStart, new(TransferStartMessage))
	const want = `TransferStartMessage: does not match the DSP 2025-1 schema: /dataAddress/endpointProperties/0: missing required property "value"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// TestCaseVariantNamesAreNotRead: a name the schema does not know is not
// read into a field whose name differs only in case, so nothing reaches the
// struct without passing the schema.
func TestCaseVariantNamesAreNotRead(t *testing.T) {
	body := `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"ContractRequestMessage","consumerPid":"c",` +
		`"callbackAddress":"https://c.example/cb","CallbackAddress":"https://attacker.example/cb",` +
		`"offer":{"@id":"o","@type":"Offer","target":"d","permission":[{"action":"use","Constraint":[{"leftOperand":1}]}]}}`
	var msg ContractRequestMessage
	if err := DecodeBytes([]byte(body), TypeContractRequest, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.CallbackAddress != "https://c.example/cb" {
		t.Errorf("callbackAddress read as %q", msg.CallbackAddress)
	}
	if c := msg.Offer.Permission[0].Constraint; len(c) != 0 {
		t.Errorf("an unvalidated \"Constraint\" was read: %+v", c)
	}
	var d Distribution
	if err := json.Unmarshal([]byte(`{"format":"f","AccessService":"urn:wrong","accessService":"urn:svc"}`), &d); err != nil || d.AccessService != "urn:svc" {
		t.Errorf("accessService read as %q (%v)", d.AccessService, err)
	}
}

// TestOfferWithoutTypeReadsAsOffer: a catalogue may leave out an offer's
// @type; the copy the consumer sends back in its request must carry it.
func TestOfferWithoutTypeReadsAsOffer(t *testing.T) {
	body := `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@id":"urn:d","@type":"Dataset",` +
		`"hasPolicy":[{"@id":"urn:o","permission":[{"action":"use"}]}],"distribution":[{"format":"HttpData-PULL","accessService":"urn:s"}]}`
	var d Dataset
	if err := DecodeBytes([]byte(body), TypeDataset, &d); err != nil {
		t.Fatal(err)
	}
	o := d.HasPolicy[0]
	o.Target = d.ID
	req := ContractRequestMessage{Header: header(TypeContractRequest), ConsumerPID: "c1", Offer: o, CallbackAddress: "https://c.example/dsp"}
	if err := dspschema.ValidateValue(dspschema.ContractRequestMessage, req); err != nil {
		t.Fatal(err)
	}
}
