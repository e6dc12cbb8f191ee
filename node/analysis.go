package node

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
)

// analysisRegistry is the registry as the analyses read it: the exchange's
// translation of the consensus records, in the analysis room's types.
type analysisRegistry struct{ exchangeRegistry }

func (r analysisRegistry) MemberByPeer(p peer.ID) (analysis.Member, bool) {
	m, ok := r.exchangeRegistry.MemberByPeer(p)
	return analysis.Member(m), ok
}

func (r analysisRegistry) MemberByName(name string) (analysis.Member, bool) {
	m, ok := r.exchangeRegistry.MemberByName(name)
	return analysis.Member(m), ok
}

// Module is a module the project's lead proposed (module.propose), with
// the data owners that approved it.
func (r analysisRegistry) Module(project, sha256 string) (analysis.Module, bool) {
	reg := r.n.registry.Load()
	if reg == nil {
		return analysis.Module{}, false
	}
	m, err := reg.Module(project, sha256)
	if err != nil {
		return analysis.Module{}, false
	}
	return analysis.Module{Project: m.Project, SHA256: m.SHA256, Name: m.Name, Kind: m.Kind, Schema: m.Schema,
		Approvals: m.Approvals, Withdrawn: m.Withdrawn != 0}, true
}

// evaluationLedger commits a model's signed evaluations to the registry,
// where every member finds them attached to the model.
type evaluationLedger struct{ n *Node }

func (l evaluationLedger) CommitEvaluation(ctx context.Context, model, id string, contributions []string) error {
	if l.n.clerk == nil {
		return errors.New("the registry is not open")
	}
	_, err := l.n.clerk.Submit(ctx, consensus.OpEvaluationCommit,
		consensus.EvaluationCommit{Model: model, Analysis: id, Contributions: contributions})
	return err
}

// analysisDatasets is the catalogue as the analyses read it.
type analysisDatasets struct{ cat *exchange.Catalogue }

func (d analysisDatasets) Own(id string) (analysis.Dataset, bool) {
	e, ok := d.cat.Lookup(id)
	if !ok || e.Withdrawn {
		return analysis.Dataset{}, false
	}
	return analysisDataset(e), true
}

func (d analysisDatasets) Listed(owner, id string) (analysis.Dataset, bool) {
	l, err := d.cat.Get(owner, id)
	if err != nil || l.Withdrawn {
		return analysis.Dataset{}, false
	}
	return analysisDataset(l.Entry), true
}

// Open opens a stored blob for the analyses, which read it at offsets (a
// Parquet file's schema is at its end).
func (d analysisDatasets) Open(sum string) (analysis.Content, error) {
	f, err := d.cat.OpenBlob(sum)
	if err != nil {
		return nil, err
	}
	at, ok := f.(io.ReaderAt)
	if !ok {
		f.Close()
		return nil, fmt.Errorf("blob %s: the store gives no reading at offsets", sum)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w", sum, err)
	}
	return blobContent{ReaderAt: at, Closer: f, size: size}, nil
}

// blobContent is a stored blob as the analyses read it.
type blobContent struct {
	io.ReaderAt
	io.Closer
	size int64
}

func (b blobContent) Size() int64 { return b.size }

func analysisDataset(e exchange.Entry) analysis.Dataset {
	return analysis.Dataset{
		Owner: e.Owner, ID: e.ID, Kind: e.Kind, Theme: e.Theme, Classification: e.Classification,
		PersonalData: e.PersonalData, RequiresProject: e.RequiresProject, License: e.License,
		Partners: e.Partners, PublicListing: e.PublicListing, SHA256: e.SHA256, MediaType: e.MediaType, Dictionary: e.Dictionary,
		Predictor: predictorOf(e),
	}
}

func predictorOf(e exchange.Entry) *analysis.Predictor {
	if e.Model == nil || e.Model.Predictor == nil {
		return nil
	}
	return &analysis.Predictor{SHA256: e.Model.Predictor.SHA256, Inputs: e.Model.Predictor.Inputs}
}

// Analyses is the node's federated analysis service (nil before Start).
func (n *Node) Analyses() *analysis.Service { return n.analyses }
