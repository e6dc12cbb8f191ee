package analysis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/policy"
	"github.com/xborder/xborder/sandbox"
)

// The owner's side of the analyses that run a program on its rows: an
// evaluation (the model's predictor scores the rows, the node computes the
// metrics) and a module run (an approved analysis program describes the
// rows, the node checks its output against the program's schema).

// viewFile is the file a program reads its rows from, at /data.
const viewFile = "input.csv"

// scoreLineBytes bounds one line of a predictor's output: a float64 as
// strconv writes it at its shortest is at most 24 bytes, and a newline.
const scoreLineBytes = 32

// payload is the bytes an opening request carries beside its token.
type payload struct {
	module, parameters []byte
}

// programs are an evaluation's or a module run's programs, checked: their
// bytes have the SHA-256 the signed query names, and the registry and the
// owner's catalogue say what they are.
type programs struct {
	module     []byte
	parameters []byte
	entry      Module
	model      *Dataset // an evaluation's model, as this node lists it
	schema     *Schema  // a module run's output schema
}

// auditedRefusal is a refusal whose record names the program, the dataset
// content and the output it concerns.
type auditedRefusal struct {
	*RefusedError
	module, dataset, output string
}

func (e *auditedRefusal) Unwrap() error { return e.RefusedError }

func moduleRefusal(format string, a ...any) *RefusedError {
	return refusef(RefusalModule, format, a...)
}

// programs checks the programs of an evaluation or a module run before the
// policy is asked: a wrong hash, a model entry that names another
// predictor, a module not proposed to the project, withdrawn, of another
// kind or not approved by this member are refused whatever the policy
// says.
func (s *Service) programs(q Query, p payload) (*programs, error) {
	if s.deps.Sandbox == nil {
		return nil, moduleRefusal("%s runs no programs on its data (it has no sandbox)", s.deps.Self.Name)
	}
	if !isSHA256(q.ModuleSHA256) || q.Project == "" {
		return nil, refusef(RefusalBadQuery, "a %s names its program by SHA-256 and its project", q.Kind)
	}
	out := &programs{}
	var err error
	if out.module, err = s.programBytes("module", p.module, q.ModuleSHA256, MaxModuleBytes); err != nil {
		return nil, err
	}
	wantKind := ModuleKindAnalysis
	if q.Kind == KindEvaluate {
		wantKind = ModuleKindPredictor
		if !isSHA256(q.ParametersSHA256) {
			return nil, refusef(RefusalBadQuery, "an evaluation names its parameters by SHA-256")
		}
		if out.parameters, err = s.programBytes("parameters", p.parameters, q.ParametersSHA256, MaxParametersBytes); err != nil {
			return nil, err
		}
		owner, id, _ := strings.Cut(q.Model, "/")
		md, ok := s.deps.Datasets.Listed(owner, id)
		switch {
		case !ok || md.Kind != "model" || md.Predictor == nil:
			return nil, moduleRefusal("%s's catalogue lists no model %q with a predictor", s.deps.Self.Name, q.Model)
		case md.Predictor.SHA256 != q.ModuleSHA256 || md.SHA256 != q.ParametersSHA256:
			return nil, moduleRefusal("the model %s, as %s's catalogue lists it, names another predictor or parameters file than the query's", q.Model, s.deps.Self.Name)
		}
		out.model = &md
	} else if len(p.parameters) > 0 {
		return nil, refusef(RefusalBadQuery, "a module run carries no parameters")
	}
	mod, ok := s.deps.Registry.Module(q.Project, q.ModuleSHA256)
	switch {
	case !ok || mod.Project != q.Project || mod.SHA256 != q.ModuleSHA256:
		return nil, moduleRefusal("the program %.12s… was not proposed to project %s in the registry", q.ModuleSHA256, q.Project)
	case mod.Withdrawn:
		return nil, moduleRefusal("the program %.12s… (%s) was withdrawn from project %s", q.ModuleSHA256, mod.Name, q.Project)
	case mod.Kind != wantKind:
		return nil, moduleRefusal("the program %.12s… (%s) is registered as a %s module; a %s runs a %s", q.ModuleSHA256, mod.Name, mod.Kind, q.Kind, wantKind)
	case !slices.Contains(mod.Approvals, s.deps.Self.Name):
		return nil, moduleRefusal("%s has not approved the program %.12s… (%s) in project %s; its legal team reviews a program before it runs on its data",
			s.deps.Self.Name, q.ModuleSHA256, mod.Name, q.Project)
	}
	out.entry = mod
	if q.Kind == KindModule {
		if out.schema, err = ParseSchema(mod.Schema); err != nil {
			return nil, moduleRefusal("the program %.12s… (%s) declares no usable output schema: %v", q.ModuleSHA256, mod.Name, err)
		}
	}
	return out, nil
}

