package api

import (
	"cmp"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/xborder/xborder/exchange"
)

// dcatFormats are the serialisations of GET /v1/dcat, the default first.
// Turtle is served as N-Triples, which is Turtle's line-per-triple subset:
// json-gold, the RDF library the export is built with, writes no other
// Turtle, and a printer of our own is what the library is there to avoid.
// RDF/XML is not offered yet.
var dcatFormats = []string{"application/ld+json", "text/turtle", "application/n-triples"}

// negotiateDCAT picks the serialisation an Accept header prefers: the
// highest q first, then the header's order; application/json and the
// wildcards get JSON-LD, text/* Turtle. ok is false when the header
// accepts none of them.
func negotiateDCAT(accept string) (format string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return dcatFormats[0], true
	}
	for _, mt := range acceptRanges(accept) {
		switch {
		case slices.Contains(dcatFormats, mt):
			return mt, true
		case mt == "application/json", mt == "*/*", mt == "application/*":
			return dcatFormats[0], true
		case mt == "text/*":
			return "text/turtle", true
		}
	}
	return "", false
}

// acceptRanges are the media ranges an Accept header accepts (q > 0),
// the highest q first, then in the header's order.
func acceptRanges(accept string) []string {
	type rng struct {
		mt string
		q  float64
	}
	var rs []rng
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, has := params["q"]; has {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		if q > 0 {
			rs = append(rs, rng{mt, q})
		}
	}
	slices.SortStableFunc(rs, func(a, b rng) int { return cmp.Compare(b.q, a.q) })
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.mt
	}
	return out
}

// dcat serves the DCAT-AP graph, the node's or the federation's, in the
// format the client asks for.
func (s *Server) dcat(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	format, ok := negotiateDCAT(r.Header.Get("Accept"))
	if !ok {
		writeError(w, http.StatusNotAcceptable, "the DCAT catalogue is served as "+strings.Join(dcatFormats, ", "))
		return
	}
	g := s.catalogue.DCAT(r.Context())
	if r.URL.Path == "/v1/dcat/federation" {
		g = s.catalogue.DCATFederation(r.Context())
	}
	writeDCAT(w, format, g)
}

// writeDCAT writes g in format, one of dcatFormats.
func writeDCAT(w http.ResponseWriter, format string, g *exchange.DCATGraph) {
	var body []byte
	var err error
	switch format {
	case "text/turtle", "application/n-triples":
		body, err = g.NTriples()
	default:
		var doc map[string]any
		if doc, err = g.JSONLD(); err == nil {
			body, err = jsonIndent(doc)
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", format)
	_, _ = w.Write(body)
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}
