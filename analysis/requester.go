package analysis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/nodejws"
)

// Audit record types written by the researcher's side.
const (
	RecordStarted  = "analysis.started"
	RecordFinished = "analysis.finished"
)

// run is an analysis in progress on this node.
type run struct {
	mu      sync.Mutex
	status  Status
	changed chan struct{} // closed and replaced at every change
}

func (r *run) update(f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.status)
	r.status.Version++
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *run) snapshot() (Status, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(r.status), r.changed
}

func clone(s Status) Status {
	s.Regions = slices.Clone(s.Regions)
	return s
}

// target is one dataset of an analysis, resolved: its owner and listing.
type target struct {
	owner   Member
	dataset Dataset
	query   Query
	session string
	// programs are sent with the opening request of an evaluation or a
	// module run (shared by every target).
	programs payload
}

// Start begins an analysis for the caller and returns at once with its
// ID; Analysis follows it. A spec that cannot be answered as asked (an
// unknown dataset or column, a wrong type, a formula that does not parse)
// is a *SpecError before anything is asked of any owner.
func (s *Service) Start(ctx context.Context, c Caller, spec Spec) (Status, error) {
	if c.Subject == "" {
		return Status{}, errors.New("analysis: the caller has no subject")
	}
	if err := spec.Validate(); err != nil {
		return Status{}, err
	}
	id := newAnalysisID(s.now())
	targets, err := s.resolve(id, spec)
	if err != nil {
		return Status{}, err
	}
	// The programs went into the targets; the analysis keeps their hashes
	// (in its queries), not megabytes of code in every status.
	spec.Predictor, spec.Parameters, spec.ModuleBytes = nil, nil, nil
	st := Status{ID: id, Spec: spec, Researcher: c.Subject, State: StateRunning, Started: s.now().UTC()}
	for _, t := range targets {
		st.Regions = append(st.Regions, RegionOutcome{Dataset: t.dataset.Ref(), Owner: t.owner.Name, State: StatePending})
	}
	if err := s.deps.Recorder.Record(RecordStarted, c.Subject+" -> "+strings.Join(spec.Datasets, ","), startedRecord{
		Analysis: id, Spec: spec, Researcher: c.Subject,
	}); err != nil {
		return Status{}, fmt.Errorf("analysis not started: %w (%v)", ErrAuditUnavailable, err)
	}
	r := &run{status: st, changed: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Status{}, ErrClosed
	}
	s.running[id] = r
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.execute(c, r, targets)
	}()
	snap, _ := r.snapshot()
	return snap, nil
}

type startedRecord struct {
	Analysis   string `json:"analysis"`
	Spec       Spec   `json:"spec"`
	Researcher string `json:"researcher"`
}

// finishedRecord is the researcher's node's audit record of an analysis'
// end: each region's decision and the digests of the contributions it
// released, so that both sides' trails name the same aggregates.
type finishedRecord struct {
	Analysis string         `json:"analysis"`
	State    State          `json:"state"`
	Rows     int            `json:"rows,omitempty"`
	Error    string         `json:"error,omitempty"`
	Regions  []regionRecord `json:"regions"`
}

type regionRecord struct {
	Dataset       string      `json:"dataset"`
	State         State       `json:"state"`
	Rules         []string    `json:"rules,omitempty"`
	Bundle        string      `json:"bundle,omitempty"`
	Code          RefusalCode `json:"code,omitempty"`
	Contributions []string    `json:"contributions_sha256,omitempty"`
}

// Run runs an analysis to its end: Start, then wait.
func (s *Service) Run(ctx context.Context, c Caller, spec Spec) (Status, error) {
	st, err := s.Start(ctx, c, spec)
	if err != nil {
		return st, err
	}
	for !st.Done() {
		if st, err = s.Wait(ctx, c, st.ID, st.Version); err != nil {
			return st, err
		}
	}
	return st, nil
}

