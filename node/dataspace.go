package node

import (
	"context"
	"io"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// dataspaceCatalogue is the node's own catalogue as the dataspace
// provider reads it: each entry with its DCAT-AP terms (the export's
// mapping, the export's IRIs) and its policy facts.
type dataspaceCatalogue struct {
	cat       *exchange.Catalogue
	self      string
	publicURL string
}

func (c dataspaceCatalogue) Entries(ctx context.Context) []dsp.Entry {
	var out []dsp.Entry
	for _, l := range c.cat.Search(ctx, exchange.Filter{Owner: c.self}) {
		if l.Local && !l.Withdrawn {
			out = append(out, c.entry(l.Entry))
		}
	}
	return out
}

func (c dataspaceCatalogue) Entry(_ context.Context, id string) (dsp.Entry, bool) {
	e, ok := c.cat.Lookup(id)
	if !ok || e.Withdrawn {
		return dsp.Entry{}, false
	}
	return c.entry(e), true
}

func (c dataspaceCatalogue) Open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	return c.cat.OpenBlob(sum)
}

func (c dataspaceCatalogue) entry(e exchange.Entry) dsp.Entry {
	t := exchange.EntryDCATTerms(c.publicURL, e)
	d := dsp.DCAT{
		Title: t.Title, Description: t.Description, Identifier: t.Identifier, Keyword: t.Keywords,
		Publisher: &dsp.IRI{ID: t.Publisher}, LandingPage: &dsp.IRI{ID: t.LandingPage},
		AccessRights: &dsp.IRI{ID: t.AccessRights}, Version: t.Version,
		Issued: t.Issued.UTC().Format("2006-01-02T15:04:05Z"), Modified: t.Modified.UTC().Format("2006-01-02T15:04:05Z"),
	}
	for _, th := range t.Themes {
		d.Theme = append(d.Theme, dsp.IRI{ID: th})
	}
	if t.Licence != "" {
		d.License = &dsp.IRI{ID: t.Licence}
	}
	if t.Spatial != "" {
		d.Spatial = []dsp.IRI{{ID: t.Spatial}}
	}
	partners := e.Partners
	if partners == nil {
		partners = []string{}
	}
	return dsp.Entry{
		ID: e.ID, SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType, DCAT: d,
		Visibility: policy.CatalogueEntry{ID: e.ID, Owner: e.Owner, Kind: e.Kind, Classification: e.Classification,
			Theme: e.Theme, Partners: partners, PersonalData: e.PersonalData, PublicListing: e.PublicListing},
		Resource: policy.Resource{Kind: e.Kind, ID: e.ID, Owner: e.Owner, Theme: e.Theme, Classification: e.Classification,
			PersonalData: e.PersonalData, License: e.License, RequiresProject: e.RequiresProject, Partners: partners},
	}
}
