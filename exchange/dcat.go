package exchange

import (
	"context"
	"time"
)

// euDataTheme maps the federation's themes to the EU data-theme
// vocabulary that DCAT-AP uses.
var euDataTheme = map[string]string{
	"health":     "http://publications.europa.eu/resource/authority/data-theme/HEAL",
	"industry":   "http://publications.europa.eu/resource/authority/data-theme/TECH",
	"bioeconomy": "http://publications.europa.eu/resource/authority/data-theme/AGRI",
}

// DCATCatalog is the node's public catalogue as DCAT-AP 3 JSON-LD, for
// national and EU data portals to harvest.
type DCATCatalog struct {
	Context     map[string]string `json:"@context"`
	ID          string            `json:"@id"`
	Type        string            `json:"@type"`
	Title       string            `json:"dct:title"`
	Description string            `json:"dct:description"`
	Publisher   DCATAgent         `json:"dct:publisher"`
	Datasets    []DCATDataset     `json:"dcat:dataset"`
}

// DCATAgent is a foaf:Agent.
type DCATAgent struct {
	Type string `json:"@type"`
	Name string `json:"foaf:name"`
}

// DCATDataset is a dcat:Dataset.
type DCATDataset struct {
	ID           string             `json:"@id"`
	Type         string             `json:"@type"`
	Identifier   string             `json:"dct:identifier"`
	Title        string             `json:"dct:title"`
	Description  string             `json:"dct:description"`
	Theme        string             `json:"dcat:theme,omitempty"`
	Keywords     []string           `json:"dcat:keyword"`
	Publisher    DCATAgent          `json:"dct:publisher"`
	Spatial      string             `json:"dct:spatial"`
	Issued       string             `json:"dct:issued"`
	Modified     string             `json:"dct:modified"`
	Distribution []DCATDistribution `json:"dcat:distribution"`
}

// DCATDistribution is a dcat:Distribution with its checksum.
type DCATDistribution struct {
	Type      string       `json:"@type"`
	AccessURL string       `json:"dcat:accessURL"`
	ByteSize  int64        `json:"dcat:byteSize"`
	MediaType string       `json:"dcat:mediaType"`
	License   string       `json:"dct:license,omitempty"`
	Checksum  DCATChecksum `json:"spdx:checksum"`
}

// DCATChecksum is an spdx:Checksum.
type DCATChecksum struct {
	Type      string `json:"@type"`
	Algorithm string `json:"spdx:algorithm"`
	Value     string `json:"spdx:checksumValue"`
}

// DCAT renders the node's own open entries; baseURL prefixes identifiers
// and access URLs (the node's public address).
func (c *Catalogue) DCAT(_ context.Context, baseURL string) DCATCatalog {
	cat := DCATCatalog{
		Context: map[string]string{
			"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
			"foaf": "http://xmlns.com/foaf/0.1/", "spdx": "http://spdx.org/rdf/terms#",
		},
		ID: baseURL + "/v1/dcat", Type: "dcat:Catalog",
		Title:       c.self.Org + " — xborder catalogue",
		Description: "Open datasets and models that " + c.self.Org + " shares in the cross-border AI federation.",
		Publisher:   DCATAgent{Type: "foaf:Agent", Name: c.self.Org},
		Datasets:    []DCATDataset{},
	}
	for _, l := range c.search(Filter{Owner: c.self.Name, Classification: "open"}) {
		e := l.Entry
		cat.Datasets = append(cat.Datasets, DCATDataset{
			ID: baseURL + "/v1/catalogue/" + e.Ref(), Type: "dcat:Dataset", Identifier: e.Ref(),
			Title: e.Title, Description: e.Description, Theme: euDataTheme[e.Theme], Keywords: e.Keywords,
			Publisher: DCATAgent{Type: "foaf:Agent", Name: e.Publisher},
			Spatial:   "http://publications.europa.eu/resource/authority/country/" + iso3[e.Country],
			Issued:    e.Issued.Format(time.RFC3339), Modified: e.Modified.Format(time.RFC3339),
			Distribution: []DCATDistribution{{
				Type: "dcat:Distribution", AccessURL: baseURL + "/v1/catalogue/" + e.Ref(), ByteSize: e.Size,
				MediaType: e.MediaType, License: e.License,
				Checksum: DCATChecksum{Type: "spdx:Checksum", Algorithm: "spdx:checksumAlgorithm_sha256", Value: e.SHA256},
			}},
		})
	}
	return cat
}

// iso3 maps the cooperation area and its neighbours to the EU country
// authority's codes (ISO 3166-1 alpha-3).
var iso3 = map[string]string{
	"FR": "FRA", "DE": "DEU", "CH": "CHE", "BE": "BEL", "LU": "LUX", "NL": "NLD", "IT": "ITA", "AT": "AUT", "ES": "ESP",
}