// Analysis returns one of the caller's analyses.
func (s *Service) Analysis(_ context.Context, c Caller, id string) (Status, error) {
	st, _, err := s.lookup(id)
	if err != nil || !c.sees(st) {
		return Status{}, fmt.Errorf("analysis %q: %w", id, ErrNotFound)
	}
	return st, nil
}

// Wait returns the analysis once its version is past after, or when ctx
// ends (then the current state, without error).
func (s *Service) Wait(ctx context.Context, c Caller, id string, after uint64) (Status, error) {
	for {
		st, changed, err := s.lookup(id)
		if err != nil || !c.sees(st) {
			return Status{}, fmt.Errorf("analysis %q: %w", id, ErrNotFound)
		}
		if st.Version > after || changed == nil || st.Done() {
			return st, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return st, nil
		case <-s.ctx.Done():
			return st, nil
		}
	}
}

// Analyses lists the analyses the caller may see, newest first.
func (s *Service) Analyses(_ context.Context, c Caller) ([]Status, error) {
	stored, err := s.db.analyses()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, r := range s.running {
		st, _ := r.snapshot()
		stored = append(stored, st)
	}
	s.mu.Unlock()
	out := []Status{}
	seen := map[string]bool{}
	for _, st := range stored {
		if !c.sees(st) || seen[st.ID] {
			continue
		}
		seen[st.ID] = true
		st.Result = nil // the list is an index; a result is read by ID
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(b.ID, a.ID) })
	return out, nil
}

// lookup finds a running analysis (with its change signal) or a stored one.
func (s *Service) lookup(id string) (Status, <-chan struct{}, error) {
	s.mu.Lock()
	r, ok := s.running[id]
	s.mu.Unlock()
	if ok {
		st, ch := r.snapshot()
		return st, ch, nil
	}
	st, found, err := s.db.analysis(id)
	if err != nil {
		return Status{}, nil, err
	}
	if !found {
		return Status{}, nil, ErrNotFound
	}
	return st, nil, nil
}

// failInterrupted marks the analyses a previous run of the node left
// running as failed: their sessions at the owners are gone.
func (s *Service) failInterrupted() error {
	all, err := s.db.analyses()
	if err != nil {
		return err
	}
	for _, st := range all {
		if st.Done() {
			continue
		}
		st.State, st.Error, st.Finished = StateFailed, "the node stopped while the analysis ran", s.now().UTC()
		if err := s.db.putAnalysis(st); err != nil {
			return err
		}
	}
	return nil
}

func newAnalysisID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// resolve finds each dataset's owner and listing, checks the variables
// against the data dictionaries, and builds the query each owner answers.
func (s *Service) resolve(id string, spec Spec) ([]target, error) {
	var probs []string
	var targets []target
	var dicts []tabular.Dictionary
	for _, ref := range spec.Datasets {
		ownerName, dsID, _ := strings.Cut(ref, "/")
		owner, ok := s.deps.Registry.MemberByName(ownerName)
		if !ok {
			probs = append(probs, fmt.Sprintf("datasets: %q is not a member of the federation", ownerName))
			continue
		}
		d, ok := s.deps.Datasets.Listed(ownerName, dsID)
		if !ok || d.Kind != "dataset" {
			probs = append(probs, fmt.Sprintf("datasets: %s is not in this node's catalogue", ref))
			continue
		}
		if d.Dictionary == nil {
			probs = append(probs, fmt.Sprintf("datasets: %s has no data dictionary, so it cannot be analysed", ref))
			continue
		}
		dicts = append(dicts, *d.Dictionary)
		targets = append(targets, target{owner: owner, dataset: d})
	}
	if len(probs) > 0 {
		return nil, &SpecError{Problems: probs}
	}
	merged, err := mergeDictionaries(spec.Datasets, dicts)
	if err != nil {
		return nil, err
	}
	q := Query{
		Analysis: id, Kind: spec.Kind, Variables: spec.Variables, By: spec.By, Breaks: spec.Breaks,
		Family: spec.Family, Formula: spec.Formula, Filter: spec.Filter, Purpose: spec.Purpose, Project: spec.Project,
	}
	if err := checkColumns(spec, merged); err != nil {
		return nil, err
	}
	var progs payload
	switch spec.Kind {
	case KindEvaluate:
		if progs, err = s.resolveModel(spec, merged, &q); err != nil {
			return nil, err
		}
	case KindModule:
		if progs, err = s.resolveModule(spec, &q); err != nil {
			return nil, err
		}
	}
	if spec.Filter != "" {
		f, err := tabular.ParseFilter(spec.Filter, merged)
		if err != nil {
			return nil, &SpecError{Problems: []string{"filter: " + err.Error()}}
		}
		q.Filter = f.String()
	}
	if spec.Kind == KindGLM {
		f, err := tabular.ParseFormula(spec.Formula, merged)
		if err != nil {
			return nil, &SpecError{Problems: []string{"formula: " + err.Error()}}
		}
		design, err := tabular.NewDesign(f, merged)
		if err != nil {
			return nil, &SpecError{Problems: []string{"formula: " + err.Error()}}
		}
		q.Formula, q.Design = f.String(), &design
	}
	for i := range targets {
		targets[i].query = q
		targets[i].query.Dataset = targets[i].dataset.ID
		targets[i].programs = progs
	}
	return targets, nil
}

