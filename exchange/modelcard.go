package exchange

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/xborder/xborder/analysis/tabular"
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
	// Predictor is the model's scoring program, when it has one: what lets
	// a partner evaluate the model on its own labelled data without the
	// data or the scores leaving it.
	Predictor *Predictor `json:"predictor,omitempty"`
}

// Predictor is a model's scoring program: a WebAssembly module (WASI
// preview 1) that reads the model's file on standard input and the rows of
// a dataset view, with the columns Inputs names, at /data/input.csv, and
// writes one score in [0, 1] per row. The module is stored in the
// publisher's blob store under its SHA-256; a data owner runs only the
// module whose digest the card names, and only once its project approved
// it (see docs/policies.md).
type Predictor struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Inputs are the dataset columns the predictor reads, by the names a
	// data dictionary gives them.
	Inputs []string `json:"inputs"`
}

// MaxPredictorBytes bounds a predictor module: a scoring program, not a
// model's weights (those are the model's file).
const MaxPredictorBytes = 32 << 20

// maxPredictorInputs bounds the columns a predictor reads.
const maxPredictorInputs = 256

// wasmMagic opens every binary WebAssembly module, version 1.
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

func (p *Predictor) problems() []string {
	var probs []string
	if !hexSHA256.MatchString(p.SHA256) {
		probs = append(probs, fmt.Sprintf("model.predictor.sha256: %q is not a lowercase hex SHA-256", p.SHA256))
	}
	if p.Size < int64(len(wasmMagic)) || p.Size > MaxPredictorBytes {
		probs = append(probs, fmt.Sprintf("model.predictor.size: %d bytes, not between %d and %d", p.Size, len(wasmMagic), MaxPredictorBytes))
	}
	if len(p.Inputs) == 0 || len(p.Inputs) > maxPredictorInputs {
		probs = append(probs, fmt.Sprintf("model.predictor.inputs: %d columns; name between 1 and %d", len(p.Inputs), maxPredictorInputs))
	}
	seen := map[string]bool{}
	for _, in := range p.Inputs {
		switch {
		case !tabular.ValidName(in):
			probs = append(probs, fmt.Sprintf("model.predictor.inputs: %q is not a column name", in))
		case seen[in]:
			probs = append(probs, fmt.Sprintf("model.predictor.inputs: %q is named twice", in))
		}
		seen[in] = true
	}
	return probs
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
	if m.Predictor != nil {
		probs = append(probs, m.Predictor.problems()...)
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
	if m.Predictor != nil {
		p := *m.Predictor
		p.Inputs = append([]string{}, m.Predictor.Inputs...)
		c.Predictor = &p
	}
	return &c
}
