package dspschema

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/fstest"
)

// TestLoaderRefusesEveryAddressNotEmbedded compiles schemas that refer to a
// live HTTP server, to a file and to a w3id address that is not embedded:
// each fails to compile with ErrNotEmbedded and the server sees no request.
func TestLoaderRefusesEveryAddressNotEmbedded(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type":"object"}`))
	}))
	defer srv.Close()

	for _, ref := range []string{
		srv.URL + "/remote-schema.json",
		srv.URL + "/remote-schema.json#/definitions/X",
		"file:///etc/passwd",
		Base + "catalog/not-published-schema.json",
		"https://w3id.org/dspace/2024/1/catalog/catalog-schema.json",
	} {
		t.Run(ref, func(t *testing.T) {
			fsys := fstest.MapFS{
				"catalog/probe-schema.json": {Data: []byte(`{
					"$schema": "https://json-schema.org/draft/2019-09/schema",
					"$id": "` + Base + `catalog/probe-schema.json",
					"type": "object",
					"properties": {"x": {"$ref": "` + ref + `"}}
				}`)},
			}
			_, err := compile(fsys, []Schema{Base + "catalog/probe-schema.json"})
			if !errors.Is(err, ErrNotEmbedded) {
				t.Fatalf("compile with $ref %s: err = %v, want ErrNotEmbedded", ref, err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the schema loader made %d HTTP requests", n)
	}
}

// TestLoaderResolvesEmbeddedReferences: a $ref to an embedded schema by its
// w3id address resolves without any loader call.
func TestLoaderResolvesEmbeddedReferences(t *testing.T) {
	fsys := fstest.MapFS{
		"common/context-schema.json": {Data: mustRead(t, "schemas/common/context-schema.json")},
		"catalog/probe-schema.json": {Data: []byte(`{
			"$schema": "https://json-schema.org/draft/2019-09/schema",
			"$id": "` + Base + `catalog/probe-schema.json",
			"type": "object",
			"properties": {"@context": {"$ref": "` + string(Context) + `"}},
			"required": ["@context"]
		}`)},
	}
	v, err := compile(fsys, []Schema{Base + "catalog/probe-schema.json"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(Base+"catalog/probe-schema.json", []byte(`{"@context":["`+ContextURL+`"]}`)); err != nil {
		t.Fatalf("valid document refused: %v", err)
	}
	if err := v.Validate(Base+"catalog/probe-schema.json", []byte(`{"@context":["https://example.com/other"]}`)); err == nil {
		t.Fatal("a @context without the DSP context was accepted")
	}
}

// TestLoaderChecksIDs: a schema file whose $id does not match where it lies
// would shadow another address; loading refuses it.
func TestLoaderChecksIDs(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/probe-schema.json": {Data: []byte(`{"$id": "` + Base + `negotiation/contract-schema.json", "type": "object"}`)},
	}
	if _, err := compile(fsys, nil); err == nil {
		t.Fatal("a schema with a misplaced $id was loaded")
	}
}

func TestEveryEmbeddedExampleHasASchema(t *testing.T) {
	names := exampleFiles()
	if len(names) < 27 {
		t.Fatalf("only %d example files embedded", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
		if _, ok := exampleSchemas[n]; !ok {
			t.Errorf("example %s has no schema assigned in exampleSchemas", n)
		}
	}
	for n := range exampleSchemas {
		if !seen[n] {
			t.Errorf("exampleSchemas names %s, which is not embedded", n)
		}
	}
	for n := range errata {
		if !seen[n] {
			t.Errorf("errata names %s, which is not embedded", n)
		}
	}
}

func TestFixRefs(t *testing.T) {
	doc := map[string]any{"allOf": []any{
		map[string]any{"$ref": "https://w3id.org/dspace/2025/1/transfer/transfer-schema.json#definitions/A"},
		map[string]any{"$ref": "#/definitions/B"},
		map[string]any{"$ref": "#anchor"},
	}}
	fixRefs(doc)
	got := doc["allOf"].([]any)
	for i, want := range []string{
		"https://w3id.org/dspace/2025/1/transfer/transfer-schema.json#/definitions/A",
		"#/definitions/B",
		"#anchor",
	} {
		if ref := got[i].(map[string]any)["$ref"]; ref != want {
			t.Errorf("$ref %d = %v, want %s", i, ref, want)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
