package api

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestNegotiateDCAT(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                       "application/ld+json",
		"*/*":                                    "application/ld+json",
		"application/json":                       "application/ld+json",
		"text/turtle":                            "text/turtle",
		"text/*":                                 "text/turtle",
		"application/n-triples":                  "application/n-triples",
		"application/rdf+xml, text/turtle;q=0.8": "text/turtle",
		"text/turtle;q=0.5, application/ld+json": "application/ld+json",
		"text/html,application/xhtml+xml,*/*;q=0.8": "application/ld+json",
		"application/rdf+xml":                       "",
		"text/turtle;q=0":                           "",
	} {
		got, ok := negotiateDCAT(accept)
		if got != want || ok != (want != "") {
			t.Errorf("Accept %q: %q, %v; want %q", accept, got, ok, want)
		}
	}
}

// GET /v1/dcat needs no token and answers in the negotiated format, or
// 406.
func TestDCATContentNegotiation(t *testing.T) {
	f := newFixture(t)
	for accept, want := range map[string]int{"text/turtle": 200, "application/n-triples": 200, "": 200, "application/rdf+xml": 406} {
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/v1/dcat", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != want || want == 200 && accept != "" && ct != accept ||
			accept == "" && ct != "application/ld+json" || !strings.Contains(resp.Header.Get("Vary"), "Accept") {
			t.Errorf("Accept %q: %d %s %s", accept, resp.StatusCode, ct, body)
		}
	}
}
