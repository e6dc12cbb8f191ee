package console

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// The registry's modules and a model's committed evaluation, as the fake
// node serves them.

var (
	predictorSHA = strings.Repeat("ab", 32)
	summarySHA   = strings.Repeat("cd", 32)
	retiredSHA   = strings.Repeat("ef", 32)
)

const evalModel = "fr-grandest/risk"

// modelListing is Grand Est's readmission-risk model, whose card names
// its predictor.
func modelListing() exchange.Listing {
	return exchange.Listing{Entry: exchange.Entry{ID: "risk", Owner: "fr-grandest", Country: "FR", Kind: exchange.KindModel, Theme: "health",
		Classification: "restricted", Title: "Readmission risk", Model: &exchange.ModelCard{Task: "30-day readmission risk",
			Predictor: &exchange.Predictor{SHA256: predictorSHA, Size: 4096, Inputs: []string{"age", "bmi", "sex"}}}}, Local: true}
}

func (f *fakeNode) Modules(_ context.Context, project string) ([]consensus.Module, uint64, error) {
	var out []consensus.Module
	for _, m := range f.modules {
		if project == "" || m.Project == project {
			out = append(out, m)
		}
	}
	return out, 7, nil
}

func (f *fakeNode) Module(_ context.Context, project, sha string) (consensus.Module, uint64, error) {
	for _, m := range f.modules {
		if m.Project == project && m.SHA256 == sha {
			return m, 7, nil
		}
	}
	return consensus.Module{}, 7, consensus.ErrNotFound
}

func (f *fakeNode) Evaluations(_ context.Context, model string) ([]consensus.Evaluation, uint64, error) {
	var out []consensus.Evaluation
	for _, e := range f.evaluations {
		if model == "" || e.Model == model {
			out = append(out, e)
		}
	}
	return out, 7, nil
}

// evalThresholds: at 0.9, Baden-Württemberg's three top scores are too
// few to count apart, so it withholds that threshold, and the pool does.
var evalThresholds = []float64{0.3, 0.5, 0.9}

// synthetic draws n scores in [lo, hi] and labels each positive with its
// score's probability; top adds that many positive rows scored 0.95.
func synthetic(seed uint64, n int, lo, hi float64, top int) ([]float64, []bool) {
	r := rand.New(rand.NewPCG(seed, 7))
	var scores []float64
	var labels []bool
	for range n {
		s := lo + (hi-lo)*r.Float64()
		scores, labels = append(scores, s), append(labels, r.Float64() < s)
	}
	for range top {
		scores, labels = append(scores, 0.95), append(labels, true)
	}
	return scores, labels
}

// signer is a member's key and peer ID.
type signer struct {
	name string
	key  ed25519.PrivateKey
	id   peer.ID
}

func newSigner(t *testing.T, name string) signer {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(lp)
	if err != nil {
		t.Fatal(err)
	}
	return signer{name: name, key: key, id: id}
}

