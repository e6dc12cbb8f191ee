package analysis

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/xborder/xborder/analysis/evaluation"
)

// Kind names an analysis.
type Kind string

// The analyses a researcher may ask for.
const (
	// KindSummary is the count, mean, standard deviation and quantiles of
	// one numeric variable.
	KindSummary Kind = "summary"
	// KindTable is a one- or two-way contingency table of factors, or,
	// with By, the means of a numeric variable by the levels of a factor.
	KindTable Kind = "table"
	// KindHistogram counts a numeric variable's values between breaks.
	KindHistogram Kind = "histogram"
	// KindCorrelation is the Pearson correlation matrix of numeric
	// variables, over the rows where all of them are known.
	KindCorrelation Kind = "correlation"
	// KindGLM fits a generalised linear model to a formula.
	KindGLM Kind = "glm"
	// KindEvaluate is the external validation of a model: each owner runs
	// the model's predictor on its labelled rows in its sandbox and releases
	// only the metrics of package evaluation.
	KindEvaluate Kind = "evaluate"
	// KindModule runs an analysis program the owners approved on their rows,
	// in their sandboxes, and releases its output once checked against the
	// program's declared output schema.
	KindModule Kind = "module"
)

// Kinds lists every analysis, in the order help texts show them.
var Kinds = []Kind{KindSummary, KindTable, KindHistogram, KindCorrelation, KindGLM, KindEvaluate, KindModule}

// Bounds of the programs a request carries to the owners. A predictor and
// its parameters, or a module, travel in the opening frame, base64-encoded
// in JSON: MaxOpeningFrame holds the largest of each with room for the
// signed query.
const (
	MaxModuleBytes     = 32 << 20
	MaxParametersBytes = 2 << 20
	MaxOpeningFrame    = 48 << 20
	// MaxThresholds bounds an evaluation's thresholds.
	MaxThresholds = 99
)

// Bounds of a specification, so that no request makes an owner hold or
// compute without limit.
const (
	MaxDatasets  = 16
	MaxVariables = 32
	MaxBreaks    = 201
	maxPurpose   = 256
	maxText      = 1024
)

// Spec is what a researcher asks: one analysis over datasets of one or
// several owners, for a purpose, covered by a project where the owners'
// policies ask for one.
type Spec struct {
	Kind Kind `json:"kind"`
	// Datasets are owner/id references; each owner computes on its own.
	Datasets []string `json:"datasets"`
	// Variables are the columns analysed: summary and histogram one;
	// table one or two factors, or one numeric variable with By;
	// correlation two or more.
	Variables []string `json:"variables,omitempty"`
	// By is the factor a table's means are grouped by.
	By string `json:"by,omitempty"`
	// Breaks are a histogram's bin edges, strictly increasing; every
	// owner counts between the same edges, so they come with the request
	// rather than from the data (a range derived from the data would
	// release its minimum and maximum).
	Breaks []float64 `json:"breaks,omitempty"`
	// Formula is a GLM's model, such as "outcome ~ age + bmi + sex".
	Formula string `json:"formula,omitempty"`
	// Family is a GLM's family: gaussian, binomial or poisson.
	Family string `json:"family,omitempty"`
	// Filter selects rows before the analysis, such as "age >= 50".
	Filter string `json:"filter,omitempty"`
	// Purpose is why the researcher asks, from the federation's
	// vocabulary; the owners' policies decide on it.
	Purpose string `json:"purpose"`
	// Project is the joint project that covers the analysis, if any; an
	// evaluation and a module run need one (the modules are approved
	// within a project).
	Project string `json:"project,omitempty"`

	// Model is an evaluation's model, the owner/id of a catalogue entry of
	// kind model with a predictor.
	Model string `json:"model,omitempty"`
	// Label is the boolean (or 0/1) column of the owners' datasets the
	// model's scores are evaluated against.
	Label string `json:"label,omitempty"`
	// Thresholds, CalibrationBins and Level are the evaluation's request
	// (package evaluation: thresholds are multiples of 0.001 in [0, 1);
	// 0 bins and level 0 take the defaults, 10 and 0.95).
	Thresholds      []float64 `json:"thresholds,omitempty"`
	CalibrationBins int       `json:"calibration_bins,omitempty"`
	Level           float64   `json:"level,omitempty"`
	// Predictor and Parameters are the model's predictor program and
	// parameters file, for a requester whose node does not hold them; each
	// must have the SHA-256 the model entry names. They are not kept with
	// the analysis.
	Predictor  []byte `json:"predictor,omitempty"`
	Parameters []byte `json:"parameters,omitempty"`

	// Module is a module run's program, by its SHA-256 as the project's
	// registry entry names it; ModuleBytes is the program, for a requester
	// whose node does not hold it (not kept with the analysis).
	Module      string `json:"module,omitempty"`
	ModuleBytes []byte `json:"module_bytes,omitempty"`
}

