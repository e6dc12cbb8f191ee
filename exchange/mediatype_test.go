package exchange

import (
	"context"
	"strings"
	"testing"
)

// A Parquet file's media type comes from its name, which Go's table and
// the system's may not know.
func TestPublishMediaTypeByName(t *testing.T) {
	fr := newCatFederation(t, "fr-grandest")[0]
	for name, want := range map[string]string{
		"cohort.parquet":   "application/vnd.apache.parquet",
		"COHORT.Parquet":   "application/vnd.apache.parquet",
		"cohort.json":      "application/json",
		"cohort.unknown-x": "text/plain; charset=utf-8", // sniffed
	} {
		id := strings.ToLower(strings.NewReplacer(".", "-").Replace(name))
		e, err := fr.cat.Publish(context.Background(), Publication{ID: id, Title: "Dataset " + id, Theme: "health",
			Classification: "open", License: "CC-BY-4.0", FileName: name}, strings.NewReader("a,b\n1,2\n"))
		if err != nil {
			t.Fatal(err)
		}
		if e.MediaType != want {
			t.Errorf("%s: media type %q, want %q", name, e.MediaType, want)
		}
	}
}
