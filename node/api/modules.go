package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
)

// Modules is the registry's WebAssembly modules and models' evaluations,
// as the API reads them (*consensus.Clerk).
type Modules interface {
	Modules(ctx context.Context, project string) ([]consensus.Module, uint64, error)
	Module(ctx context.Context, project, sha256 string) (consensus.Module, uint64, error)
	Evaluations(ctx context.Context, model string) ([]consensus.Evaluation, uint64, error)
}

// ModuleList is the answer of GET /v1/modules.
type ModuleList struct {
	Modules      []consensus.Module `json:"modules"`
	AppliedIndex uint64             `json:"applied_index"`
}

// ModuleAnswer is the answer of GET /v1/modules/{project}/{sha256}: the
// module and, for each owner of a dataset attached to its project, whether
// it approved the module (only an approver's data may be analysed by it).
type ModuleAnswer struct {
	Module       consensus.Module `json:"module"`
	Owners       map[string]bool  `json:"owners"`
	AppliedIndex uint64           `json:"applied_index"`
}

// ModuleProposed is the answer of POST /v1/modules.
type ModuleProposed struct {
	Committed
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// EvaluationList is the answer of GET /v1/evaluations: each committed
// evaluation with every region's signed metrics and their pooling.
type EvaluationList struct {
	Evaluations  []analysis.CommittedEvaluation `json:"evaluations"`
	AppliedIndex uint64                         `json:"applied_index"`
}

// EvaluationOf reads a committed evaluation's signed contributions.
func EvaluationOf(e consensus.Evaluation) analysis.CommittedEvaluation {
	return analysis.ReadCommittedEvaluation(e.Model, e.Analysis, e.CommittedBy, time.UnixMilli(e.Committed).UTC(), e.Contributions)
}

// checkModuleSchema refuses, before anything is stored or proposed, an
// analysis module without a valid output schema or a predictor with one.
func checkModuleSchema(p consensus.ModuleProposal) error {
	switch p.Kind {
	case consensus.ModuleAnalysis:
		if len(p.Schema) == 0 {
			return errors.New("metadata: an analysis module needs its output schema (schema)")
		}
		if _, err := analysis.ParseSchema(p.Schema); err != nil {
			return fmt.Errorf("metadata: schema: %w", err)
		}
	case consensus.ModulePredictor:
		if len(p.Schema) != 0 {
			return errors.New("metadata: a predictor's output is one score per row, checked by the node: it takes no schema")
		}
	default:
		return fmt.Errorf("metadata: kind %q is not analysis or predictor", p.Kind)
	}
	return nil
}

// maxModuleMetadata bounds the metadata part of a module proposal.
const maxModuleMetadata = 64 << 10

func (s *Server) routeModules() {
	s.handle("GET /v1/modules", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		ms, idx, err := s.modules.Modules(r.Context(), r.URL.Query().Get("project"))
		if err != nil {
			writeRegistryError(w, err)
			return
		}
		if ms == nil {
			ms = []consensus.Module{}
		}
		writeJSON(w, http.StatusOK, ModuleList{Modules: ms, AppliedIndex: idx})
	})
	s.handle("GET /v1/modules/{project}/{sha256}", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		m, idx, err := s.modules.Module(r.Context(), r.PathValue("project"), r.PathValue("sha256"))
		if err != nil {
			writeRegistryError(w, err)
			return
		}
		owners := map[string]bool{}
		if p, _, err := s.registry.Project(r.Context(), m.Project); err == nil {
			for _, d := range p.Datasets {
				if owner, _, ok := strings.Cut(d, "/"); ok {
					owners[owner] = m.ApprovedBy(owner)
				}
			}
		}
		writeJSON(w, http.StatusOK, ModuleAnswer{Module: m, Owners: owners, AppliedIndex: idx})
	})
	s.handle("POST /v1/modules", true, s.proposeModule)
	for verb, op := range map[string]string{"approve": consensus.OpModuleApprove, "withdraw": consensus.OpModuleWithdraw} {
		s.handle("POST /v1/modules/{project}/{sha256}/"+verb, true, func(w http.ResponseWriter, r *http.Request) {
			s.submit(w, r, op, consensus.ModuleRef{Project: r.PathValue("project"), SHA256: r.PathValue("sha256")})
		})
	}
	s.handle("GET /v1/evaluations", true, func(w http.ResponseWriter, r *http.Request) {
		if !s.waitForIndex(w, r) {
			return
		}
		es, idx, err := s.modules.Evaluations(r.Context(), r.URL.Query().Get("model"))
		if err != nil {
			writeRegistryError(w, err)
			return
		}
		out := make([]analysis.CommittedEvaluation, 0, len(es))
		for _, e := range es {
			out = append(out, EvaluationOf(e))
		}
		writeJSON(w, http.StatusOK, EvaluationList{Evaluations: out, AppliedIndex: idx})
	})
}

// proposeModule reads a multipart body: a "metadata" part (JSON
// consensus.ModuleProposal without its sha256) and a "module" part, the
// WebAssembly module, which this node stores so that it can send it to the
// data owners that run it. The module's digest is the one proposed.
func (s *Server) proposeModule(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		writeError(w, http.StatusUnsupportedMediaType, "send multipart/form-data with a metadata part (JSON) then a module part (the .wasm file)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, exchange.MaxPredictorBytes+maxModuleMetadata+64<<10)
	mr := multipart.NewReader(r.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil || meta.FormName() != "metadata" {
		writeError(w, http.StatusBadRequest, "the first part must be named metadata")
		return
	}
	var p consensus.ModuleProposal
	dec := json.NewDecoder(io.LimitReader(meta, maxModuleMetadata))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		writeError(w, http.StatusBadRequest, "metadata: "+err.Error())
		return
	}
	if p.SHA256 != "" {
		writeError(w, http.StatusBadRequest, "metadata: sha256 is the uploaded module's digest; leave it out")
		return
	}
	if err := checkModuleSchema(p); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "module" {
		writeError(w, http.StatusBadRequest, "the second part must be named module (the .wasm file)")
		return
	}
	sum, size, err := s.catalogue.StoreModule(part)
	var ve *exchange.ValidationError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "the module exceeds the upload limit")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, strings.TrimSpace(err.Error()))
		return
	}
	p.SHA256 = sum
	idx, err := s.registry.Submit(r.Context(), consensus.OpModulePropose, p)
	var na *consensus.NotAppliedError
	switch {
	case errors.As(err, &na):
		writeJSON(w, http.StatusAccepted, ModuleProposed{Committed: Committed{Index: na.Index, NotApplied: true, Warning: err.Error()}, SHA256: sum, Size: size})
	case err != nil:
		writeRegistryError(w, err)
	default:
		writeJSON(w, http.StatusOK, ModuleProposed{Committed: Committed{Index: idx}, SHA256: sum, Size: size})
	}
}
