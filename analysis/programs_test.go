package analysis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
	"github.com/xborder/xborder/sandbox"
)

// The programs the tests run are built for wasip1 once per test process,
// as `make wasm` builds the examples: the example predictor and
// cohort-describe, and the misbehaving modules of testdata/modules.
var (
	wasmOnce sync.Once
	wasmDir  string
	wasmErr  error

	sandboxMu   sync.Mutex
	sandboxes   []*sandbox.Sandbox
	sandboxBase string // the compiled-code cache every test sandbox shares
)

func wasm(tb testing.TB, name string) []byte {
	tb.Helper()
	wasmOnce.Do(func() {
		if wasmDir, wasmErr = os.MkdirTemp("", "analysis-wasm-"); wasmErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", wasmDir+"/",
			"../examples/predictor", "../examples/cohort-describe", "./testdata/modules/...")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			wasmErr = fmt.Errorf("go build of the test modules: %v\n%s", err, out)
		}
	})
	if wasmErr != nil {
		tb.Fatal(wasmErr)
	}
	bin, err := os.ReadFile(filepath.Join(wasmDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	precompile(tb, name, bin)
	return bin
}

// precompiled are the modules already compiled into the shared cache.
var precompiled sync.Map

// precompile compiles a module into the cache the test sandboxes share,
// outside any test's deadline: a first compilation of a Go module takes
// seconds, tens of them under the race detector on a loaded machine, and
// the tests time the analyses, not the compiler.
func precompile(tb testing.TB, name string, bin []byte) {
	tb.Helper()
	if _, done := precompiled.LoadOrStore(name, true); done {
		return
	}
	m, err := testSandbox(tb, sandbox.Config{}).Compile(context.Background(), bin)
	if err != nil {
		// A module the sandbox refuses is some test's subject: that test
		// sees the refusal itself.
		return
	}
	m.Close()
}

// testSandbox is a sandbox closed by TestMain; those of one process share
// their compiled code on disk, so each module is compiled once.
func testSandbox(tb testing.TB, cfg sandbox.Config) *sandbox.Sandbox {
	tb.Helper()
	sandboxMu.Lock()
	defer sandboxMu.Unlock()
	if sandboxBase == "" {
		dir, err := os.MkdirTemp("", "analysis-sandbox-")
		if err != nil {
			tb.Fatal(err)
		}
		sandboxBase = dir
	}
	cfg.CacheDir = sandboxBase
	sb, err := sandbox.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	sandboxes = append(sandboxes, sb)
	return sb
}

func closeTestSandboxes() {
	sandboxMu.Lock()
	defer sandboxMu.Unlock()
	for _, sb := range sandboxes {
		_ = sb.Close()
	}
	sandboxes = nil
	if sandboxBase != "" {
		os.RemoveAll(sandboxBase)
	}
	if wasmDir != "" {
		os.RemoveAll(wasmDir)
	}
}

const cardio = "cardio-2026"

// diabetesParameters are the example predictor's coefficients: the model
// the cohorts' diabetes is drawn from.
func diabetesParameters() []byte {
	d := cohort.Diabetes
	b, _ := json.Marshal(map[string]float64{"intercept": d.Intercept, "age": d.Age, "bmi": d.BMI, "male": d.Male, "smoker": d.Smoker})
	return b
}

var predictorInputs = []string{"age", "bmi", "sex", "smoker"}

// programFederation is cohortFederation with a sandbox, a project listing
// the three cohorts and every member, and the example predictor as the
// model lu-luxembourg/diabetes, approved by every owner.
func programFederation(t testing.TB, opts federationOptions) (*federation, map[string][]byte) {
	t.Helper()
	if opts.sandbox == nil {
		opts.sandbox = testSandbox(t, sandbox.Config{})
	}
	f := newFederationWith(t, opts, "fr-grandest", "de-bw", "ch-basel", "lu-luxembourg")
	sizes := map[string]int{"fr-grandest": 900, "de-bw": 700, "ch-basel": 500}
	data := map[string][]byte{}
	for owner, n := range sizes {
		data[owner] = cohort.Generate(owner, n, 7)
		f.publish(owner, Dataset{ID: "cohort", Classification: "restricted", Dictionary: dictionaryOf(cohort.Dictionary())}, data[owner])
	}
	f.reg.projects[cardio] = policy.Project{ID: cardio, Title: "Cardiometabolic risk", Themes: []string{"health"}, Lead: "lu-luxembourg",
		Partners: []string{"fr-grandest", "de-bw", "ch-basel", "lu-luxembourg"}, Datasets: cohorts, EthicsRef: "CNER-2026-17", Status: "active"}
	f.publishModel("lu-luxembourg", "diabetes", wasm(t, "predictor"), diabetesParameters(), predictorInputs, "fr-grandest", "de-bw", "ch-basel")
	return f, data
}

// publishModel lists a model entry of owner in every catalogue, holds its
// predictor and parameters at owner, and proposes the predictor to the
// project with the approvals given.
func (f *federation) publishModel(owner, id string, predictor, params []byte, inputs []string, approvals ...string) Dataset {
	d := Dataset{Owner: owner, ID: id, Kind: "model", Theme: "health", Classification: "restricted", SHA256: sha256Hex(params),
		Predictor: &Predictor{SHA256: sha256Hex(predictor), Inputs: inputs}}
	f.mu.Lock()
	f.all[d.Ref()] = d
	f.nodes[owner].data.blobs[d.SHA256] = params
	f.nodes[owner].data.blobs[d.Predictor.SHA256] = predictor
	f.mu.Unlock()
	f.reg.propose(Module{Project: cardio, SHA256: d.Predictor.SHA256, Name: id + "-predictor", Kind: ModuleKindPredictor, Approvals: approvals})
	return d
}

func evaluateSpec(datasets ...string) Spec {
	return Spec{Kind: KindEvaluate, Datasets: datasets, Model: "lu-luxembourg/diabetes", Label: "diabetes",
		Thresholds: []float64{0.05, 0.1, 0.2, 0.3, 0.5}, CalibrationBins: 10, Purpose: "research", Project: cardio}
}

// memLedger records the evaluations committed, or fails.
type memLedger struct {
	mu      sync.Mutex
	commits [][]string
	model   string
	fail    error
}

func (l *memLedger) CommitEvaluation(_ context.Context, model, _ string, contributions []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.model = model
	l.commits = append(l.commits, contributions)
	return nil
}

// centralScores runs the predictor, in one sandbox, on every owner's rows
// whose label is known, and returns the pooled scores and labels.
func centralScores(t *testing.T, sb *sandbox.Sandbox, data map[string][]byte, owners []string) ([]float64, []bool) {
	t.Helper()
	var scores []float64
	var labels []bool
	for _, owner := range owners {
		tab, err := tabular.ReadCSV(bytes.NewReader(data[owner]), cohort.Dictionary())
		if err != nil {
			t.Fatal(err)
		}
		y, _ := tab.Numbers("diabetes")
		all := roaring.New()
		all.AddRange(0, uint64(tab.Rows()))
		rows := known(y, all)
		view, err := writeView(tab, predictorInputs, rows)
		if err != nil {
			t.Fatal(err)
		}
		fsys, _ := sandbox.FileView(viewFile, bytes.NewReader(view), int64(len(view)))
		out, err := sb.Run(context.Background(), wasm(t, "predictor"), sandbox.Input{Stdin: diabetesParameters(), Data: fsys, OutputLimit: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		s, scored, err := parseScores(out.Stdout, rows, int(rows.GetCardinality()))
		if err != nil {
			t.Fatal(err)
		}
		scores = append(scores, s...)
		for it := scored.Iterator(); it.HasNext(); {
			labels = append(labels, y[it.Next()] == 1)
		}
	}
	return scores, labels
}

func TestAFederatedEvaluationEqualsTheEvaluationOfThePooledScores(t *testing.T) {
	ledger := &memLedger{}
	sb := testSandbox(t, sandbox.Config{})
	f, data := programFederation(t, federationOptions{sandbox: sb, ledger: ledger})
	st := f.run("lu-luxembourg", evaluateSpec(cohorts...))
	if st.State != StateDone {
		t.Fatalf("state %s: %s %+v", st.State, st.Error, st.Regions)
	}
	res := st.Result
	got := res.Combined.Evaluation
	if got == nil || res.Combined.Unscored == nil || res.Combined.Unscored.Count != 0 {
		t.Fatalf("combined %+v", res.Combined)
	}
	var limits policy.DisclosureLimits
	for _, p := range res.Parts {
		c, err := openContribution(p.Contributions[0], p, 0)
		if err != nil {
			t.Fatal(err)
		}
		limits = c.Limits
	}
	scores, labels := centralScores(t, sb, data, []string{"fr-grandest", "de-bw", "ch-basel"})
	req := evaluation.Request{Thresholds: evaluateSpec().Thresholds, CalibrationBins: 10}
	want, err := evaluation.Evaluate(scores, labels, req, rulesOf(limits))
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 2100 || got.N != want.N || got.Positives != want.Positives || got.Negatives != want.Negatives {
		t.Fatalf("n %d/%d, positives %d/%d, negatives %d/%d", got.N, want.N, got.Positives, want.Positives, got.Negatives, want.Negatives)
	}
	released := 0
	for i, c := range got.Thresholds {
		w := want.Thresholds[i]
		if c.TP.Suppressed != "" {
			continue
		}
		released++
		if c.TP != w.TP || c.FP != w.FP || c.TN != w.TN || c.FN != w.FN {
			t.Fatalf("threshold %g: federated %+v, pooled %+v", c.Threshold, c, w)
		}
	}
	if released == 0 {
		t.Fatalf("no threshold released: %+v", got.Thresholds)
	}
	if d := math.Abs(got.AUC.Estimate - want.AUC.Estimate); d > got.AUCBound+1e-12 || got.AUCBound > 0.05 {
		t.Fatalf("AUC %g, pooled %g: off by %g, bound %g", got.AUC.Estimate, want.AUC.Estimate, d, got.AUCBound)
	}
	if math.Abs(got.Brier-want.Brier) > 1e-12*want.Brier {
		t.Fatalf("Brier %g, pooled %g", got.Brier, want.Brier)
	}
	if err := Verify(context.Background(), *res); err != nil {
		t.Fatalf("the result does not verify: %v", err)
	}
	changed, _ := jsonRoundTrip(*res)
	changed.Combined.Evaluation.Thresholds[0].TP.Count++
	if err := Verify(context.Background(), changed); err == nil {
		t.Fatal("a changed evaluation verified")
	}

	// The registry was given the signed contributions, whose claims name
	// the owner, the analysis, the kind and the model at the top level.
	if res.Ledger == nil || !res.Ledger.Committed || len(ledger.commits) != 1 || ledger.model != "lu-luxembourg/diabetes" {
		t.Fatalf("ledger outcome %+v, commits %d, model %q", res.Ledger, len(ledger.commits), ledger.model)
	}
	for i, tok := range ledger.commits[0] {
		raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(raw, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["owner"] != res.Parts[i].Owner || claims["analysis"] != res.Analysis || claims["kind"] != "evaluate" || claims["model"] != "lu-luxembourg/diabetes" {
			t.Fatalf("claims %v", claims)
		}
		if _, scoresLeft := claims["scores"]; scoresLeft {
			t.Fatal("a contribution carries scores")
		}
	}
	// The owner's trail names the program and the dataset it ran on.
	rec := f.nodes["de-bw"].rec
	found := false
	for _, r := range rec.records {
		if r.Type == RecordReleased {
			var rr releaseRecord
			_ = json.Unmarshal(r.Details, &rr)
			found = rr.ModuleSHA256 == res.Parts[1].Query.ModuleSHA256 && rr.DatasetSHA256 != "" && rr.Model == "lu-luxembourg/diabetes"
		}
	}
	if !found {
		t.Fatalf("no release record names the predictor: %+v", rec.records)
	}

	// A ledger that fails does not fail the evaluation.
	ledger.mu.Lock()
	ledger.fail = fmt.Errorf("the registry has no quorum")
	ledger.mu.Unlock()
	// (fr-grandest holds neither program: the researcher gives them.)
	spec := evaluateSpec(cohorts[1:]...)
	spec.Predictor, spec.Parameters = wasm(t, "predictor"), diabetesParameters()
	st = f.run("fr-grandest", spec)
	if st.State != StateDone || st.Result.Ledger == nil || st.Result.Ledger.Committed || !strings.Contains(st.Result.Ledger.Error, "quorum") {
		t.Fatalf("state %s %s, ledger %+v", st.State, st.Error, st.Result)
	}
}

func TestAnEvaluationRunsOnlyAPredictorTheOwnerApproved(t *testing.T) {
	f, _ := programFederation(t, federationOptions{})
	// de-bw has not approved this one.
	f.publishModel("lu-luxembourg", "unreviewed", wasm(t, "predictor"), []byte(`{"intercept":-8,"age":0.06,"bmi":0.15,"male":0.3,"smoker":0.4}`),
		predictorInputs, "fr-grandest")
	spec := evaluateSpec(cohorts[:2]...)
	spec.Model = "lu-luxembourg/unreviewed"
	st := f.run("lu-luxembourg", spec)
	if st.State != StateFailed || st.Regions[0].State != StateDone || st.Regions[1].State != StateRefused || st.Regions[1].Code != RefusalModule ||
		!strings.Contains(st.Regions[1].Reason, "de-bw has not approved") {
		t.Fatalf("state %s, regions %+v", st.State, st.Regions)
	}
	if f.nodes["de-bw"].rec.count(RecordRefused) != 1 || f.nodes["de-bw"].rec.count(RecordReleased) != 0 {
		t.Fatalf("de-bw's trail: %+v", f.nodes["de-bw"].rec.records)
	}
	// A withdrawn predictor runs no more, even where approved.
	m, _ := f.reg.Module(cardio, f.all["lu-luxembourg/diabetes"].Predictor.SHA256)
	m.Withdrawn = true
	f.reg.propose(m)
	st = f.run("lu-luxembourg", evaluateSpec(cohorts[0]))
	if st.Regions[0].Code != RefusalModule || !strings.Contains(st.Regions[0].Reason, "withdrawn") {
		t.Fatalf("regions %+v", st.Regions)
	}
	// Outside its project, the policy refuses (the node would too).
	m.Withdrawn = false
	f.reg.propose(m)
	spec = evaluateSpec(cohorts[0])
	spec.Project = "another"
	st = f.run("lu-luxembourg", spec)
	if st.State != StateFailed || st.Regions[0].State != StateRefused {
		t.Fatalf("regions %+v", st.Regions)
	}
}

func TestAPredictorWhoseBytesDoNotMatchIsRefused(t *testing.T) {
	f, _ := programFederation(t, federationOptions{})
	lu, fr := f.nodes["lu-luxembourg"], f.nodes["fr-grandest"]
	// At the requester: bytes given that are not the model's.
	spec := evaluateSpec(cohorts[0])
	spec.Predictor = wasm(t, "loop")
	if _, err := lu.svc.Start(context.Background(), researcher, spec); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("err = %v", err)
	}
	// At the owner: a signed query naming the predictor, sent with other
	// bytes.
	model := f.all["lu-luxembourg/diabetes"]
	q := Query{Analysis: "a1", Dataset: "cohort", Kind: KindEvaluate, Purpose: "research", Project: cardio, Model: model.Ref(),
		ModuleSHA256: model.Predictor.SHA256, ParametersSHA256: model.SHA256, Label: "diabetes", Thresholds: []float64{0.5}}
	for _, pl := range []payload{
		{module: wasm(t, "loop"), parameters: diabetesParameters()},
		{module: wasm(t, "predictor"), parameters: []byte(`{"intercept":0,"age":0,"bmi":0,"male":0,"smoker":0}`)},
	} {
		ans := openAt(t, lu, fr, q, pl)
		if ans.Code != RefusalModule || !strings.Contains(ans.Reason, "does not have the SHA-256") {
			t.Fatalf("answer %+v", ans)
		}
	}
	// A model entry whose predictor is another than the query's.
	q.ModuleSHA256 = sha256Hex(wasm(t, "loop"))
	ans := openAt(t, lu, fr, q, payload{module: wasm(t, "loop"), parameters: diabetesParameters()})
	if ans.Code != RefusalModule || !strings.Contains(ans.Reason, "names another predictor") {
		t.Fatalf("answer %+v", ans)
	}
	if n := fr.rec.count(RecordRefused); n != 3 {
		t.Fatalf("%d refusals recorded, want 3", n)
	}
}

// openAt sends a signed query with a payload from one node to another.
func openAt(t *testing.T, from, to *testNode, q Query, pl payload) answer {
	t.Helper()
	now := time.Now()
	tok, err := signQuery(from, to, q, now)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := from.svc.roundTrip(context.Background(), to.m.PeerID, request{Token: tok, Module: pl.module, Parameters: pl.parameters})
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

func TestMisbehavingPredictorsAreStoppedAndTheOwnerGoesOn(t *testing.T) {
	sb := testSandbox(t, sandbox.Config{WallTime: 3 * time.Second, MemoryLimitBytes: 64 << 20})
	f, _ := programFederation(t, federationOptions{sandbox: sb})
	for _, c := range []struct{ module, reason string }{
		{"loop", "ran longer than its limit"},
		{"alloc", "needed more memory than its limit"},
		{"flood", "wrote more than its output limit"},
		{"badfile", "exited with code 2"},
		{"socket", "exited with code 3"},
		{"chatty", "exited with code 4"},
	} {
		t.Run(c.module, func(t *testing.T) {
			f.publishModel("lu-luxembourg", c.module, wasm(t, c.module), diabetesParameters(), predictorInputs, "fr-grandest")
			spec := evaluateSpec(cohorts[0])
			spec.Model = "lu-luxembourg/" + c.module
			st := f.run("lu-luxembourg", spec)
			r := st.Regions[0]
			if st.State != StateFailed || r.State != StateRefused || r.Code != RefusalModule || !strings.Contains(r.Reason, c.reason) {
				t.Fatalf("region %+v", r)
			}
			// Standard error stays with the owner (chatty copied its rows
			// there).
			if strings.Contains(r.Reason, "patient_id") || strings.Contains(r.Reason, "age,bmi") || strings.Contains(r.Reason, "nothing but") {
				t.Fatalf("the reason quotes the module's standard error: %s", r.Reason)
			}
			// The owner answers the next evaluation.
			st = f.run("lu-luxembourg", evaluateSpec(cohorts[0]))
			if st.State != StateDone {
				t.Fatalf("after %s: %s %+v", c.module, st.Error, st.Regions)
			}
		})
	}
}

func TestAModuleRunOfCohortDescribeEqualsTheCountsComputedDirectly(t *testing.T) {
	f, data := programFederation(t, federationOptions{})
	schema, err := os.ReadFile("../examples/cohort-describe/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	bin := wasm(t, "cohort-describe")
	f.reg.propose(Module{Project: cardio, SHA256: sha256Hex(bin), Name: "cohort-describe", Kind: ModuleKindAnalysis, Schema: schema,
		Approvals: []string{"fr-grandest", "de-bw", "ch-basel"}})
	spec := Spec{Kind: KindModule, Datasets: cohorts, Module: sha256Hex(bin), ModuleBytes: bin, Project: cardio, Purpose: "research", Filter: "age >= 40"}
	st := f.run("lu-luxembourg", spec)
	if st.State != StateDone {
		t.Fatalf("state %s: %s %+v", st.State, st.Error, st.Regions)
	}
	if len(st.Spec.ModuleBytes) > 0 || len(st.Result.Spec.ModuleBytes) > 0 {
		t.Fatal("the module's bytes are kept with the analysis")
	}
	for i, m := range st.Result.Combined.Modules {
		owner := st.Result.Parts[i].Owner
		tab, _ := tabular.ReadCSV(bytes.NewReader(data[owner]), cohort.Dictionary())
		age, _ := tab.Numbers("age")
		sex, _, _ := tab.Codes("sex")
		rows, females, sum := 0, 0, 0.0
		for j, a := range age {
			if a >= 40 {
				rows++
				sum += a
				if sex[j] == 0 {
					females++
				}
			}
		}
		var d struct {
			Rows    int `json:"rows"`
			Numeric []struct {
				Column string
				Count  int
				Mean   float64
			}
			Categorical []struct {
				Column string
				Levels map[string]*int
			}
		}
		if err := json.Unmarshal(m.Output, &d); err != nil {
			t.Fatal(err)
		}
		if d.Rows != rows || m.Rows != rows || m.Dataset != owner+"/cohort" {
			t.Fatalf("%s: rows %d (%d), want %d", owner, d.Rows, m.Rows, rows)
		}
		checked := 0
		for _, n := range d.Numeric {
			if n.Column == "age" {
				checked++
				if n.Count != rows || math.Abs(n.Mean-sum/float64(rows)) > 1e-9 {
					t.Fatalf("%s: age %+v, want mean %g", owner, n, sum/float64(rows))
				}
			}
			if n.Column == "patient_id" {
				t.Fatalf("%s: the identifier was shown to the module", owner)
			}
		}
		for _, c := range d.Categorical {
			if c.Column == "sex" {
				checked++
				if c.Levels["F"] == nil || *c.Levels["F"] != females {
					t.Fatalf("%s: sex %v, want %d F", owner, c.Levels, females)
				}
			}
		}
		if checked != 2 {
			t.Fatalf("%s: output %s", owner, m.Output)
		}
	}
	if err := Verify(context.Background(), *st.Result); err != nil {
		t.Fatal(err)
	}
}

func TestAModuleReleasingRowLevelValuesIsRefusedAndAudited(t *testing.T) {
	f, _ := programFederation(t, federationOptions{})
	schema, _ := os.ReadFile("../examples/cohort-describe/schema.json")
	bin := wasm(t, "rowlevel")
	f.reg.propose(Module{Project: cardio, SHA256: sha256Hex(bin), Name: "cohort-describe", Kind: ModuleKindAnalysis, Schema: schema,
		Approvals: []string{"fr-grandest"}})
	st := f.run("lu-luxembourg", Spec{Kind: KindModule, Datasets: cohorts[:1], Module: sha256Hex(bin), ModuleBytes: bin, Project: cardio, Purpose: "research"})
	r := st.Regions[0]
	if st.State != StateFailed || r.Code != RefusalModule || !strings.Contains(r.Reason, "items, the schema allows at most 64") {
		t.Fatalf("region %+v", r)
	}
	fr := f.nodes["fr-grandest"].rec
	fr.mu.Lock()
	defer fr.mu.Unlock()
	for _, rec := range fr.records {
		if rec.Type == RecordRefused {
			var rr refusalRecord
			_ = json.Unmarshal(rec.Details, &rr)
			if rr.ModuleSHA256 != sha256Hex(bin) || rr.DatasetSHA256 != f.all["fr-grandest/cohort"].SHA256 || len(rr.OutputSHA256) != 64 {
				t.Fatalf("refusal record %+v", rr)
			}
			return
		}
	}
	t.Fatalf("no refusal recorded: %+v", fr.records)
}

// The view a program reads: the columns asked for, booleans and levels as
// text, missing values empty.
func TestWriteView(t *testing.T) {
	d := tabular.Dictionary{Columns: []tabular.Column{
		{Name: "id", Type: tabular.TypeText, Identifier: true},
		{Name: "n", Type: tabular.TypeInteger}, {Name: "x", Type: tabular.TypeNumber},
		{Name: "b", Type: tabular.TypeBoolean}, {Name: "g", Type: tabular.TypeCategorical, Levels: []string{"a,1", "b"}},
	}}
	tab, err := tabular.ReadCSV(strings.NewReader("id,n,x,b,g\np1,3,0.25,true,\"a,1\"\np2,,1e-7,0,b\np3,7,,,\n"), d)
	if err != nil {
		t.Fatal(err)
	}
	rows := roaring.BitmapOf(0, 1, 2)
	got, err := writeView(tab, []string{"n", "x", "b", "g"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	if want := "n,x,b,g\n3,0.25,true,\"a,1\"\n,1e-07,false,b\n7,,,\n"; string(got) != want {
		t.Fatalf("view %q, want %q", got, want)
	}
	if _, err := writeView(tab, []string{"id"}, rows); err == nil {
		t.Fatal("the identifier was written")
	}
}

func signQuery(from, to *testNode, q Query, now time.Time) (string, error) {
	return nodejws.Sign(from.key, from.m.PeerID, queryTokenType, queryClaims{
		Issuer: from.m.PeerID.String(), Audience: to.m.PeerID.String(), ID: newTokenID(),
		IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Researcher: researcher.researcher(), Query: q,
	})
}

// FuzzOpeningFrame reads crafted opening frames of an evaluation, as an
// owner reads them off a stream, and answers them: whatever the frame,
// the owner releases an evaluation only of the programs the signed query
// names.
func FuzzOpeningFrame(f *testing.F) {
	fed, _ := programFederation(f, federationOptions{})
	lu, fr := fed.nodes["lu-luxembourg"], fed.nodes["fr-grandest"]
	model := fed.all["lu-luxembourg/diabetes"]
	q := Query{Analysis: "fuzz-eval", Dataset: "cohort", Kind: KindEvaluate, Purpose: "research", Project: cardio, Model: model.Ref(),
		ModuleSHA256: model.Predictor.SHA256, ParametersSHA256: model.SHA256, Label: "diabetes", Thresholds: []float64{0.5}}
	frameOf := func(req request) []byte {
		var buf bytes.Buffer
		if err := frame.Write(&buf, MaxOpeningFrame, req); err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	// Tokens expire: the seeds carry ones valid for the fuzzing's length.
	tok, err := nodejws.Sign(lu.key, lu.m.PeerID, queryTokenType, queryClaims{
		Issuer: lu.m.PeerID.String(), Audience: fr.m.PeerID.String(), ID: "seed",
		IssuedAt: time.Now().Unix(), Expires: time.Now().Add(9 * time.Minute).Unix(), Researcher: researcher.researcher(), Query: q,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(frameOf(request{Token: tok, Module: wasm(f, "flood"), Parameters: diabetesParameters()}))
	f.Add(frameOf(request{Token: tok, Module: []byte{0, 'a', 's', 'm'}}))
	f.Add(frameOf(request{Session: "s", Module: []byte("x"), Parameters: []byte("y")}))
	f.Add([]byte("\x00\x00\x00\x10{\"module\":\"!!\"}"))
	f.Add([]byte("\xff\xff\xff\xff"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req request
		if err := fr.svc.readRequest(bytes.NewReader(raw), lu.m.PeerID, &req); err != nil {
			return
		}
		ans := fr.svc.answer(ctx, lu.m.PeerID, req)
		if ans.Contribution == "" {
			return
		}
		c, err := openContribution(ans.Contribution, Part{Dataset: "fr-grandest/cohort", Owner: "fr-grandest", PeerID: fr.m.PeerID.String(), Query: q}, 0)
		if err != nil || sha256Hex(req.Module) != c.ModuleSHA256 || sha256Hex(req.Parameters) != c.ParametersSHA256 || c.Evaluation == nil {
			t.Fatalf("released %+v for a frame whose programs are %.12s/%.12s: %v", c, sha256Hex(req.Module), sha256Hex(req.Parameters), err)
		}
	})
}
