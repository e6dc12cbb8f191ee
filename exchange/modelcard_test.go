package exchange

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

func TestModelEntriesCarryAValidModelCard(t *testing.T) {
	card := &ModelCard{Task: "tumour segmentation on CT", Architecture: "3D U-Net",
		TrainingDatasets: []string{"fr-grandest/icu-2025", "de-bw/ct-scans"}, Metrics: map[string]float64{"dice": 0.87},
		IntendedUses: []string{"research"}, ExcludedUses: []string{"diagnosis without a radiologist"}}
	model := Publication{ID: "tumour-seg", Kind: KindModel, Title: "Tumour segmentation", Theme: "health", Classification: "restricted"}
	for name, c := range map[string]struct {
		card *ModelCard
		kind string
		want string
	}{
		"model without a card": {nil, KindModel, "carries a model card"},
		"card without a task":  {&ModelCard{}, KindModel, "model.task"},
		"bad provenance":       {&ModelCard{Task: "t", TrainingDatasets: []string{"icu"}}, KindModel, "is not OWNER/ID"},
		"metric not a number":  {&ModelCard{Task: "t", Metrics: map[string]float64{"auc": math.NaN()}}, KindModel, "model.metrics"},
		"dataset with a card":  {card, KindDataset, "only a model entry"},
	} {
		p := model
		p.Kind, p.Model = c.kind, c.card
		var v *ValidationError
		if err := p.Validate(); !errors.As(err, &v) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a problem saying %q", name, err, c.want)
		}
	}

	// A valid model card travels with the entry to the other members.
	nodes := newCatFederation(t, "fr-grandest", "de-bw")
	p := model
	p.Model = card
	e, err := nodes[0].cat.Publish(context.Background(), p, strings.NewReader("weights"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Model == nil || e.Model.TrainingDatasets[0] != "de-bw/ct-scans" {
		t.Fatalf("published card: %+v", e.Model)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw sees the model card", func() bool {
		l, err := nodes[1].cat.Get("fr-grandest", "tumour-seg")
		return err == nil && l.Model != nil && l.Model.Metrics["dice"] == 0.87 && l.Model.Task == card.Task
	})
}