// SpecError lists what is wrong with a specification; the API answers
// it with 400.
type SpecError struct {
	Problems []string
}

func (e *SpecError) Error() string {
	return "the analysis is not well specified: " + strings.Join(e.Problems, "; ")
}

// Validate checks what can be checked without the datasets' dictionaries.
func (s *Spec) Validate() error {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if !slices.Contains(Kinds, s.Kind) {
		add("kind: %q is not one of summary, table, histogram, correlation, glm, evaluate, module", s.Kind)
	}
	switch n := len(s.Datasets); {
	case n == 0:
		add("datasets: name at least one dataset as owner/id")
	case n > MaxDatasets:
		add("datasets: %d named, at most %d", n, MaxDatasets)
	}
	seen := map[string]bool{}
	for _, d := range s.Datasets {
		owner, id, ok := strings.Cut(d, "/")
		if !ok || owner == "" || id == "" || strings.Contains(id, "/") {
			add("datasets: %q is not owner/id", d)
		} else if seen[d] {
			add("datasets: %q named twice", d)
		}
		seen[d] = true
	}
	if len(s.Variables) > MaxVariables {
		add("variables: %d named, at most %d", len(s.Variables), MaxVariables)
	}
	vars := len(s.Variables)
	switch s.Kind {
	case KindSummary, KindHistogram:
		if vars != 1 {
			add("variables: a %s is of exactly one numeric variable, %d named", s.Kind, vars)
		}
	case KindTable:
		if s.By != "" && vars != 1 {
			add("variables: the means by %s are of exactly one numeric variable, %d named", s.By, vars)
		}
		if s.By == "" && (vars < 1 || vars > 2) {
			add("variables: a table is of one or two factors, %d named", vars)
		}
	case KindCorrelation:
		if vars < 2 {
			add("variables: a correlation needs at least two numeric variables, %d named", vars)
		}
	case KindGLM:
		if s.Formula == "" {
			add("formula: a glm needs a formula such as \"outcome ~ age + sex\"")
		}
		if vars > 0 {
			add("variables: a glm reads its variables from the formula")
		}
		if !slices.Contains([]string{"gaussian", "binomial", "poisson"}, s.Family) {
			add("family: %q is not gaussian, binomial or poisson", s.Family)
		}
	}
	if s.Kind != KindGLM && (s.Formula != "" || s.Family != "") {
		add("formula, family: only a glm has them")
	}
	if s.Kind != KindTable && s.By != "" {
		add("by: only a table of means has it")
	}
	if s.Kind == KindHistogram {
		switch {
		case len(s.Breaks) < 2:
			add("breaks: a histogram needs at least two bin edges")
		case len(s.Breaks) > MaxBreaks:
			add("breaks: %d edges, at most %d", len(s.Breaks), MaxBreaks)
		}
		for i, b := range s.Breaks {
			if math.IsNaN(b) || math.IsInf(b, 0) {
				add("breaks: edge %d is not a finite number", i+1)
			} else if i > 0 && b <= s.Breaks[i-1] {
				add("breaks: edges must increase strictly (%g after %g)", b, s.Breaks[i-1])
			}
		}
	} else if len(s.Breaks) > 0 {
		add("breaks: only a histogram has them")
	}
	probs = append(probs, s.validateModules()...)
	for _, v := range append(slices.Clone(s.Variables), s.By) {
		if len(v) > 64 {
			add("variables: %.20q… is longer than 64 bytes", v)
		}
	}
	if strings.TrimSpace(s.Purpose) == "" || len(s.Purpose) > maxPurpose {
		add("purpose: state why the analysis is asked for (at most %d bytes)", maxPurpose)
	}
	if len(s.Filter) > maxText || len(s.Formula) > maxText || len(s.Project) > maxPurpose {
		add("filter, formula, project: at most %d bytes each", maxText)
	}
	if len(probs) > 0 {
		return &SpecError{Problems: probs}
	}
	return nil
}