// resolveModel finds an evaluation's model and its programs, and checks the
// label and the predictor's inputs against the datasets' dictionaries.
func (s *Service) resolveModel(spec Spec, merged tabular.Dictionary, q *Query) (payload, error) {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	owner, id, _ := strings.Cut(spec.Model, "/")
	md, ok := s.deps.Datasets.Listed(owner, id)
	switch {
	case !ok:
		return payload{}, &SpecError{Problems: []string{fmt.Sprintf("model: %s is not in this node's catalogue", spec.Model)}}
	case md.Kind != "model" || md.Predictor == nil || !isSHA256(md.Predictor.SHA256) || !isSHA256(md.SHA256):
		return payload{}, &SpecError{Problems: []string{fmt.Sprintf("model: %s is not a model entry with a predictor", spec.Model)}}
	}
	if lc, ok := merged.Column(spec.Label); !ok {
		add("label: no dataset has a column %q", spec.Label)
	} else if lc.Identifier || (lc.Type != tabular.TypeBoolean && lc.Type != tabular.TypeInteger && lc.Type != tabular.TypeNumber) {
		add("label: %s is %s; the label is a boolean or 0/1 column", spec.Label, describe(lc))
	}
	for _, in := range md.Predictor.Inputs {
		if c, ok := merged.Column(in); !ok {
			add("model: the predictor reads %s, which some dataset lacks", in)
		} else if c.Identifier {
			add("model: the predictor reads %s, which identifies a person and is never shown to a program", in)
		}
		if in == spec.Label {
			add("model: the predictor reads the label %s itself", in)
		}
	}
	if len(md.Predictor.Inputs) == 0 {
		add("model: %s names no input columns for its predictor", spec.Model)
	}
	module, err := s.localProgram("predictor", spec.Predictor, md.Predictor.SHA256, MaxModuleBytes)
	if err != nil {
		add("%v", err)
	}
	params, err := s.localProgram("parameters", spec.Parameters, md.SHA256, MaxParametersBytes)
	if err != nil {
		add("%v", err)
	}
	if len(probs) > 0 {
		return payload{}, &SpecError{Problems: probs}
	}
	q.Model, q.ModuleSHA256, q.ParametersSHA256 = md.Ref(), md.Predictor.SHA256, md.SHA256
	q.Label, q.Thresholds, q.Bins, q.Level = spec.Label, spec.Thresholds, spec.CalibrationBins, spec.Level
	return payload{module: module, parameters: params}, nil
}

