package dsp

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/xborder/xborder/dsp/dspschema"
)

// fuzzDecode fuzzes DecodeBytes for the given message types: it never
// panics, every refusal is a *MessageError naming the expected type, and a
// message it accepts is one the package can write back so that it still
// matches the official schema (what the consumer echoes, e.g. an offer,
// stays valid).
func fuzzDecode(f *testing.F, types ...string) {
	for i, typ := range types {
		for _, ex := range dspschema.ExamplesOf(schemaOf(f, typ)) {
			f.Add(uint8(i), ex.Body)
		}
	}
	const ctx = `"@context":["https://w3id.org/dspace/2025/1/context.jsonld"]`
	for _, body := range []string{
		"", "{}", "null", `[]`, `{` + ctx + `}`, `{"@context":"x","@type":1}`,
		`{` + ctx + `,"@type":"ContractRequestMessage","consumerPid":"c","callbackAddress":"u","offer":{"@id":"o","@type":"Offer","permission":[{"action":"use","constraint":[{"and":[{"or":[]}]}]}]}}`,
		`{` + ctx + `,"@type":"Dataset","@id":"d","hasPolicy":[{"@id":"o","@type":"Offer","prohibition":[{"action":"x"}]}],"distribution":[{"format":"f","accessService":{"@id":"s","@type":"DataService","endpointURL":"u"}}]}`,
	} {
		f.Add(uint8(0), []byte(body))
	}
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		typ := types[int(pick)%len(types)]
		v := decodeTarget(typ)
		err := DecodeBytes(body, typ, v)
		if err != nil {
			var me *MessageError
			if !errors.As(err, &me) || me.Type != typ || me.Reason == "" {
				t.Fatalf("refusal %#v is not a *MessageError naming %s", err, typ)
			}
			return
		}
		if me, ok := v.(*ErrorMessage); ok && typ != TypeCatalogError && (me.ProviderPID == "" || me.ConsumerPID == "") {
			// An error object naming no process is written by writeError,
			// which keeps both pids; ErrorMessage alone leaves them out.
			return
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("an accepted %s cannot be written back: %v", typ, err)
		}
		if err := dspschema.Validate(schemaOf(t, typ), out); err != nil {
			t.Fatalf("accepted %s written back fails its schema: %v\nin:  %s\nout: %s", typ, err, body, out)
		}
	})
}

// FuzzDecode covers every message type the package decodes.
func FuzzDecode(f *testing.F) { fuzzDecode(f, decodedTypes...) }

// The messages a provider takes from a participant it has not dealt with
// before, fuzzed on their own.
func FuzzDecodeCatalogRequest(f *testing.F)  { fuzzDecode(f, TypeCatalogRequest, TypeDatasetRequest) }
func FuzzDecodeContractRequest(f *testing.F) { fuzzDecode(f, TypeContractRequest) }
func FuzzDecodeTransferRequest(f *testing.F) { fuzzDecode(f, TypeTransferRequest) }

// The documents a consumer reads from a provider.
func FuzzDecodeCatalog(f *testing.F)   { fuzzDecode(f, TypeCatalog, TypeDataset) }
func FuzzDecodeAgreement(f *testing.F) { fuzzDecode(f, TypeContractAgreement, TypeContractOffer) }

// The messages on an existing process.
func FuzzDecodeProcessMessage(f *testing.F) {
	fuzzDecode(f, TypeAgreementVerification, TypeNegotiationEvent, TypeNegotiationTermination,
		TypeNegotiation, TypeTransferStart, TypeTransferSuspension, TypeTransferCompletion,
		TypeTransferTermination, TypeTransferProcess, TypeNegotiationError, TypeTransferError, TypeCatalogError)
}
