package exchange

import (
	"mime"
	"strings"
)

// The controlled vocabularies DCAT-AP 3 and MLDCAT-AP 3 name, as far as the
// catalogue's own values map onto them. Every concept carries a
// skos:prefLabel in the export, because the shapes require one and a
// harvester may not dereference the vocabulary.

// Namespaces of the export. The prefixes name them in JSON-LD's context and
// in Turtle.
const (
	nsRDF    = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	nsRDFS   = "http://www.w3.org/2000/01/rdf-schema#"
	nsXSD    = "http://www.w3.org/2001/XMLSchema#"
	nsDCAT   = "http://www.w3.org/ns/dcat#"
	nsDCT    = "http://purl.org/dc/terms/"
	nsFOAF   = "http://xmlns.com/foaf/0.1/"
	nsVCARD  = "http://www.w3.org/2006/vcard/ns#"
	nsSKOS   = "http://www.w3.org/2004/02/skos/core#"
	nsSPDX   = "http://spdx.org/rdf/terms#"
	nsDCATAP = "http://data.europa.eu/r5r/"
	nsMLDCAT = "http://data.europa.eu/it6/"
	nsDQV    = "http://www.w3.org/ns/dqv#"
	nsQB     = "http://purl.org/linked-data/cube#"
	nsGSP    = "http://www.opengis.net/ont/geosparql#"
	nsEU     = "http://publications.europa.eu/resource/authority/"
	nsIANA   = "https://www.iana.org/assignments/media-types/"
)

// dcatPrefixes are the prefixes of the JSON-LD context,
// longest namespace first where one contains another.
var dcatPrefixes = []struct{ Prefix, NS string }{
	{"rdf", nsRDF}, {"rdfs", nsRDFS}, {"xsd", nsXSD}, {"dcat", nsDCAT}, {"dct", nsDCT}, {"foaf", nsFOAF},
	{"vcard", nsVCARD}, {"skos", nsSKOS}, {"spdx", nsSPDX}, {"dcatap", nsDCATAP}, {"mldcat", nsMLDCAT},
	{"dqv", nsDQV}, {"qb", nsQB}, {"gsp", nsGSP},
	{"theme", nsEU + "data-theme/"}, {"country", nsEU + "country/"}, {"licence", nsEU + "licence/"},
	{"filetype", nsEU + "file-type/"}, {"access", nsEU + "access-right/"}, {"availability", nsEU + "planned-availability/"},
	{"licencetype", "http://purl.org/adms/licencetype/"}, {"iana", nsIANA},
}

// concept is a term of a controlled vocabulary with its English label.
type concept struct{ IRI, Label string }

// euDataTheme maps the federation's themes to the EU data-theme
// vocabulary.
var euDataTheme = map[string]concept{
	"health":     {nsEU + "data-theme/HEAL", "Health"},
	"industry":   {nsEU + "data-theme/TECH", "Science and technology"},
	"bioeconomy": {nsEU + "data-theme/AGRI", "Agriculture, fisheries, forestry and food"},
}

// country is a country of the EU country authority, with the bounding box
// and centroid DCAT-AP recommends for a dct:Location (WGS 84, degrees
// rounded to 0.1, the mainland only).
type country struct {
	ISO3, Name       string
	BBox             [4]float64 // west, south, east, north
	CentroidLon, Lat float64
}

// countries are the cooperation area and its neighbours, by ISO 3166-1
// alpha-2 code as the federation writes them.
var countries = map[string]country{
	"FR": {"FRA", "France", [4]float64{-5.2, 41.3, 9.6, 51.1}, 2.2, 46.2},
	"DE": {"DEU", "Germany", [4]float64{5.9, 47.3, 15.0, 55.1}, 10.4, 51.1},
	"CH": {"CHE", "Switzerland", [4]float64{5.9, 45.8, 10.5, 47.8}, 8.2, 46.8},
	"BE": {"BEL", "Belgium", [4]float64{2.5, 49.5, 6.4, 51.5}, 4.5, 50.5},
	"LU": {"LUX", "Luxembourg", [4]float64{5.7, 49.4, 6.5, 50.2}, 6.1, 49.8},
	"NL": {"NLD", "Netherlands", [4]float64{3.3, 50.7, 7.2, 53.6}, 5.3, 52.1},
	"IT": {"ITA", "Italy", [4]float64{6.6, 36.6, 18.5, 47.1}, 12.6, 42.5},
	"AT": {"AUT", "Austria", [4]float64{9.5, 46.4, 17.2, 49.0}, 14.6, 47.6},
	"ES": {"ESP", "Spain", [4]float64{-9.4, 36.0, 3.3, 43.8}, -3.7, 40.4},
}