// validateModules checks the fields of an evaluation and a module run,
// and that no other analysis has them.
func (s *Spec) validateModules() []string {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	evalFields := s.Model != "" || s.Label != "" || len(s.Thresholds) > 0 || s.CalibrationBins != 0 || s.Level != 0 ||
		len(s.Predictor) > 0 || len(s.Parameters) > 0
	moduleFields := s.Module != "" || len(s.ModuleBytes) > 0
	if s.Kind != KindEvaluate && evalFields {
		add("model, label, thresholds, calibration_bins, level, predictor, parameters: only an evaluation has them")
	}
	if s.Kind != KindModule && moduleFields {
		add("module, module_bytes: only a module run has them")
	}
	if s.Kind != KindEvaluate && s.Kind != KindModule {
		return probs
	}
	if len(s.Variables) > 0 {
		add("variables: an evaluation reads the columns its model card names, a module the whole view; name none")
	}
	if strings.TrimSpace(s.Project) == "" {
		add("project: an evaluation or a module run is made within a project, where its program was approved")
	}
	if s.Kind == KindEvaluate {
		owner, id, ok := strings.Cut(s.Model, "/")
		if !ok || owner == "" || id == "" || strings.Contains(id, "/") || len(s.Model) > maxPurpose {
			add("model: %q is not owner/id", s.Model)
		}
		if s.Label == "" || len(s.Label) > 64 {
			add("label: name the boolean column the scores are evaluated against")
		}
		if len(s.Thresholds) > MaxThresholds {
			add("thresholds: %d given, at most %d", len(s.Thresholds), MaxThresholds)
		} else if err := (evaluation.Request{Thresholds: s.Thresholds, CalibrationBins: s.CalibrationBins, Level: s.Level}).Validate(); err != nil {
			add("%v", err)
		}
		if len(s.Predictor) > MaxModuleBytes || len(s.Parameters) > MaxParametersBytes {
			add("predictor, parameters: at most %d MiB and %d MiB", MaxModuleBytes>>20, MaxParametersBytes>>20)
		}
	}
	if s.Kind == KindModule {
		if !isSHA256(s.Module) {
			add("module: %q is not a SHA-256 in hex", s.Module)
		}
		if len(s.ModuleBytes) > MaxModuleBytes {
			add("module_bytes: at most %d MiB", MaxModuleBytes>>20)
		}
	}
	return probs
}

// isSHA256 reports whether s is a SHA-256 in lower-case hex.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// sha256Hex is the SHA-256 of b in hex.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Owners lists the members whose datasets the spec names, in order.
func (s *Spec) Owners() []string {
	var out []string
	for _, d := range s.Datasets {
		owner, _, _ := strings.Cut(d, "/")
		if !slices.Contains(out, owner) {
			out = append(out, owner)
		}
	}
	return out
}

// digest is the SHA-256 of v's JSON, in hex: what an owner signs to bind
// its contribution to the exact request it answered.
func digest(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}