// contribution evaluates the scores as the owner's node does and signs
// the contribution with the owner's key.
func (s signer) contribution(t *testing.T, analysisID string, scores []float64, labels []bool) string {
	t.Helper()
	ev, err := evaluation.Evaluate(scores, labels, evaluation.Request{Thresholds: evalThresholds, CalibrationBins: 5}, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	unscored := stats.Cell{}
	tok, err := nodejws.Sign(s.key, s.id, nodejws.TypeAnalysisContribution, analysis.Contribution{Analysis: analysisID,
		Request: strings.Repeat("0", 64), Owner: s.name, Dataset: "cohort", DatasetSHA256: strings.Repeat("1", 64), Kind: analysis.KindEvaluate,
		Rows: len(scores), Model: evalModel, ModuleSHA256: predictorSHA, Evaluation: &ev, Unscored: &unscored,
		IssuedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	// The token is real: it opens with the owner's peer ID.
	var raw json.RawMessage
	if err := nodejws.Open(tok, s.id, nodejws.TypeAnalysisContribution, &raw); err != nil {
		t.Fatal(err)
	}
	return tok
}

// moduleFixtures are three modules of project fr-de, one of de-only
// (where fr-grandest owns no dataset) and one of a project the registry
// does not hold, and one committed evaluation of
// fr-grandest/risk by both regions.
func moduleFixtures(t *testing.T) ([]consensus.Module, []consensus.Evaluation) {
	t.Helper()
	proposed := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	mods := []consensus.Module{
		{Project: "fr-de", SHA256: predictorSHA, Name: "risk predictor", Kind: consensus.ModulePredictor, Source: "https://git.example/risk@4f2a",
			ProposedBy: "fr-grandest", Proposed: proposed, Approvals: []string{"de-bw"}, ApprovedAt: map[string]int64{"de-bw": proposed + 3600_000}},
		{Project: "fr-de", SHA256: summarySHA, Name: "age summary", Kind: consensus.ModuleAnalysis, Source: "https://git.example/summary@9c1e",
			Schema: json.RawMessage(`{"type":"object","properties":{"mean_age":{"type":"number"},"n":{"type":"count"}}}`), ProposedBy: "fr-grandest",
			Proposed: proposed + 1, Approvals: []string{"de-bw", "fr-grandest"}, ApprovedAt: map[string]int64{"de-bw": proposed + 2, "fr-grandest": proposed + 3}},
		{Project: "fr-de", SHA256: retiredSHA, Name: "old <b>predictor</b>", Kind: consensus.ModulePredictor, Source: "https://git.example/old@1",
			ProposedBy: "fr-grandest", Proposed: proposed - 1, Approvals: []string{}, Withdrawn: proposed + 5},
		{Project: "de-only", SHA256: summarySHA, Name: "icu counts", Kind: consensus.ModuleAnalysis, Source: "https://git.example/icu@2",
			Schema: json.RawMessage(`{"type":"count"}`), ProposedBy: "de-bw", Proposed: proposed, Approvals: []string{}},
		{Project: "gone", SHA256: predictorSHA, Name: "elsewhere", Kind: consensus.ModulePredictor, Source: "x@1", ProposedBy: "de-bw", Proposed: proposed},
	}
	de, fr := newSigner(t, "de-bw"), newSigner(t, "fr-grandest")
	deScores, deLabels := synthetic(1, 400, 0.05, 0.85, 3)
	frScores, frLabels := synthetic(2, 500, 0.02, 0.88, 0)
	deTok := de.contribution(t, "ev-1", deScores, deLabels)
	frTok := fr.contribution(t, "ev-1", frScores, frLabels)
	evs := []consensus.Evaluation{{Model: evalModel, Analysis: "ev-1", CommittedBy: "de-bw", Committed: time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC).UnixMilli(),
		Owners: []string{"de-bw", "fr-grandest"}, Contributions: []string{deTok, frTok}}}
	return mods, evs
}

var svgElement = regexp.MustCompile(`(?s)<svg [^>]*id="calibration-0".*?</svg>`)

// wellFormed decodes an SVG document as strict XML and counts its
// elements by name and class.
func wellFormed(t *testing.T, doc string) map[string]int {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	n := map[string]int{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("the calibration plot is not well-formed XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			n[se.Name.Local]++
			for _, a := range se.Attr {
				if a.Name.Local == "class" {
					for c := range strings.FieldsSeq(a.Value) {
						n[se.Name.Local+"."+c]++
					}
				}
			}
		}
	}
}

// A model's page shows its committed evaluation: each region's metrics
// and the pool, what was withheld and why, who committed it, the
// predictor, and the calibration plot as well-formed SVG.
func TestModelPageShowsItsCommittedEvaluations(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	resp := tc.get(b, Prefix+"catalogue/"+evalModel)
	if resp.code != http.StatusOK {
		t.Fatalf("model page: %d\n%s", resp.code, resp.body)
	}
	body := resp.body
	ce := api.EvaluationOf(tc.node.evaluations[0])
	if ce.Problem != "" || ce.Pooled == nil || len(ce.Regions) != 2 {
		t.Fatalf("the fixture does not read back: %+v", ce)
	}
	for _, want := range []string{`id="performance"`, `data-analysis="ev-1"`, "Committed by de-bw, 2026-03-02 10:30:00 UTC",
		`<code class="hash" id="predictor-sha256">` + predictorSHA + `</code>`, `<code>age</code>, <code>bmi</code>, <code>sex</code>`,
		`href="/console/modules?sha256=` + predictorSHA + `"`, "AUC (95% CI)", "score ≥ 0.9"} {
		if !strings.Contains(body, want) {
			t.Errorf("the model page lacks %q", want)
		}
	}
	if strings.Contains(body, "not the predictor the model card names") {
		t.Error("the page says the regions ran another predictor than the card's")
	}
	// Each region's line and the pool's, with their values.
	row := func(region string) string {
		m := regexp.MustCompile(`(?s)<tr data-region="` + region + `"[^>]*>(.*?)</tr>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no line for %s:\n%s", region, body)
		}
		return m[1]
	}
	type line struct {
		n, pos     int
		auc        evaluation.Interval
		brier      float64
		thresholds []evaluation.Confusion
	}
	lines := map[string]line{"pooled": {ce.Pooled.N, ce.Pooled.Positives, ce.Pooled.AUC, ce.Pooled.Brier, ce.Pooled.Thresholds}}
	for _, r := range ce.Regions {
		lines[r.Owner] = line{r.Evaluation.N, r.Evaluation.Positives, r.Evaluation.AUC, r.Evaluation.Brier, r.Evaluation.Thresholds}
	}
	withheld := 0
	for region, l := range lines {
		got := row(region)
		want := "<td>" + strconv.Itoa(l.n) + "</td><td>" + strconv.Itoa(l.pos) + `</td><td class="auc">` + num(l.auc.Estimate) +
			` <span class="muted">[` + num(l.auc.Lower) + ", " + num(l.auc.Upper) + `]</span></td><td>` + num(l.brier) + "</td>"
		if !strings.Contains(got, want) {
			t.Errorf("%s: want %s in\n%s", region, want, got)
		}
		if len(l.thresholds) != len(evalThresholds) {
			t.Fatalf("%s has %d thresholds", region, len(l.thresholds))
		}
		for _, c := range l.thresholds {
			if c.Accuracy.Suppressed != "" {
				withheld++
				if !strings.Contains(got, `<td class="suppressed" data-suppressed="`+string(c.Accuracy.Suppressed)+`"`) {
					t.Errorf("%s at %g: the withheld rates are not marked:\n%s", region, c.Threshold, got)
				}
				continue
			}
			rates := "<td>" + num(c.Accuracy.Value) + "</td><td>" + num(c.Sensitivity.Value) + "</td><td>" + num(c.Specificity.Value) + "</td>"
			if !strings.Contains(got, rates) {
				t.Errorf("%s at %g: want %s in\n%s", region, c.Threshold, rates, got)
			}
		}
	}
	// Baden-Württemberg withheld 0.9, and so the pool did.
	if withheld != 2 || !strings.Contains(row("de-bw"), `data-suppressed="threshold_inside_merged_cell"`) ||
		!strings.Contains(row("pooled"), `data-suppressed="suppressed_in_a_part"`) {
		t.Fatalf("%d thresholds withheld; want Baden-Württemberg's 0.9 and the pool's", withheld)
	}
	for _, why := range []string{"the threshold falls among so few scores", "some owner withheld its part of this count"} {
		if !strings.Contains(body, why) {
			t.Errorf("the reason %q is not shown", why)
		}
	}
	// The plot: well-formed, titled and described, the diagonal, one
	// series per region and the pool, a point per released bin.
	svg := svgElement.FindString(body)
	if svg == "" {
		t.Fatalf("no calibration plot:\n%s", body)
	}
	n := wellFormed(t, svg)
	bins := len(ce.Pooled.Calibration)
	for _, r := range ce.Regions {
		bins += len(r.Evaluation.Calibration)
	}
	if n["desc"] != 1 || n["line.diagonal"] != 1 || n["g.series"] != 3 || n["g.pooled"] != 1 || n["circle.point"] != bins || n["polyline"] != 3 {
		t.Fatalf("calibration plot elements %v, want 3 series and %d points", n, bins)
	}
	if !strings.Contains(svg, `aria-labelledby="calibration-0-title calibration-0-desc"`) || !strings.Contains(svg, "<title id=\"calibration-0-title\">") {
		t.Error("the plot is not labelled for assistive technology")
	}
	// Its data as a table too.
	if c := strings.Count(body, `<tr><th>pooled</th>`); c != len(ce.Pooled.Calibration) {
		t.Errorf("the plot's table has %d pooled bins, want %d", c, len(ce.Pooled.Calibration))
	}

	// In French, the same section.
	if body := tc.get(b, Prefix+"catalogue/"+evalModel+"?lang=fr").body; !strings.Contains(body, "Performances") || !strings.Contains(body, "Agrégé (2 régions)") {
		t.Error("the performance section is not translated")
	}
	// An entry that is no model has no performance section.
	if body := tc.get(b, Prefix+"catalogue/de-bw/cohort").body; strings.Contains(body, `id="performance"`) {
		t.Error("a dataset's page shows a performance section")
	}
}

// The section is shown only to a role the API policy lets read the
// evaluations: with a policy that withholds GET /v1/evaluations from
// researchers, the model page shows the card and no evaluation.
func TestPerformanceNeedsTheEvaluationsRoute(t *testing.T) {
	// Legal may not open the catalogue at all.
	tc := newTestConsole(t)
	if resp := tc.get(tc.signIn(api.RoleLegal), Prefix+"catalogue/"+evalModel); resp.code != http.StatusForbidden || strings.Contains(resp.body, `id="performance"`) {
		t.Fatalf("legal opens the model page: %d", resp.code)
	}
	dir := testkit.ShippedPolicies(t)
	rego := filepath.Join(dir, "api.rego")
	raw, err := os.ReadFile(rego)
	if err != nil {
		t.Fatal(err)
	}
	// The first grant is the researcher's.
	cut := strings.Replace(string(raw), `"/v1/evaluations": "only",`, "", 1)
	if cut == string(raw) {
		t.Fatal("api.rego has no researcher grant of /v1/evaluations to take out")
	}
	if err := os.WriteFile(rego, []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	tc = newTestConsoleWith(t, dir)
	b := tc.signIn(api.RoleResearcher)
	body := tc.get(b, Prefix+"catalogue/"+evalModel).body
	if !strings.Contains(body, `id="model-card"`) || strings.Contains(body, `id="performance"`) || strings.Contains(body, "ev-1") {
		t.Fatalf("a researcher without GET /v1/evaluations sees the evaluations:\n%s", body)
	}
	// The auditor still reads them where the policy says so.
	if ok, _ := tc.node.engine.APIAllow(context.Background(), api.AllowInput(api.User{Subject: "a", Role: api.RoleAuditor}, "GET", "/v1/evaluations")); !ok {
		t.Fatal("the edited policy lost the auditor's grant")
	}
}

// module returns the article of one module on the modules page.
func moduleArticle(t *testing.T, body, project, sha string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<article class="module[^"]*" id="module-` + project + `-` + sha + `".*?</article>`).FindString(body)
	if m == "" {
		t.Fatalf("no module %s of %s:\n%s", sha, project, body)
	}
	return m
}

// The modules page lists the registry's modules by project with each
// owner's approval; a researcher sees no form.
func TestModulesPage(t *testing.T) {
	tc := newTestConsole(t)
	r := tc.signIn(api.RoleResearcher)
	if home := tc.get(r, Prefix).body; !strings.Contains(home, `href="/console/modules"`) {
		t.Error("a researcher's navigation lacks the modules")
	}
	resp := tc.get(r, Prefix+"modules")
	if resp.code != http.StatusOK {
		t.Fatalf("modules: %d %s", resp.code, resp.body)
	}
	body := resp.body
	pred := moduleArticle(t, body, "fr-de", predictorSHA)
	for _, want := range []string{"risk predictor", ">predictor</span>", "https://git.example/risk@4f2a", "by fr-grandest, 2026-03-01 08:00:00 UTC",
		`<li data-owner="de-bw" data-approved="true">de-bw: <strong class="ok">approved</strong> <span class="muted">2026-03-01 09:00:00 UTC</span>`,
		`<li data-owner="fr-grandest" data-approved="false">fr-grandest: <span class="bad">not approved</span>`} {
		if !strings.Contains(pred, want) {
			t.Errorf("the predictor lacks %q:\n%s", want, pred)
		}
	}
	sum := moduleArticle(t, body, "fr-de", summarySHA)
	// The output schema, indented.
	if !strings.Contains(sum, "<pre class=\"schema\">{\n  &#34;type&#34;: &#34;object&#34;,\n  &#34;properties&#34;: {\n    &#34;mean_age&#34;") {
		t.Errorf("the analysis module's schema is not shown indented:\n%s", sum)
	}
	old := moduleArticle(t, body, "fr-de", retiredSHA)
	if !strings.Contains(old, `class="module withdrawn"`) || !strings.Contains(old, "old &lt;b&gt;predictor&lt;/b&gt;") || !strings.Contains(old, "The lead withdrew the module") {
		t.Errorf("the withdrawn module:\n%s", old)
	}
	if !strings.Contains(body, `<code>gone</code> <span class="muted">(a project this node`) {
		t.Error("a module of a project the registry lacks is not shown as such")
	}
	if strings.Contains(body, "/approve") || strings.Contains(body, "/withdraw") || strings.Contains(body, "<button type=\"submit\" class=\"approve") {
		t.Error("a researcher sees the approve or withdraw forms")
	}
	// Filters.
	if body := tc.get(r, Prefix+"modules?sha256="+summarySHA).body; strings.Contains(body, predictorSHA) || !strings.Contains(body, summarySHA) {
		t.Error("the digest filter does not filter")
	}
	if body := tc.get(r, Prefix+"modules?project=gone").body; strings.Contains(body, summarySHA) || !strings.Contains(body, "elsewhere") {
		t.Error("the project filter does not filter")
	}
	// Legal and the auditor read the modules too; a researcher may not
	// approve, even by sending the form.
	for _, role := range []string{api.RoleLegal, api.RoleAuditor} {
		if resp := tc.get(tc.signIn(role), Prefix+"modules"); resp.code != http.StatusOK {
			t.Errorf("%s: modules %d", role, resp.code)
		}
	}
	token := tc.csrf(r)
	for _, verb := range []string{"approve", "withdraw"} {
		if resp := tc.post(r, Prefix+"modules/fr-de/"+predictorSHA+"/"+verb, url.Values{"csrf": {token}}); resp.code != http.StatusForbidden ||
			!strings.Contains(resp.body, "data.xborder.api.allow") {
			t.Errorf("a researcher's %s: %d", verb, resp.code)
		}
	}
	if len(tc.node.submitted) != 0 {
		t.Fatalf("a researcher's form reached the registry: %v", tc.node.submitted)
	}
}

// The operator of a node that owns an attached dataset approves a module
// it has not approved, and withdraws what it may; the forms submit the
// module operations, and a refusal shows the policy's reasons.
func TestOperatorApprovesAndWithdrawsModules(t *testing.T) {
	tc := newTestConsole(t)
	o := tc.signIn(api.RoleOperator)
	body := tc.get(o, Prefix+"modules").body
	approve := func(sha string) string { return `action="/console/modules/fr-de/` + sha + `/approve"` }
	withdraw := func(sha string) string { return `action="/console/modules/fr-de/` + sha + `/withdraw"` }
	pred, sum, old := moduleArticle(t, body, "fr-de", predictorSHA), moduleArticle(t, body, "fr-de", summarySHA), moduleArticle(t, body, "fr-de", retiredSHA)
	switch {
	case !strings.Contains(pred, approve(predictorSHA)) || !strings.Contains(pred, "Approve for fr-grandest&#39;s data"):
		t.Errorf("no approve form for the module fr-grandest has not approved:\n%s", pred)
	case strings.Contains(sum, approve(summarySHA)):
		t.Errorf("an approve form for a module fr-grandest approved:\n%s", sum)
	case strings.Contains(old, "<form"):
		t.Errorf("forms for a withdrawn module:\n%s", old)
	case !strings.Contains(pred, withdraw(predictorSHA)) || !strings.Contains(pred, "Withdraw the module"):
		t.Errorf("the lead cannot withdraw its module:\n%s", pred)
	case strings.Contains(body, "/console/modules/gone/"):
		t.Error("forms for a module of a project the registry does not hold")
	case strings.Contains(body, "/console/modules/de-only/"):
		t.Error("forms for a module of a project where fr-grandest owns no dataset and leads nothing")
	}
	if de := moduleArticle(t, body, "de-only", summarySHA); !strings.Contains(de, `<li data-owner="de-bw" data-approved="false">`) {
		t.Errorf("de-only's module:\n%s", de)
	}
	token := tc.csrf(o)
	// Without the token, nothing is submitted.
	if resp := tc.post(o, Prefix+"modules/fr-de/"+predictorSHA+"/approve", url.Values{"csrf": {token + "x"}}); resp.code != http.StatusForbidden {
		t.Fatalf("approve without the token: %d", resp.code)
	}
	resp := tc.post(o, Prefix+"modules/fr-de/"+predictorSHA+"/approve", url.Values{"csrf": {token}})
	if resp.code != http.StatusSeeOther || resp.header.Get("Location") != Prefix+"modules?project=fr-de&ok=module_approved#module-fr-de-"+predictorSHA {
		t.Fatalf("approve: %d %q\n%s", resp.code, resp.header.Get("Location"), resp.body)
	}
	resp = tc.post(o, Prefix+"modules/fr-de/"+summarySHA+"/withdraw", url.Values{"csrf": {token}})
	if resp.code != http.StatusSeeOther {
		t.Fatalf("withdraw: %d\n%s", resp.code, resp.body)
	}
	want := []any{consensus.ModuleRef{Project: "fr-de", SHA256: predictorSHA}, consensus.ModuleRef{Project: "fr-de", SHA256: summarySHA}}
	if !reflect.DeepEqual(tc.node.submitted, []string{consensus.OpModuleApprove, consensus.OpModuleWithdraw}) || !reflect.DeepEqual(tc.node.args, want) {
		t.Fatalf("submitted %v %v", tc.node.submitted, tc.node.args)
	}
	if body := tc.get(o, resp.header.Get("Location")).body; !strings.Contains(body, "Withdrawn: the module no longer runs") {
		t.Error("no flash after the withdrawal")
	}
	// The registry's policy refuses: the page says why.
	tc.node.mu.Lock()
	tc.node.refuse = &policy.DeniedError{Point: policy.RegistryDecision, Decision: policy.Decision{
		Reasons: []string{"modules from <outside> the EU need the DPO's review"}, Rules: []string{"module_review"}}}
	tc.node.mu.Unlock()
	resp = tc.post(o, Prefix+"modules/fr-de/"+predictorSHA+"/approve", url.Values{"csrf": {token}})
	if resp.code != http.StatusForbidden || !strings.Contains(resp.body, "modules from &lt;outside&gt; the EU need the DPO&#39;s review") ||
		!strings.Contains(resp.body, "<code>module_review</code>") || !strings.Contains(resp.body, `href="/console/modules?project=fr-de"`) {
		t.Fatalf("a refused approval: %d\n%s", resp.code, resp.body)
	}
}

// A stored evaluation is not trusted to be consistent: regions that
// answered other thresholds, bins off the square and a token that does
// not read still give a page.
func TestPerfViewOfAnInconsistentEvaluation(t *testing.T) {
	a := evaluation.Evaluation{N: 50, Positives: 20, AUC: evaluation.Interval{Estimate: 0.7, Level: 0.9},
		Thresholds:  []evaluation.Confusion{{Threshold: 0.5, Accuracy: evaluation.Rate{Value: 0.6}}},
		Calibration: []evaluation.CalibrationBin{{Lo: 0, Hi: 0.5, N: 10, MeanPredicted: 0.2, ObservedRate: 0.3}, {Lo: 0.5, Hi: 1, N: 5, MeanPredicted: math.NaN(), ObservedRate: 2}}}
	b := evaluation.Evaluation{N: 40, Thresholds: []evaluation.Confusion{{Threshold: 0.25}, {Threshold: 0.5}}}
	ce := analysis.CommittedEvaluation{Model: evalModel, Regions: []analysis.RegionEvaluation{
		{Owner: "a", Evaluation: a, ModuleSHA256: predictorSHA}, {Owner: "b", Evaluation: b, ModuleSHA256: summarySHA}}, Problem: "contribution 3: not an evaluation"}
	v := newPerfView(ce, predictorSHA, "pooled")
	if !reflect.DeepEqual(v.Thresholds, []float64{0.25, 0.5}) || v.Rows[0].At[0] != nil || v.Rows[0].At[1] == nil || v.Rows[1].At[0] == nil {
		t.Fatalf("thresholds %v, rows %+v", v.Thresholds, v.Rows)
	}
	if !v.Differs || len(v.Predictors) != 2 || v.Level != "90%" {
		t.Fatalf("predictors %v differs %v level %q", v.Predictors, v.Differs, v.Level)
	}
	if v.Chart == nil || len(v.Chart.Series) != 1 || len(v.Chart.Series[0].Points) != 1 {
		t.Fatalf("chart %+v", v.Chart)
	}
}
