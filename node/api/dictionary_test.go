package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A dataset's data dictionary is published with its metadata, shown in
// the entry's JSON, and refused with 400, the problem named, when invalid.
func TestPublishDatasetWithADictionary(t *testing.T) {
	f := newFixture(t)
	op := f.token(t, RoleOperator, time.Hour)
	send := func(dict string) (int, string) {
		t.Helper()
		meta := `{"id": "icu", "title": "ICU", "theme": "health", "classification": "sensitive", "dictionary": ` + dict + `}`
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mp, _ := mw.CreateFormField("metadata")
		mp.Write([]byte(meta))
		fp, _ := mw.CreateFormFile("file", "icu.csv")
		fp.Write([]byte("age,sex\n54,F\n"))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/v1/datasets", &body)
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	code, body := send(`{"columns": [{"name": "age", "type": "integer"}, {"name": "sex", "type": "categorical", "levels": ["F"]}, {"name": "sex", "type": "nominal"}]}`)
	for _, want := range []string{`dictionary: column \"sex\": the name appears twice`, `dictionary: column \"sex\": unknown type \"nominal\"`} {
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("a bad dictionary: %d %.300s, want 400 with %s", code, body, want)
		}
	}
	const dict = `{"columns":[{"name":"age","type":"integer","unit":"year"},{"name":"sex","type":"categorical","levels":["F","M"]}]}`
	code, body = send(dict)
	if code != http.StatusOK {
		t.Fatalf("publish: %d %.300s", code, body)
	}
	var e struct {
		Dictionary json.RawMessage `json:"dictionary"`
	}
	var compact bytes.Buffer
	if err := json.Unmarshal([]byte(body), &e); err != nil || json.Compact(&compact, e.Dictionary) != nil || compact.String() != dict {
		t.Errorf("the published entry's dictionary: %s, %v; want %s", e.Dictionary, err, dict)
	}
}
