package dspschema_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xborder/xborder/dsp/dspschema"
)

// FuzzValidate feeds arbitrary bytes to the validator, against the schema
// its @type names and against a message schema with oneOf/not branches:
// it must never panic, and every refusal must be a worded *Error.
func FuzzValidate(f *testing.F) {
	for _, ex := range dspschema.Examples() {
		f.Add(ex.Body)
	}
	f.Add([]byte(`{"@context":[],"@type":"ContractRequestMessage","offer":{"permission":[{"constraint":[{"and":[{"or":[]}]}]}]}}`))
	f.Add([]byte(`{"@context":{"@vocab":"x"},"@type":"TransferProcess","state":null}`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, doc []byte) {
		schemas := []dspschema.Schema{dspschema.ContractRequestMessage, dspschema.Catalog}
		var typed struct {
			Type string `json:"@type"`
		}
		if json.Unmarshal(doc, &typed) == nil {
			if s, ok := dspschema.ForType(typed.Type); ok {
				schemas = append(schemas, s)
			}
		}
		for _, s := range schemas {
			err := dspschema.Validate(s, doc)
			if err == nil {
				continue
			}
			var se *dspschema.Error
			if !errors.As(err, &se) {
				t.Fatalf("%s: err %v is not a *dspschema.Error", s.Name(), err)
			}
			if len(se.Causes) == 0 || !strings.HasPrefix(err.Error(), "invalid "+s.Name()+": ") {
				t.Fatalf("%s: unworded error %q", s.Name(), err)
			}
			if !slices.IsSortedFunc(se.Causes, func(a, b dspschema.Cause) int { return strings.Compare(a.Pointer, b.Pointer) }) {
				t.Fatalf("causes out of order: %q", se.Causes)
			}
		}
	})
}
