package tour

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

// agreement: Grand Est shares a tumour-segmentation model with
// Baden-Württemberg and Basel under a signed agreement; a researcher in
// Freiburg fetches it; Grand Est revokes the agreement and the next fetch
// is denied.
func (t *tour) agreement(ctx context.Context) error {
	fr, de, ch := t.byName["fr-grandest"], t.byName["de-bw"], t.byName["ch-basel"]
	t.p.Printf("\nModel-sharing agreement:\n")
	st := t.p.Start("model.publish", fr.Name)
	path := filepath.Join(t.dir, "tumour-seg.onnx")
	if err := os.WriteFile(path, []byte(strings.Repeat("synthetic model weights\n", 40000)), 0o644); err != nil {
		return st.Fail(err)
	}
	pub := exchange.Publication{ID: "tumour-seg", Kind: exchange.KindModel, Title: "Tumour segmentation on CT",
		Description: "3D U-Net segmenting liver tumours on CT (synthetic weights).", Theme: "health",
		Classification: "restricted", License: "research-only", Keywords: []string{"oncology", "imaging"},
		Model: &exchange.ModelCard{Task: "liver tumour segmentation on CT", Architecture: "3D U-Net, 31 M parameters",
			TrainingDatasets: []string{"fr-grandest/icu-admissions-2025"}, Metrics: map[string]float64{"dice": 0.87},
			IntendedUses: []string{"research"}, ExcludedUses: []string{"diagnosis without a radiologist"}}}
	var e exchange.Entry
	if err := fr.Admin.Upload(ctx, "/v1/datasets", pub, path, &e); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest publishes the model: %w", err))
	}
	st.OK(Figures{ID: e.Ref(), Bytes: e.Size})
	t.p.Printf("  fr-grandest published the model %s, trained on %s\n", e.Ref(), strings.Join(e.Model.TrainingDatasets, ", "))
	for _, n := range []Node{de, ch} {
		st := t.p.Start("catalogue.sync", n.Name)
		var lastErr error
		// As for datasets: no read blocks until a partner's sync.
		err := Retry(ctx, replicaWait, DefaultBackoff, func() (bool, error) {
			var l exchange.Listing
			lastErr = n.Admin.Get(ctx, "/v1/catalogue/fr-grandest/tumour-seg", &l)
			return lastErr == nil, nil
		})
		if errors.Is(err, ErrGaveUp) {
			err = fmt.Errorf("%s does not see the model after 30s: %w", n.Name, lastErr)
		}
		if err != nil {
			return st.Fail(err)
		}
		st.OK(Figures{ID: e.Ref()})
	}

	prop := api.AgreementProposal{ID: "seg-share-2026", Model: e.Ref(), Parties: []string{"fr-grandest", "de-bw", "ch-basel"},
		Purposes: []string{"research"}, Conditions: "Research use only; no re-identification; results shared with all parties.",
		ValidUntil: time.Now().AddDate(1, 0, 0)}
	st = t.p.Start("agreement.propose", fr.Name)
	var v api.AgreementView
	if err := fr.Admin.Post(ctx, "/v1/agreements", prop, &v); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest proposes the agreement: %w", err))
	}
	st.OK(Figures{ID: v.ID, Count: len(v.PartyStates)})
	t.p.Printf("  fr-grandest proposes %q to de-bw and ch-basel for research; each party's policy decides:\n", v.ID)
	for _, p := range v.PartyStates {
		t.p.Printf("    %-12s accepts (%s)\n", p.Member, strings.Join(p.Decision.Rules, ", "))
	}
	for _, n := range []Node{de, ch, fr} {
		st := t.p.Start("agreement.sign", n.Name)
		if err := n.Admin.Post(ctx, "/v1/agreements/"+v.ID+"/sign", struct{}{}, &v); err != nil {
			return st.Fail(fmt.Errorf("%s signs: %w", n.Name, err))
		}
		st.OK(Figures{ID: v.ID})
		t.p.Printf("    %-12s signed\n", n.Name)
	}
	// The last signature is fr-grandest's: it committed the agreement,
	// and its own replica applied it before the sign answered.
	st = t.p.Start("agreement.read", de.Name)
	a, err := readAfter(ctx, fr, de, v.ID)
	if err != nil {
		return st.Fail(err)
	}
	if a.Agreement.Status != "active" {
		return st.Fail(fmt.Errorf("de-bw does not see the agreement active (it is %q at applied index %d)", a.Agreement.Status, a.AppliedIndex))
	}
	st.OK(Figures{ID: v.ID, Index: a.AppliedIndex, Count: len(a.Agreement.Document.Signatures)})
	t.p.Printf("  the last signature committed it to the registry: %d signatures; de-bw reads it as %s\n", len(a.Agreement.Document.Signatures), a.Agreement.Status)

	bob, err := de.Researcher("bob@uni-freiburg.de", "Universität Freiburg")
	if err != nil {
		return err
	}
	req := api.AccessRequest{Owner: "fr-grandest", ID: "tumour-seg", Purpose: "research"}
	st = t.p.Start("transfer", de.Name)
	job, err := fetch(ctx, bob, req)
	if err != nil {
		return st.Fail(fmt.Errorf("de-bw fetches the model: %w", err))
	}
	st.OK(Figures{ID: job.ID, Bytes: job.Size})
	t.p.Printf("  bob@uni-freiburg.de (de-bw) fetched the model under the agreement: %d bytes, sha256 %.16s… verified\n", job.Size, job.SHA256)

	st = t.p.Start("agreement.revoke", fr.Name)
	if err := fr.Admin.Post(ctx, "/v1/agreements/"+v.ID+"/revoke", api.RevokeRequest{Reason: "the model is being retrained"}, &v); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest revokes: %w", err))
	}
	st.OK(Figures{ID: v.ID})
	t.p.Printf("  fr-grandest revokes the agreement (the model is being retrained)\n")
	st = t.p.Start("agreement.read", de.Name)
	if a, err = readAfter(ctx, fr, de, v.ID); err != nil {
		return st.Fail(err)
	}
	if a.Agreement.Status != "revoked" {
		return st.Fail(fmt.Errorf("de-bw does not see the revocation (the agreement is %q at applied index %d)", a.Agreement.Status, a.AppliedIndex))
	}
	st.OK(Figures{ID: v.ID, Index: a.AppliedIndex})

	st = t.p.Start("transfer.refused", de.Name)
	_, err = fetch(ctx, bob, req)
	var denied *DeniedError
	if !errors.As(err, &denied) {
		return st.Fail(fmt.Errorf("the fetch after the revocation should be denied, got %v", err))
	}
	st.OK(Figures{ID: req.Owner + "/" + req.ID})
	t.p.Printf("  de-bw fetches again: %s\n", indent(denied))
	return nil
}

// readAfter reads agreement id on reader once its replica has applied
// everything writer's had: writer made the last change, and a registry
// write answers once the writer's own replica applied it.
func readAfter(ctx context.Context, writer, reader Node, id string) (api.AgreementAnswer, error) {
	var w api.AgreementAnswer
	if err := writer.Admin.Get(ctx, "/v1/agreements/"+id, &w); err != nil {
		return w, fmt.Errorf("%s reads %s: %w", writer.Name, id, err)
	}
	var a api.AgreementAnswer
	if err := readAt(ctx, reader, "/v1/agreements/"+id, w.AppliedIndex, &a); err != nil {
		return a, fmt.Errorf("%s reads %s: %w", reader.Name, id, err)
	}
	return a, nil
}