// resolveModule finds a module run's program in the registry and its bytes.
func (s *Service) resolveModule(spec Spec, q *Query) (payload, error) {
	mod, ok := s.deps.Registry.Module(spec.Project, spec.Module)
	switch {
	case !ok:
		return payload{}, &SpecError{Problems: []string{fmt.Sprintf("module: %.12s… was not proposed to project %s", spec.Module, spec.Project)}}
	case mod.Withdrawn:
		return payload{}, &SpecError{Problems: []string{fmt.Sprintf("module: %s (%.12s…) was withdrawn", mod.Name, spec.Module)}}
	case mod.Kind != ModuleKindAnalysis:
		return payload{}, &SpecError{Problems: []string{fmt.Sprintf("module: %s is a %s module, not an analysis", mod.Name, mod.Kind)}}
	}
	if _, err := ParseSchema(mod.Schema); err != nil {
		return payload{}, &SpecError{Problems: []string{fmt.Sprintf("module: %s declares no usable output schema: %v", mod.Name, err)}}
	}
	bin, err := s.localProgram("module", spec.ModuleBytes, spec.Module, MaxModuleBytes)
	if err != nil {
		return payload{}, &SpecError{Problems: []string{err.Error()}}
	}
	q.ModuleSHA256 = spec.Module
	return payload{module: bin}, nil
}

// localProgram is a program's bytes, given with the spec (and checked
// against the hash the registry or catalogue names) or from this node's
// store.
func (s *Service) localProgram(what string, given []byte, sum string, limit int) ([]byte, error) {
	if len(given) > 0 {
		if sha256Hex(given) != sum {
			return nil, fmt.Errorf("%s: the bytes given do not have the SHA-256 %.12s… the catalogue names", what, sum)
		}
		return given, nil
	}
	f, err := s.deps.Datasets.Open(sum)
	if err != nil {
		return nil, fmt.Errorf("%s: this node does not hold %.12s…; give its bytes with the request", what, sum)
	}
	defer f.Close()
	if f.Size() > int64(limit) {
		return nil, fmt.Errorf("%s: %.12s… is larger than %d MiB", what, sum, limit>>20)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		return nil, fmt.Errorf("%s: reading %.12s…: %v", what, sum, err)
	}
	if sha256Hex(b) != sum {
		return nil, fmt.Errorf("%s: this node's copy of %.12s… is damaged", what, sum)
	}
	return b, nil
}

// mergeDictionaries joins the datasets' dictionaries into the one the
// requests are built from: a column analysed must have one type
// everywhere, and a factor's levels are the union of every owner's (in
// the order first seen), so that each owner's levels are among the
// design's and no owner's rows fall silently into another level.
func mergeDictionaries(refs []string, dicts []tabular.Dictionary) (tabular.Dictionary, error) {
	var merged tabular.Dictionary
	index := map[string]int{}
	var probs []string
	for i, d := range dicts {
		for _, col := range d.Columns {
			j, ok := index[col.Name]
			if !ok {
				index[col.Name] = len(merged.Columns)
				col.Levels = slices.Clone(col.Levels)
				merged.Columns = append(merged.Columns, col)
				continue
			}
			have := &merged.Columns[j]
			if have.Type != col.Type || have.Identifier != col.Identifier {
				probs = append(probs, fmt.Sprintf("column %s is %s in one dataset and %s in %s", col.Name, describe(*have), describe(col), refs[i]))
				continue
			}
			for _, l := range col.Levels {
				if !slices.Contains(have.Levels, l) {
					have.Levels = append(have.Levels, l)
				}
			}
		}
	}
	if len(probs) > 0 {
		return tabular.Dictionary{}, &SpecError{Problems: probs}
	}
	return merged, nil
}

func describe(c tabular.Column) string {
	if c.Identifier {
		return string(c.Type) + " (identifier)"
	}
	return string(c.Type)
}

