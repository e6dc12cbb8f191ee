package api

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/xborder/xborder/exchange"
)

// datasetFormats are the answers of an entry's IRI: a landing page for
// humans, the entry's RDF for machines.
var datasetFormats = append([]string{"text/html"}, dcatFormats...)

// formatParams are the ?format= values a link can name, since a link
// cannot set an Accept header.
var formatParams = map[string]string{"html": "text/html", "jsonld": "application/ld+json",
	"turtle": "text/turtle", "ntriples": "application/n-triples"}

// negotiateDataset picks an entry IRI's answer: HTML for browsers and for
// a client that takes anything (a person with curl, most likely), the
// RDF a client names otherwise. ok is false when it accepts none.
func negotiateDataset(accept string) (format string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return "text/html", true
	}
	for _, mt := range acceptRanges(accept) {
		switch {
		case slices.Contains(datasetFormats, mt):
			return mt, true
		case mt == "application/xhtml+xml", mt == "*/*", mt == "text/*":
			return "text/html", true
		case mt == "application/json", mt == "application/*":
			return "application/ld+json", true
		}
	}
	return "", false
}

// datasetIRI answers GET /datasets/{owner}/{id}, an entry's IRI in the
// DCAT export: an open entry, or a protected one its owner lists publicly
// (then the page says how to ask for access). An entry the public may not
// see is 404 with the same message as one that does not exist: the public
// learns nothing of unlisted protected entries.
func (s *Server) datasetIRI(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	format, ok := negotiateDataset(r.Header.Get("Accept"))
	if f := r.URL.Query().Get("format"); f != "" {
		format, ok = formatParams[f]
	}
	if !ok {
		writeError(w, http.StatusNotAcceptable, "an entry is served as "+strings.Join(datasetFormats, ", ")+
			" (or ?format=html|jsonld|turtle|ntriples)")
		return
	}
	owner, id := r.PathValue("owner"), r.PathValue("id")
	g, l, err := s.catalogue.DatasetDCAT(r.Context(), owner, id)
	if errors.Is(err, exchange.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no public entry "+owner+"/"+id)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if format != "text/html" {
		writeDCAT(w, format, g)
		return
	}
	var b bytes.Buffer
	path := "/datasets/" + url.PathEscape(owner) + "/" + url.PathEscape(id)
	if err := landingPage.Execute(&b, struct {
		exchange.Listing
		Path     string
		Open     bool
		HowToAsk string
	}{l, path, l.Classification == "open", exchange.HowToAsk(l.Entry)}); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page loads nothing and runs nothing.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b.Bytes())
}

// landingPage is a publicly listed entry's page: what DCAT says of it, in
// words. html/template escapes every value.
var landingPage = template.Must(template.New("dataset").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}} — {{.Publisher}}</title>
<link rel="alternate" type="application/ld+json" href="{{.Path}}?format=jsonld">
<link rel="alternate" type="text/turtle" href="{{.Path}}?format=turtle">
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Description}}</p>
<dl>
<dt>Identifier</dt><dd><code>{{.Owner}}/{{.ID}}</code> (version {{.Version}})</dd>
<dt>Publisher</dt><dd>{{.Publisher}} ({{.Owner}}, {{.Country}})</dd>
<dt>Kind</dt><dd>{{.Kind}}</dd>
<dt>Theme</dt><dd>{{.Theme}}</dd>
<dt>Licence</dt><dd>{{if .License}}{{.License}}{{else}}none stated{{end}}</dd>
{{with .Keywords}}<dt>Keywords</dt><dd>{{range $i, $k := .}}{{if $i}}, {{end}}{{$k}}{{end}}</dd>{{end}}
{{if .Open}}<dt>Access</dt><dd>Public.</dd>
<dt>Distribution</dt><dd><a href="/v1/catalogue/{{.Owner}}/{{.ID}}">/v1/catalogue/{{.Owner}}/{{.ID}}</a>: {{.MediaType}}, {{.Size}} bytes, SHA-256 <code>{{.SHA256}}</code>. Fetched through a member node of the federation.</dd>
{{else}}<dt>Access</dt><dd>{{if eq .Classification "restricted"}}Restricted{{else}}Non-public{{end}} ({{.Classification}}{{if .PersonalData}}, personal data{{end}}). {{.HowToAsk}}</dd>
<dt>Distribution</dt><dd>{{.MediaType}}, {{.Size}} bytes; not downloadable from this catalogue.</dd>
{{end}}
<dt>Modified</dt><dd>{{.Modified.UTC.Format "2006-01-02 15:04 UTC"}}</dd>
</dl>
<p>Metadata (DCAT-AP 3.0.1): <a href="{{.Path}}?format=jsonld">JSON-LD</a> · <a href="{{.Path}}?format=turtle">Turtle</a> · <a href="{{.Path}}?format=ntriples">N-Triples</a> · <a href="/v1/dcat/federation">the federation's catalogue</a></p>
</body></html>
`))
