package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/xborder/xborder/exchange"
)

// Catalogue is the federation catalogue as the API exposes it.
type Catalogue interface {
	Publish(ctx context.Context, p exchange.Publication, content io.Reader) (exchange.Entry, error)
	// StoreModule stores a WebAssembly module (a model's predictor ahead
	// of the publication whose card names it, or an analysis module ahead
	// of its proposal).
	StoreModule(r io.Reader) (sum string, size int64, err error)
	Withdraw(ctx context.Context, id string) (exchange.Entry, error)
	Search(ctx context.Context, f exchange.Filter) []exchange.Listing
	// ListingJSON is the unfiltered catalogue, encoded ahead of time.
	ListingJSON(ctx context.Context) []byte
	Entry(ctx context.Context, owner, id string) (exchange.Listing, error)
	// DCAT is the graph of the node's entries the public may see (open
	// ones, and protected ones their owner lists), with IRIs under its
	// public URL.
	DCAT(ctx context.Context) *exchange.DCATGraph
	// DCATFederation is the graph of the entries the public may see of
	// every member the node sees, each attributed to its owner.
	DCATFederation(ctx context.Context) *exchange.DCATGraph
	// DatasetDCAT is one publicly visible entry's graph;
	// exchange.ErrNotFound for an entry that is unknown or not public.
	DatasetDCAT(ctx context.Context, owner, id string) (*exchange.DCATGraph, exchange.Listing, error)
	CatalogueSyncs(ctx context.Context) []exchange.PeerState
}

// CatalogueList is the answer of GET /v1/catalogue.
type CatalogueList struct {
	Entries []exchange.Listing   `json:"entries"`
	Peers   []exchange.PeerState `json:"peers"` // when each partner's entries were last synced
}

// maxUpload bounds a published file.
const maxUpload = 64 << 30

func (s *Server) routeCatalogue() {
	s.handle("GET /v1/catalogue", true, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := exchange.Filter{Theme: q.Get("theme"), Country: q.Get("country"), Owner: q.Get("owner"),
			Kind: q.Get("kind"), Classification: q.Get("classification"), Q: q.Get("q")}
		peers, _ := json.Marshal(s.catalogue.CatalogueSyncs(r.Context()))
		var entries []byte
		if f == (exchange.Filter{}) {
			entries = s.catalogue.ListingJSON(r.Context())
		} else {
			entries, _ = json.Marshal(s.catalogue.Search(r.Context(), f))
		}
		// Written as is: a large catalogue is not re-encoded or indented.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"entries":`))
		_, _ = w.Write(entries)
		_, _ = w.Write([]byte(`,"peers":`))
		_, _ = w.Write(peers)
		_, _ = w.Write([]byte("}\n"))
	})
	s.handle("GET /v1/catalogue/{owner}/{id}", true, func(w http.ResponseWriter, r *http.Request) {
		l, err := s.catalogue.Entry(r.Context(), r.PathValue("owner"), r.PathValue("id"))
		if errors.Is(err, exchange.ErrNotFound) {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, l)
	})
	// The DCAT-AP export lists the entries the public may see (open ones,
	// and protected ones their owner lists), for portals to harvest
	// without an account.
	s.handle("GET /v1/dcat", false, s.dcat)
	s.handle("GET /v1/dcat/federation", false, s.dcat)
	// An entry's IRI in the DCAT export answers humans and machines.
	s.handle("GET /datasets/{owner}/{id}", false, s.datasetIRI)
	s.handle("POST /v1/datasets", true, s.publish)
	s.handle("DELETE /v1/datasets/{id}", true, func(w http.ResponseWriter, r *http.Request) {
		e, err := s.catalogue.Withdraw(r.Context(), r.PathValue("id"))
		if errors.Is(err, exchange.ErrNotFound) {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
}

// publish reads a multipart body: a "metadata" part (JSON Publication),
// for a model optionally a "predictor" part (its WebAssembly scoring
// program, whose digest and size the card then names), and a "file" part
// streamed into the blob store.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		writeError(w, http.StatusUnsupportedMediaType, "send multipart/form-data with a metadata part (JSON) then a file part")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mr := multipart.NewReader(r.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil || meta.FormName() != "metadata" {
		writeError(w, http.StatusBadRequest, "the first part must be named metadata")
		return
	}
	var p exchange.Publication
	dec := json.NewDecoder(io.LimitReader(meta, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		writeError(w, http.StatusBadRequest, "metadata: "+err.Error())
		return
	}
	file, err := mr.NextPart()
	if err == nil && file.FormName() == "predictor" {
		if p.Model == nil || p.Model.Predictor == nil {
			writeError(w, http.StatusBadRequest, "a predictor part needs a model card whose predictor names its inputs")
			return
		}
		sum, size, perr := s.catalogue.StoreModule(file)
		var ve *exchange.ValidationError
		switch {
		case errors.As(perr, &ve):
			writeError(w, http.StatusBadRequest, perr.Error())
			return
		case perr != nil:
			writeError(w, http.StatusInternalServerError, strings.TrimSpace(perr.Error()))
			return
		}
		p.Model.Predictor.SHA256, p.Model.Predictor.Size = sum, size
		file, err = mr.NextPart()
	}
	if err != nil || file.FormName() != "file" {
		writeError(w, http.StatusBadRequest, "the second part must be named file (or predictor, then file)")
		return
	}
	if p.FileName == "" {
		p.FileName = file.FileName()
	}
	e, err := s.catalogue.Publish(r.Context(), p, file)
	var ve *exchange.ValidationError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "the file exceeds the upload limit")
	case err != nil:
		writeError(w, http.StatusInternalServerError, strings.TrimSpace(err.Error()))
	default:
		writeJSON(w, http.StatusOK, e)
	}
}