// checkColumns refuses, before any owner is asked, variables that some
// dataset lacks or whose type does not suit the analysis.
func checkColumns(spec Spec, d tabular.Dictionary) error {
	var probs []string
	need := func(name string, numeric bool) {
		col, ok := d.Column(name)
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("variables: no dataset has a column %q", name))
		case col.Identifier:
			probs = append(probs, fmt.Sprintf("variables: %s identifies a person and is never analysed", name))
		case numeric && col.Type == tabular.TypeCategorical:
			probs = append(probs, fmt.Sprintf("variables: %s is categorical; a %s needs a numeric variable", name, spec.Kind))
		case !numeric && col.Type != tabular.TypeCategorical && col.Type != tabular.TypeBoolean:
			probs = append(probs, fmt.Sprintf("variables: %s is %s; a table is of factors (categorical or boolean columns)", name, col.Type))
		}
	}
	switch spec.Kind {
	case KindSummary, KindHistogram, KindCorrelation:
		for _, v := range spec.Variables {
			need(v, true)
		}
	case KindTable:
		if spec.By != "" {
			need(spec.Variables[0], true)
			need(spec.By, false)
		} else {
			for _, v := range spec.Variables {
				need(v, false)
			}
		}
	}
	if len(probs) > 0 {
		return &SpecError{Problems: probs}
	}
	return nil
}

// execute runs an analysis to its end and stores it.
func (s *Service) execute(c Caller, r *run, targets []target) {
	ctx := s.ctx
	res, err := s.gather(ctx, c, r, targets)
	r.update(func(st *Status) {
		st.Finished = s.now().UTC()
		// An incomplete analysis says which region did not contribute;
		// no partial result is kept.
		if err == nil {
			st.State, st.Result = StateDone, res
		} else {
			st.State, st.Error = StateFailed, err.Error()
		}
	})
	final, _ := r.snapshot()
	rows := 0
	if final.Result != nil {
		rows = final.Result.Combined.Rows
	}
	rec := finishedRecord{Analysis: final.ID, State: final.State, Rows: rows, Error: final.Error}
	for i, r := range final.Regions {
		rr := regionRecord{Dataset: r.Dataset, State: r.State, Code: r.Code}
		if r.Decision != nil {
			rr.Rules, rr.Bundle = r.Decision.Rules, r.Decision.Bundle
		}
		if final.Result != nil && i < len(final.Result.Parts) {
			for _, tok := range final.Result.Parts[i].Contributions {
				sum := sha256.Sum256([]byte(tok))
				rr.Contributions = append(rr.Contributions, hex.EncodeToString(sum[:]))
			}
		}
		rec.Regions = append(rec.Regions, rr)
	}
	// The result is the researcher's already; a failed record is logged.
	if err := s.deps.Recorder.Record(RecordFinished, c.Subject+" -> "+strings.Join(final.Spec.Datasets, ","), rec); err != nil {
		s.log.Error("record the end of an analysis", "analysis", final.ID, "err", err)
	}
	if err := s.db.putAnalysis(final); err != nil {
		// Kept in memory, where the researcher still reads it, until the
		// node stops.
		s.log.Error("store analysis; it is kept in memory until the node stops", "analysis", final.ID, "err", err)
		return
	}
	s.mu.Lock()
	delete(s.running, final.ID)
	s.mu.Unlock()
}

// gather asks every owner, and combines.
func (s *Service) gather(ctx context.Context, c Caller, r *run, targets []target) (*Result, error) {
	r.update(func(st *Status) {
		for i := range st.Regions {
			st.Regions[i].State = StateRunning
		}
	})
	parts := make([]Part, len(targets))
	firsts := make([]Contribution, len(targets))
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &targets[i]
			parts[i] = Part{Dataset: t.dataset.Ref(), Owner: t.owner.Name, PeerID: t.owner.PeerID.String(), Query: t.query}
			out, contrib, token := s.openAt(ctx, c, t)
			if token != "" {
				parts[i].Contributions = []string{token}
				firsts[i] = contrib
			}
			r.update(func(st *Status) { st.Regions[i] = out })
		}()
	}
	wg.Wait()
	defer s.closeSessions(targets)
	snap, _ := r.snapshot()
	for _, reg := range snap.Regions {
		if reg.State != StateDone {
			return nil, &IncompleteError{Regions: snap.Regions}
		}
	}
	spec := snap.Spec
	res := &Result{
		Analysis: snap.ID, Requester: s.deps.Self.Name, Researcher: c.Subject, Spec: spec, Parts: parts,
	}
	if spec.Kind != KindGLM {
		comb, err := combine(spec.Kind, firsts)
		if err != nil {
			return nil, err
		}
		res.Combined = comb
		if spec.Kind == KindEvaluate && s.deps.Ledger != nil {
			res.Ledger = s.commitEvaluation(ctx, res)
		}
	} else {
		fit, err := s.fit(ctx, r, targets, parts, firsts)
		if err != nil {
			return nil, err
		}
		rows := 0
		for _, f := range firsts {
			rows += f.Rows
		}
		res.Combined = Combined{Rows: rows, GLM: &fit}
		if err := checkFinite(res.Combined); err != nil {
			return nil, err
		}
	}
	res.Created = s.now().UTC()
	return res, nil
}