// licence is a licence document with its ADMS licence types.
type licence struct {
	IRI   string
	Types []string // local names under http://purl.org/adms/licencetype/
}

// licences maps the SPDX identifiers operators write to IRIs: the EU
// licence authority's where it has the licence (portals facet on those),
// SPDX's otherwise. Keys are lower-case.
var licences = map[string]licence{
	"cc-by-4.0":       {nsEU + "licence/CC_BY_4_0", []string{"Attribution"}},
	"cc-by-sa-4.0":    {nsEU + "licence/CC_BY_SA_4_0", []string{"Attribution", "ShareAlike"}},
	"cc-by-nc-4.0":    {nsEU + "licence/CC_BY_NC_4_0", []string{"Attribution", "NonCommercialUseOnly"}},
	"cc-by-nd-4.0":    {nsEU + "licence/CC_BY_ND_4_0", []string{"Attribution", "NoDerivativeWork"}},
	"cc-by-nc-sa-4.0": {nsEU + "licence/CC_BY_NC_SA_4_0", []string{"Attribution", "NonCommercialUseOnly", "ShareAlike"}},
	"cc-by-nc-nd-4.0": {nsEU + "licence/CC_BY_NC_ND_4_0", []string{"Attribution", "NonCommercialUseOnly", "NoDerivativeWork"}},
	"cc0-1.0":         {nsEU + "licence/CC0", []string{"PublicDomain"}},
	"dl-de-by-2.0":    {"http://spdx.org/licenses/DL-DE-BY-2.0", []string{"Attribution"}},
	"dl-de-zero-2.0":  {"http://spdx.org/licenses/DL-DE-ZERO-2.0", nil},
	"etalab-2.0":      {"http://spdx.org/licenses/etalab-2.0", []string{"Attribution"}},
	"odbl-1.0":        {"http://spdx.org/licenses/ODbL-1.0", []string{"Attribution", "ShareAlike"}},
	"apache-2.0":      {"http://spdx.org/licenses/Apache-2.0", []string{"Attribution"}},
	"mit":             {"http://spdx.org/licenses/MIT", []string{"Attribution"}},
}

// licenceTypeLabels are the ADMS licence types' labels.
var licenceTypeLabels = map[string]string{
	"Attribution": "Attribution", "ShareAlike": "Share-alike", "NonCommercialUseOnly": "Non-commercial use only",
	"NoDerivativeWork": "No derivative work", "PublicDomain": "Public domain",
}

// fileTypes maps media types (without parameters) to the EU file-type
// authority.
var fileTypes = map[string]concept{
	"text/csv":                 {nsEU + "file-type/CSV", "CSV"},
	"application/json":         {nsEU + "file-type/JSON", "JSON"},
	"application/ld+json":      {nsEU + "file-type/JSON_LD", "JSON-LD"},
	"application/geo+json":     {nsEU + "file-type/GEOJSON", "GeoJSON"},
	"application/xml":          {nsEU + "file-type/XML", "XML"},
	"text/xml":                 {nsEU + "file-type/XML", "XML"},
	"text/plain":               {nsEU + "file-type/TXT", "TXT"},
	"text/html":                {nsEU + "file-type/HTML", "HTML"},
	"application/pdf":          {nsEU + "file-type/PDF", "PDF"},
	"application/zip":          {nsEU + "file-type/ZIP", "ZIP"},
	"application/gzip":         {nsEU + "file-type/GZIP", "GZIP"},
	"image/png":                {nsEU + "file-type/PNG", "PNG"},
	"image/jpeg":               {nsEU + "file-type/JPEG", "JPEG"},
	"image/tiff":               {nsEU + "file-type/TIFF", "TIFF"},
	"application/vnd.ms-excel": {nsEU + "file-type/XLS", "XLS"},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {nsEU + "file-type/XLSX", "XLSX"},
	"application/vnd.apache.parquet":                                    {nsEU + "file-type/PARQUET", "Parquet"},
	"application/x-netcdf":                                              {nsEU + "file-type/NETCDF", "NetCDF"},
	"application/octet-stream":                                          fileTypeBinary,
}

// fileTypeBinary is what every file is when nothing more is known; an
// mldcat:File must name a format.
var fileTypeBinary = concept{nsEU + "file-type/BIN", "Binary data"}

// bareMediaType strips the parameters ("; charset=utf-8") that an IANA
// media-type IRI does not carry; "" when the value is not a media type.
func bareMediaType(v string) string {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil || !strings.Contains(mt, "/") {
		return ""
	}
	return mt
}

// slug turns free text into an IRI path segment: lower-case letters,
// digits and dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if out == "" {
		return "unnamed"
	}
	return out
}
