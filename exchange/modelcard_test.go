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

func TestAModelsPredictorIsAStoredWebAssemblyModule(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw")
	cat := nodes[0].cat
	var v *ValidationError
	if _, _, err := cat.StoreModule(strings.NewReader("#!/bin/sh\nrm -rf /")); !errors.As(err, &v) {
		t.Fatalf("a shell script stored as a predictor: %v", err)
	}
	if _, _, err := cat.StoreModule(strings.NewReader("\x00as")); !errors.As(err, &v) {
		t.Fatalf("a truncated header stored as a predictor: %v", err)
	}
	module := "\x00asm\x01\x00\x00\x00" + strings.Repeat("\x00", 24)
	sum, size, err := cat.StoreModule(strings.NewReader(module))
	pred := Predictor{SHA256: sum, Size: size}
	if err != nil || pred.Size != int64(len(module)) || len(pred.SHA256) != 64 {
		t.Fatalf("store a module: %+v %v", pred, err)
	}

	card := func(p Predictor) *ModelCard {
		return &ModelCard{Task: "diabetes risk", Predictor: &p}
	}
	model := Publication{ID: "diabetes-risk", Kind: KindModel, Title: "Diabetes risk", Theme: "health", Classification: "restricted"}
	for name, c := range map[string]struct {
		pred Predictor
		want string
	}{
		"no inputs":           {Predictor{SHA256: pred.SHA256, Size: pred.Size}, "model.predictor.inputs"},
		"input not a column":  {Predictor{SHA256: pred.SHA256, Size: pred.Size, Inputs: []string{"age; drop"}}, "is not a column name"},
		"input twice":         {Predictor{SHA256: pred.SHA256, Size: pred.Size, Inputs: []string{"age", "age"}}, "named twice"},
		"digest not held":     {Predictor{SHA256: strings.Repeat("ab", 32), Size: pred.Size, Inputs: []string{"age"}}, "holds no module"},
		"digest not hex":      {Predictor{SHA256: "../../etc/passwd", Size: pred.Size, Inputs: []string{"age"}}, "is not a lowercase hex SHA-256"},
		"size not the blob's": {Predictor{SHA256: pred.SHA256, Size: pred.Size + 1, Inputs: []string{"age"}}, "model.predictor.size"},
		"too large":           {Predictor{SHA256: pred.SHA256, Size: MaxPredictorBytes + 1, Inputs: []string{"age"}}, "model.predictor.size"},
	} {
		p := model
		p.Model = card(c.pred)
		if _, err := cat.Publish(context.Background(), p, strings.NewReader(`{"intercept": -9}`)); !errors.As(err, &v) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a problem saying %q", name, err, c.want)
		}
	}

	p := model
	p.Model = card(Predictor{SHA256: pred.SHA256, Size: pred.Size, Inputs: []string{"age", "bmi"}})
	if _, err := cat.Publish(context.Background(), p, strings.NewReader(`{"intercept": -9}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw sees the predictor", func() bool {
		l, err := nodes[1].cat.Get("fr-grandest", "diabetes-risk")
		return err == nil && l.Model != nil && l.Model.Predictor != nil && l.Model.Predictor.SHA256 == pred.SHA256 &&
			strings.Join(l.Model.Predictor.Inputs, ",") == "age,bmi"
	})
}