// commitEvaluation records an evaluation's signed contributions in the
// registry. Its failure is the result's to tell, not the analysis': the
// metrics stand, and the researcher may commit them again.
func (s *Service) commitEvaluation(ctx context.Context, res *Result) *LedgerOutcome {
	var tokens []string
	for _, p := range res.Parts {
		tokens = append(tokens, p.Contributions[0])
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RoundTimeout)
	defer cancel()
	if err := s.deps.Ledger.CommitEvaluation(ctx, res.Spec.Model, res.Analysis, tokens); err != nil {
		s.log.Warn("commit evaluation", "analysis", res.Analysis, "model", res.Spec.Model, "err", err)
		return &LedgerOutcome{Error: err.Error()}
	}
	return &LedgerOutcome{Committed: true}
}

// openAt asks one owner to open the analysis: its decision, and when it
// allows, its first contribution, checked.
func (s *Service) openAt(ctx context.Context, c Caller, t *target) (RegionOutcome, Contribution, string) {
	out := RegionOutcome{Dataset: t.dataset.Ref(), Owner: t.owner.Name}
	var ans answer
	if t.owner.PeerID == s.deps.Self.PeerID {
		ans = s.open(ctx, s.deps.Self, c.researcher(), t.query, t.programs)
	} else {
		now := s.now()
		token, err := nodejws.Sign(s.deps.Key, s.deps.Self.PeerID, queryTokenType, queryClaims{
			Issuer: s.deps.Self.PeerID.String(), Audience: t.owner.PeerID.String(), ID: newTokenID(),
			IssuedAt: now.Unix(), Expires: now.Add(s.cfg.QueryTTL).Unix(), Researcher: c.researcher(), Query: t.query,
		})
		if err == nil {
			ans, err = s.roundTrip(ctx, t.owner.PeerID, request{Token: token, Module: t.programs.module, Parameters: t.programs.parameters})
		}
		if err != nil {
			out.State, out.Reason = StateFailed, fmt.Sprintf("%s could not be asked: %v", t.owner.Name, err)
			return out, Contribution{}, ""
		}
	}
	t.session = ans.Session
	out.Decision = ans.Decision
	switch {
	case ans.Code != "":
		out.State, out.Code, out.Reason = StateRefused, ans.Code, ans.Reason
		return out, Contribution{}, ""
	case ans.Decision == nil:
		out.State, out.Reason = StateFailed, "the owner answered without a decision"
		return out, Contribution{}, ""
	case !ans.Decision.Allow:
		out.State = StateDenied
		return out, Contribution{}, ""
	}
	part := Part{Dataset: t.dataset.Ref(), Owner: t.owner.Name, PeerID: t.owner.PeerID.String(), Query: t.query}
	contrib, err := openContribution(ans.Contribution, part, 0)
	if err != nil {
		out.State, out.Reason = StateFailed, err.Error()
		return out, Contribution{}, ""
	}
	if t.query.Kind == KindGLM && t.session == "" {
		out.State, out.Reason = StateFailed, "the owner opened no session for the model fit"
		return out, Contribution{}, ""
	}
	out.State, out.Rows = StateDone, contrib.Rows
	return out, contrib, ans.Contribution
}

