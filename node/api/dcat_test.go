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

// GET /v1/dcat/federation is served like /v1/dcat: no token, negotiated.
func TestDCATFederationRoute(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/v1/dcat/federation", nil)
	req.Header.Set("Accept", "application/n-triples")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/n-triples" {
		t.Errorf("GET /v1/dcat/federation: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestNegotiateDataset(t *testing.T) {
	for accept, want := range map[string]string{
		"":    "text/html",
		"*/*": "text/html",
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": "text/html",
		"application/ld+json":                      "application/ld+json",
		"application/json":                         "application/ld+json",
		"text/turtle":                              "text/turtle",
		"text/turtle;q=0.9, application/n-triples": "application/n-triples",
		"application/rdf+xml":                      "",
	} {
		got, ok := negotiateDataset(accept)
		if got != want || ok != (want != "") {
			t.Errorf("Accept %q: %q, %v; want %q", accept, got, ok, want)
		}
	}
}

// An open entry's IRI answers a browser with an escaped landing page and
// machines with the entry's RDF, without a token; a restricted entry is
// 404 byte for byte like an unknown one.
func TestDatasetIRIAnswersHumansAndMachines(t *testing.T) {
	f := newFixture(t)
	get := func(path, accept string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
	}
	const iri = "<https://xborder.grandest.example/datasets/fr-grandest/air>"
	code, ct, body := get("/datasets/fr-grandest/air", "text/html,application/xhtml+xml,*/*;q=0.8")
	if code != 200 || ct != "text/html; charset=utf-8" ||
		!strings.Contains(body, "<h1>Air &lt;quality&gt; &amp; NO2</h1>") || strings.Contains(body, "<quality>") ||
		!strings.Contains(body, "Région Grand Est") || !strings.Contains(body, "CC-BY-4.0") ||
		!strings.Contains(body, `href="/datasets/fr-grandest/air?format=turtle"`) ||
		!strings.Contains(body, `href="/v1/catalogue/fr-grandest/air"`) {
		t.Errorf("HTML: %d %s\n%s", code, ct, body)
	}
	for accept, want := range map[string]string{
		"text/turtle":           iri + " <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/dcat#Dataset> .\n",
		"application/n-triples": iri + " <http://purl.org/dc/terms/title> \"Air <quality> & NO2\" .\n",
		"application/ld+json":   `"@id": "https://xborder.grandest.example/datasets/fr-grandest/air"`,
	} {
		code, ct, body := get("/datasets/fr-grandest/air", accept)
		if code != 200 || ct != accept || !strings.Contains(body, want) {
			t.Errorf("Accept %s: %d %s, want %q in\n%s", accept, code, ct, want, body)
		}
	}
	if code, ct, body := get("/datasets/fr-grandest/air?format=turtle", "text/html"); code != 200 || ct != "text/turtle" || !strings.Contains(body, iri) {
		t.Errorf("?format=turtle: %d %s %s", code, ct, body)
	}
	if code, _, _ := get("/datasets/fr-grandest/air", "application/rdf+xml"); code != 406 {
		t.Errorf("RDF/XML: %d, want 406", code)
	}
	// A protected entry its owner lists: how to ask, no download.
	code, _, body = get("/datasets/fr-grandest/beds", "text/html")
	if code != 200 || !strings.Contains(body, "Non-public (sensitive, personal data).") ||
		!strings.Contains(body, "xborder request fr-grandest/beds --purpose PURPOSE") ||
		strings.Contains(body, "/v1/catalogue/") || strings.Contains(body, strings.Repeat("ef", 32)) {
		t.Errorf("listed sensitive entry: %d\n%s", code, body)
	}
	code, _, body = get("/datasets/fr-grandest/beds", "text/turtle")
	if code != 200 || !strings.Contains(body, "access-right/NON_PUBLIC>") {
		t.Errorf("listed sensitive entry as Turtle: %d\n%s", code, body)
	}
	for _, accept := range []string{"text/html", "text/turtle", "application/ld+json"} {
		c1, ct1, b1 := get("/datasets/fr-grandest/icu", accept)
		c2, ct2, b2 := get("/datasets/fr-grandest/nothing", accept)
		if c1 != 404 || c2 != 404 || ct1 != ct2 || strings.Replace(b1, "icu", "nothing", 1) != b2 || strings.Contains(b1, "ICU") {
			t.Errorf("Accept %s: restricted %d %s %q, unknown %d %s %q", accept, c1, ct1, b1, c2, ct2, b2)
		}
	}
}