// programBytes are the bytes sent, checked against the signed query's
// hash, or, when none were sent, the owner's own copy.
func (s *Service) programBytes(what string, sent []byte, sum string, limit int) ([]byte, error) {
	if len(sent) > 0 {
		if sha256Hex(sent) != sum {
			return nil, moduleRefusal("the %s sent does not have the SHA-256 the signed query names (%.12s…)", what, sum)
		}
		return sent, nil
	}
	f, err := s.deps.Datasets.Open(sum)
	if err != nil {
		return nil, moduleRefusal("the request carries no %s, and %s holds none with the SHA-256 %.12s…", what, s.deps.Self.Name, sum)
	}
	defer f.Close()
	if f.Size() > int64(limit) {
		return nil, moduleRefusal("the %s %.12s… is larger than %d MiB", what, sum, limit>>20)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil || sha256Hex(b) != sum {
		return nil, refusef(RefusalInternal, "the owner could not read its copy of the %s %.12s…", what, sum)
	}
	return b, nil
}

// policyFacts are what the policy is told of the programs.
func (s *Service) policyFacts(in *policy.AnalysisInput, p *programs) {
	if p == nil {
		return
	}
	in.Module = &policy.AnalysisModule{
		SHA256: p.entry.SHA256, Name: p.entry.Name, Kind: p.entry.Kind, Project: p.entry.Project,
		ApprovedBySelf: slices.Contains(p.entry.Approvals, s.deps.Self.Name), Approvals: nonNil(p.entry.Approvals),
		Withdrawn: p.entry.Withdrawn,
	}
	if m := p.model; m != nil {
		in.Model = &policy.Resource{
			Kind: m.Kind, ID: m.ID, Owner: m.Owner, Theme: m.Theme, Classification: m.Classification,
			PersonalData: m.PersonalData, License: m.License, RequiresProject: m.RequiresProject, Partners: nonNil(m.Partners),
		}
	}
}

// run runs a program in the sandbox, at most cfg.MaxModuleRuns at once.
func (s *Service) run(ctx context.Context, bin []byte, in sandbox.Input) (sandbox.Output, error) {
	select {
	case s.runs <- struct{}{}:
	default:
		return sandbox.Output{}, refusef(RefusalBusy, "%s is running as many programs as it allows at once; try again shortly", s.deps.Self.Name)
	}
	defer func() { <-s.runs }()
	out, err := s.deps.Sandbox.Run(ctx, bin, in)
	if err == nil {
		return out, nil
	}
	var le *sandbox.LimitError
	var me *sandbox.ModuleError
	switch {
	case errors.As(err, &le):
		return out, moduleRefusal("the program was stopped: %v", le)
	case errors.As(err, &me):
		// The module's standard error is logged here, never sent: a
		// program could write rows there before failing on purpose.
		s.log.Info("sandboxed program failed", "module", me.Digest, "kind", me.Kind, "stderr", me.Stderr)
		quiet := *me
		quiet.Stderr = ""
		return out, moduleRefusal("the program failed: %v (its standard error stays with the owner)", &quiet)
	case errors.Is(err, sandbox.ErrClosed), errors.Is(err, context.Canceled):
		return out, refusef(RefusalInternal, "the owner is stopping")
	}
	return out, refusef(RefusalInternal, "the owner could not run the program: %v", err)
}

// seedOf is a run's randomness: the same for the same analysis and dataset.
func seedOf(q Query) [32]byte {
	return sha256.Sum256([]byte("xborder-analysis-seed\x00" + q.Analysis + "\x00" + q.Dataset))
}

// evaluate runs the model's predictor on the selected rows whose label is
// known and computes the metrics the owner releases.
func (s *Service) evaluate(ctx context.Context, t *tabular.Table, q Query, selected *roaring.Bitmap, rules stats.Rules, p *programs, c *computed) error {
	dict := t.Dictionary()
	lc, ok := dict.Column(q.Label)
	if !ok || lc.Identifier || (lc.Type != tabular.TypeBoolean && lc.Type != tabular.TypeInteger && lc.Type != tabular.TypeNumber) {
		return refusef(RefusalBadQuery, "the label %q is not a boolean or 0/1 column of %s", q.Label, c.Dataset)
	}
	inputs := p.model.Predictor.Inputs
	if len(inputs) == 0 {
		return moduleRefusal("the model %s names no input columns for its predictor", q.Model)
	}
	for _, in := range inputs {
		col, ok := dict.Column(in)
		switch {
		case !ok:
			return refusef(RefusalBadQuery, "the model reads a column %q that %s lacks", in, c.Dataset)
		case col.Identifier:
			return refusef(RefusalBadQuery, "the model reads %s, which identifies a person and is never shown to a program", in)
		case in == q.Label:
			return refusef(RefusalBadQuery, "the model reads the label %s itself", in)
		}
	}
	labels, err := t.Numbers(q.Label)
	if err != nil {
		return err
	}
	used := known(labels, selected)
	for it := used.Iterator(); it.HasNext(); {
		if v := labels[it.Next()]; v != 0 && v != 1 {
			return refusef(RefusalBadQuery, "the label %s holds values other than 0 and 1", q.Label)
		}
	}
	n := int(used.GetCardinality())
	if n < rules.MinSubsetRows {
		return tooFewRows(rules)
	}
	view, err := writeView(t, inputs, used)
	if err != nil {
		return err
	}
	fsys, err := sandbox.FileView(viewFile, bytes.NewReader(view), int64(len(view)))
	if err != nil {
		return err
	}
	out, err := s.run(ctx, p.module, sandbox.Input{Stdin: p.parameters, Data: fsys, Seed: seedOf(q),
		OutputLimit: n*scoreLineBytes + 4096})
	if err != nil {
		return err
	}
	scores, scored, err := parseScores(out.Stdout, used, n)
	if err != nil {
		return err
	}
	picked := make([]bool, 0, len(scores))
	for it := scored.Iterator(); it.HasNext(); {
		picked = append(picked, labels[it.Next()] == 1)
	}
	req := evaluation.Request{Thresholds: q.Thresholds, CalibrationBins: q.Bins, Level: q.Level}
	ev, err := evaluation.Evaluate(scores, picked, req, rules)
	if err != nil {
		return err
	}
	unscored := stats.Cell{Count: n - len(scores)}
	if unscored.Count > 0 && unscored.Count < rules.MinCellCount {
		unscored = stats.Cell{Suppressed: stats.SuppressedSmall}
	}
	c.rows, c.Evaluation, c.Unscored = scored, &ev, &unscored
	c.Model, c.ModuleSHA256, c.ParametersSHA256 = q.Model, q.ModuleSHA256, q.ParametersSHA256
	return nil
}

// parseScores reads one line per row: a probability, or nothing for a row
// the model could not score (left out of the evaluation, and counted).
func parseScores(out []byte, rows *roaring.Bitmap, n int) ([]float64, *roaring.Bitmap, error) {
	if len(out) == 0 || out[len(out)-1] != '\n' {
		return nil, nil, moduleRefusal("the predictor's output does not end with a newline after its last score")
	}
	lines := bytes.Split(out[:len(out)-1], []byte("\n"))
	if len(lines) != n {
		return nil, nil, moduleRefusal("the predictor wrote %d lines for %d rows; it writes one score per row", len(lines), n)
	}
	scores := make([]float64, 0, n)
	scored := roaring.New()
	it := rows.Iterator()
	for i, l := range lines {
		row := it.Next()
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(string(l), 64)
		if err != nil || !(v >= 0 && v <= 1) {
			return nil, nil, moduleRefusal("line %d of the predictor's output is not a probability in [0, 1]", i+1)
		}
		scores = append(scores, v)
		scored.Add(row)
	}
	return scores, scored, nil
}

// runModule runs an approved analysis program on the selected rows (every
// column but the identifiers) and checks its output.
func (s *Service) runModule(ctx context.Context, t *tabular.Table, q Query, selected *roaring.Bitmap, limits policy.DisclosureLimits, p *programs, c *computed) error {
	rules := rulesOf(limits)
	n := int(selected.GetCardinality())
	if n < rules.MinSubsetRows {
		return tooFewRows(rules)
	}
	var cols, names []string
	for _, col := range t.Dictionary().Columns {
		if col.Identifier {
			continue
		}
		cols = append(cols, col.Name)
		names = append(names, col.Name)
		names = append(names, col.Levels...)
		if col.Type == tabular.TypeBoolean {
			names = append(names, "true", "false")
		}
	}
	view, err := writeView(t, cols, selected)
	if err != nil {
		return err
	}
	fsys, err := sandbox.FileView(viewFile, bytes.NewReader(view), int64(len(view)))
	if err != nil {
		return err
	}
	out, err := s.run(ctx, p.module, sandbox.Input{Data: fsys, Seed: seedOf(q)})
	if err != nil {
		return err
	}
	checked, suppressed, err := p.schema.Check(out.Stdout, OutputView{Names: names, Rows: n, Limits: limits})
	if err != nil {
		var oe *OutputError
		if errors.As(err, &oe) {
			return &auditedRefusal{RefusedError: moduleRefusal("%v", oe), module: q.ModuleSHA256, output: sha256Hex(out.Stdout)}
		}
		return err
	}
	c.rows, c.Output, c.Suppressed, c.ModuleSHA256 = selected, checked, suppressed, q.ModuleSHA256
	return nil
}

func tooFewRows(rules stats.Rules) error {
	return &RefusedError{Code: RefusalDisclosure, Reason: (&stats.DisclosureError{Rule: stats.RuleMinSubsetRows,
		Detail: fmt.Sprintf("the analysis covers fewer than %d rows, and the owner releases nothing computed over so few", rules.MinSubsetRows)}).Error()}
}

// writeView writes the rows' values of cols as CSV, with a header of the
// column names: categorical levels as text, booleans true/false, integers
// without a fraction, missing values empty.
func writeView(t *tabular.Table, cols []string, rows *roaring.Bitmap) ([]byte, error) {
	dict := t.Dictionary()
	type source struct {
		typ    tabular.Type
		nums   []float64
		codes  []int32
		levels []string
	}
	src := make([]source, len(cols))
	for i, name := range cols {
		col, ok := dict.Column(name)
		if !ok {
			return nil, &tabular.ColumnError{Column: name, Err: tabular.ErrUnknownColumn}
		}
		src[i].typ = col.Type
		var err error
		if col.Type == tabular.TypeCategorical {
			src[i].codes, src[i].levels, err = t.Codes(name)
		} else {
			src[i].nums, err = t.Numbers(name)
		}
		if err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	buf.Grow(int(rows.GetCardinality()) * (8*len(cols) + 1))
	w := csv.NewWriter(&buf)
	if err := w.Write(cols); err != nil {
		return nil, err
	}
	rec := make([]string, len(cols))
	for it := rows.Iterator(); it.HasNext(); {
		r := it.Next()
		for i, sc := range src {
			rec[i] = ""
			switch sc.typ {
			case tabular.TypeCategorical:
				if c := sc.codes[r]; c >= 0 {
					rec[i] = sc.levels[c]
				}
			case tabular.TypeBoolean:
				if v := sc.nums[r]; !math.IsNaN(v) {
					rec[i] = strconv.FormatBool(v == 1)
				}
			case tabular.TypeInteger:
				if v := sc.nums[r]; !math.IsNaN(v) {
					rec[i] = strconv.FormatFloat(v, 'f', -1, 64)
				}
			default:
				if v := sc.nums[r]; !math.IsNaN(v) {
					rec[i] = strconv.FormatFloat(v, 'g', -1, 64)
				}
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}