// fit runs the IRLS loop across the owners: iteration 0 is the openings'
// contributions; each later one asks every owner at once for its partial
// at the coefficients just solved.
func (s *Service) fit(ctx context.Context, r *run, targets []target, parts []Part, firsts []Contribution) (stats.Fit, error) {
	snap, _ := r.snapshot()
	fam, err := stats.ParseFamily(snap.Spec.Family)
	if err != nil {
		return stats.Fit{}, err
	}
	design := targets[0].query.Design
	partial := func(ctx context.Context, iteration int, beta []float64) (stats.Partial, error) {
		r.update(func(st *Status) { st.Iteration = iteration })
		contribs := make([]Contribution, len(targets))
		if iteration == 0 {
			copy(contribs, firsts)
		} else {
			errs := make([]error, len(targets))
			var wg sync.WaitGroup
			for i := range targets {
				wg.Add(1)
				go func() {
					defer wg.Done()
					contribs[i], errs[i] = s.iterateAt(ctx, &targets[i], &parts[i], iteration, beta)
				}()
			}
			wg.Wait()
			failed := false
			r.update(func(st *Status) {
				for i, e := range errs {
					if e != nil {
						failed = true
						st.Regions[i].State, st.Regions[i].Reason = StateFailed, e.Error()
						var re *RefusedError
						if errors.As(e, &re) {
							st.Regions[i].State, st.Regions[i].Code, st.Regions[i].Reason = StateRefused, re.Code, re.Reason
						}
					} else {
						st.Regions[i].Iteration = iteration
					}
				}
			})
			if failed {
				snap, _ := r.snapshot()
				return stats.Partial{}, &IncompleteError{Regions: snap.Regions}
			}
		}
		ps := make([]stats.Partial, len(contribs))
		for i, c := range contribs {
			if c.Partial == nil {
				return stats.Partial{}, fmt.Errorf("%s's contribution has no partial", parts[i].Dataset)
			}
			ps[i] = *c.Partial
		}
		return stats.Sum(ps)
	}
	return stats.Run(ctx, fam, designNames(*design), partial, glmOptions(firsts))
}

// iterateAt asks one owner for its partial at beta.
func (s *Service) iterateAt(ctx context.Context, t *target, part *Part, iteration int, beta []float64) (Contribution, error) {
	req := request{Session: t.session, Iteration: iteration, Beta: beta}
	var ans answer
	if t.owner.PeerID == s.deps.Self.PeerID {
		ans = s.iterate(s.deps.Self, req)
	} else {
		var err error
		if ans, err = s.roundTrip(ctx, t.owner.PeerID, req); err != nil {
			return Contribution{}, fmt.Errorf("%s could not be asked for iteration %d: %w", t.owner.Name, iteration, err)
		}
	}
	if ans.Code != "" {
		return Contribution{}, &RefusedError{Owner: t.owner.Name, Code: ans.Code, Reason: ans.Reason}
	}
	c, err := openContribution(ans.Contribution, *part, iteration)
	if err != nil {
		return Contribution{}, err
	}
	if !slices.Equal(c.Beta, beta) {
		return Contribution{}, fmt.Errorf("%s answered for other coefficients than it was sent", t.owner.Name)
	}
	part.Contributions = append(part.Contributions, ans.Contribution)
	return c, nil
}

// closeSessions ends the GLM sessions at the owners; an owner that does
// not hear it ends the session when it has been idle long enough.
func (s *Service) closeSessions(targets []target) {
	for i := range targets {
		t := &targets[i]
		if t.session == "" {
			continue
		}
		if t.owner.PeerID == s.deps.Self.PeerID {
			s.sessions.end(t.session, s.deps.Self.PeerID)
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		_, _ = s.roundTrip(ctx, t.owner.PeerID, request{Session: t.session, Close: true})
		cancel()
	}
}

func newTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
