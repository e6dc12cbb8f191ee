package exchange

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// ModelCard describes a model entry (after "Model Cards for Model
// Reporting", Mitchell et al. 2019): what it does, how it was built, on
// which datasets of the federation it was trained (its provenance, which
// the agreements policy checks), how it performs and what it is for.
type ModelCard struct {
	Task         string `json:"task"`         // e.g. "tumour segmentation on CT"
	Architecture string `json:"architecture"` // e.g. "3D U-Net, 31 M parameters"
	// TrainingDatasets names the catalogue entries (owner/id) it was
	// trained on.
	TrainingDatasets []string           `json:"training_datasets"`
	Metrics          map[string]float64 `json:"metrics"` // evaluation metrics by name, e.g. {"dice": 0.87}
	IntendedUses     []string           `json:"intended_uses"`
	ExcludedUses     []string           `json:"excluded_uses"`
}

// memberRef is the owner part of a training dataset's OWNER/ID, as member
// names are written; the ID follows ValidateID.
var memberRef = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}/`)

// problems lists what is wrong with the card, as ValidationError lines.
func (m *ModelCard) problems() []string {
	var probs []string
	if strings.TrimSpace(m.Task) == "" {
		probs = append(probs, "model.task: empty; say what the model does")
	}
	for _, d := range m.TrainingDatasets {
		if _, _, err := ParseRef(d); err != nil || !memberRef.MatchString(d) {
			probs = append(probs, fmt.Sprintf("model.training_datasets: %q is not OWNER/ID", d))
		}
	}
	for name, v := range m.Metrics {
		if name == "" || math.IsNaN(v) || math.IsInf(v, 0) {
			probs = append(probs, fmt.Sprintf("model.metrics: %q = %v is not a named finite number", name, v))
		}
	}
	return probs
}

// normalized returns a copy with its lists sorted and deduplicated, so that
// the same card always encodes the same way.
func (m *ModelCard) normalized() *ModelCard {
	if m == nil {
		return nil
	}
	c := *m
	c.TrainingDatasets = sortedSet(m.TrainingDatasets)
	c.IntendedUses = append([]string{}, m.IntendedUses...)
	c.ExcludedUses = append([]string{}, m.ExcludedUses...)
	if c.Metrics == nil {
		c.Metrics = map[string]float64{}
	}
	return &c
}
