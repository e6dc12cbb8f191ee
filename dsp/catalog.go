package dsp

import (
	"context"
	"net/http"
)

// catalogID names this node's catalogue.
func (s *Service) catalogID() string { return s.cfg.BaseURL() + "/catalog" }

// serviceID names the data service every distribution is served by.
func (s *Service) serviceID() string { return s.cfg.BaseURL() }

// dataset describes e for p, with the offers p is made.
func (s *Service) dataset(ctx context.Context, p Participant, e Entry) (Dataset, error) {
	terms, err := s.offers(ctx, p, e)
	if err != nil {
		return Dataset{}, err
	}
	d := Dataset{ID: e.ID, Type: TypeDataset, DCAT: e.DCAT, HasPolicy: make([]Offer, 0, len(terms))}
	for _, t := range terms {
		d.HasPolicy = append(d.HasPolicy, t.Offer)
	}
	d.Distribution = []Distribution{{
		Type: TypeDistribution, Format: FormatHTTPPull, AccessService: s.serviceID(),
		MediaType: e.MediaType, ByteSize: e.Size,
	}}
	return d, nil
}

// Catalog is the catalogue p may see: the entries
// data.xborder.catalogue.visible shows it, each with its offers.
func (s *Service) Catalog(ctx context.Context, p Participant) (Catalog, error) {
	c := Catalog{
		Context: []string{ContextURL}, ID: s.catalogID(), Type: TypeCatalog, ParticipantID: s.cfg.ParticipantID,
		DCAT:    DCAT{Title: s.d.Self.Org + " (" + s.d.Self.Node + ")", Publisher: &IRI{ID: s.cfg.ParticipantID}},
		Service: []DataService{{ID: s.serviceID(), Type: TypeDataService, EndpointURL: s.cfg.BaseURL()}},
	}
	for _, e := range s.d.Catalogue.Entries(ctx) {
		if !s.visible(ctx, p, e) {
			continue
		}
		d, err := s.dataset(ctx, p, e)
		if err != nil {
			return Catalog{}, err
		}
		if len(d.HasPolicy) == 0 {
			continue // nothing to offer (a policy without a purpose vocabulary)
		}
		c.Dataset = append(c.Dataset, d)
	}
	return c, nil
}

func (s *Service) handleCatalogRequest(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeCatalogError, "", "", err)
		return
	}
	var msg CatalogRequestMessage
	if err := Decode(r.Body, TypeCatalogRequest, &msg); err != nil {
		writeError(w, TypeCatalogError, "", "", err)
		return
	}
	if len(msg.Filter) > 0 {
		writeError(w, TypeCatalogError, "", "", refuse(http.StatusBadRequest, CodeBadMessage,
			"This provider does not support catalogue filters; send an empty filter and filter the catalogue received."))
		return
	}
	c, err := s.Catalog(r.Context(), p)
	if err != nil {
		writeError(w, TypeCatalogError, "", "", refuse(http.StatusServiceUnavailable, CodePolicyFailed, "The provider's policy could not derive the offers: "+err.Error()))
		return
	}
	// A catalogue shown is no action: its record is written, but the
	// answer does not wait on it.
	_ = s.d.Recorder.Record("dsp.catalogue", p.ID, map[string]any{"participant": p.ID, "datasets": len(c.Dataset)})
	writeJSON(w, http.StatusOK, c)
}

func (s *Service) handleDataset(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, TypeCatalogError, "", "", err)
		return
	}
	id := r.PathValue("id")
	e, ok := s.d.Catalogue.Entry(r.Context(), id)
	if ok && s.visible(r.Context(), p, e) {
		d, err := s.dataset(r.Context(), p, e)
		if err != nil {
			writeError(w, TypeCatalogError, "", "", refuse(http.StatusServiceUnavailable, CodePolicyFailed, "The provider's policy could not derive the offers: "+err.Error()))
			return
		}
		if len(d.HasPolicy) > 0 {
			d.Context = []string{ContextURL}
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	// Unknown and hidden are the same answer: a refusal never reveals
	// that an entry the participant cannot see exists.
	writeError(w, TypeCatalogError, "", "", refuse(http.StatusNotFound, CodeNotFound, "This provider offers no dataset "+quote(id)+" to "+p.ID+"."))
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return `"` + s + `"`
}
