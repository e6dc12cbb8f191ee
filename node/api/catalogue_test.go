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

// Metadata over the catalogue's size limits is refused with 400, the
// field and the limit named: an entry without limits could stop every
// partner's catalogue sync.
func TestPublishRefusesMetadataOverTheLimits(t *testing.T) {
	f := newFixture(t)
	op := f.token(t, RoleOperator, time.Hour)
	send := func(meta map[string]any) (int, string) {
		t.Helper()
		raw, err := json.Marshal(meta)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mp, _ := mw.CreateFormField("metadata")
		mp.Write(raw)
		fp, _ := mw.CreateFormFile("file", "air.csv")
		fp.Write([]byte("a,b\n"))
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
	manyKeywords := make([]string, 65)
	for i := range manyKeywords {
		manyKeywords[i] = "k" + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		field string
		value any
		want  string
	}{
		{"title", strings.Repeat("t", 513), "title: 513 bytes, limit 512 bytes"},
		{"description", strings.Repeat("d", 900<<10), "description: 921600 bytes, limit 32768 bytes"},
		{"keywords", manyKeywords, "keywords: 65 items, limit 64"},
		{"keywords", []string{strings.Repeat("k", 129)}, "keywords[0]: 129 bytes, limit 128 bytes"},
	} {
		meta := map[string]any{"id": "air", "title": "Air", "theme": "health", "classification": "open"}
		meta[tc.field] = tc.value
		code, body := send(meta)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %.300s, want 400 with %q", tc.field, code, body, tc.want)
		}
	}
	if code, body := send(map[string]any{"id": "air", "title": strings.Repeat("t", 512), "theme": "health", "classification": "open",
		"description": strings.Repeat("d", 32<<10), "keywords": manyKeywords[:64]}); code != http.StatusOK {
		t.Fatalf("metadata at the limits: %d %.300s", code, body)
	}
}
