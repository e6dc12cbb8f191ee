package console_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console"
	"github.com/xborder/xborder/node/nodetest"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/oidc/oidctest"
)

// The browser test drives headless Chromium through the console of a
// two-region federation (Grand Est and Baden-Württemberg) started in this
// process. It needs the chromium binary (CI installs Debian's package);
// without it the test fails, saying so.
//
// Screenshots of every page go to $XBORDER_CONSOLE_SCREENSHOTS when set,
// else to a directory the test logs (under the test's temporary dir).

type region struct {
	n   *node.Node
	id  node.Identity
	cfg node.Config
	// host is how the browser reaches this node's API: each region gets
	// its own host name, so that the browser keeps one session cookie each.
	host string
}

// startFederation starts one node per name and gives each its own host
// name for the browser.
func startFederation(t *testing.T, names ...string) []*region {
	t.Helper()
	f := nodetest.NewFederation(t, names)
	hosts := []string{"127.0.0.1", "localhost"}
	var out []*region
	for i := range names {
		n := f.Start(i)
		_, port, _ := net.SplitHostPort(n.APIAddr())
		out = append(out, &region{n: n, id: f.Identity(i), cfg: f.Configs[i], host: net.JoinHostPort(hosts[i%2], port)})
	}
	return out
}

// chromium finds the browser or fails the test with what to do.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the console's browser tests need Chromium, which is not installed: " +
		"install it (Debian/Ubuntu: apt-get install -y chromium) or put chromium on the PATH; .ci/run installs it")
	return ""
}

// ui drives one browser tab.
type ui struct {
	t    *testing.T
	ctx  context.Context
	shot string // screenshot dir
	n    int
}

func (u *ui) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	if err := chromedp.Do(u.ctx, steps...); err != nil {
		html, _ := chromedp.Run(u.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		loc, _ := chromedp.Run(u.ctx, chromedp.Location())
		u.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, html)
	}
}

// submit clicks sel, which loads a new page (a form or a link), and waits
// until the new document is there: a wait for an element that the old page
// also shows would otherwise succeed on the old page.
func submit(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.stale = "1"`)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := chromedp.Click(chromedp.CSS(sel))(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		// Evaluating while the page navigates fails; ask again until the
		// new document answers.
		for {
			fresh, err := chromedp.Evaluate[bool](`document.readyState === "complete" && !document.documentElement.dataset.stale`)(ctx, t)
			if err == nil && fresh {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("the page after clicking %s did not load: %w", sel, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func (u *ui) text(sel string) string {
	u.t.Helper()
	s, err := chromedp.Run(u.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		u.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// has reports whether the page has an element matching sel now.
func (u *ui) has(sel string) bool {
	u.t.Helper()
	n, err := chromedp.Run(u.ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", sel)))
	if err != nil {
		u.t.Fatalf("query %s: %v", sel, err)
	}
	return n
}

func (u *ui) screenshot(name string) {
	u.t.Helper()
	png, err := chromedp.Run(u.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		u.t.Fatalf("screenshot %s: %v", name, err)
	}
	u.n++
	if err := os.WriteFile(filepath.Join(u.shot, fmt.Sprintf("%02d-%s.png", u.n, name)), png, 0o644); err != nil {
		u.t.Fatal(err)
	}
}

func (u *ui) signIn(r *region, role, sub string) {
	u.t.Helper()
	code, err := console.IssueSignInCode(r.id.Key, r.id.PeerID.String(), api.User{Subject: sub, Role: role, Org: r.cfg.Org}, 0, time.Now())
	if err != nil {
		u.t.Fatal(err)
	}
	u.do("sign in as "+role, chromedp.Navigate("http://"+r.host+console.Prefix+"signin?code="+url.QueryEscape(code)),
		chromedp.WaitVisible(chromedp.CSS("#members")))
	loc, _ := chromedp.Run(u.ctx, chromedp.Location())
	if strings.Contains(loc, "code=") {
		u.t.Fatalf("the sign-in code stays in the address bar: %s", loc)
	}
	if got := u.text("#user"); got != sub {
		u.t.Fatalf("signed in as %q, want %q", got, sub)
	}
}

func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a federation and a browser")
	}
	exe := chromium(t)
	shots := os.Getenv("XBORDER_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)

	regions := startFederation(t, "fr-grandest", "de-bw")
	fr, de := regions[0], regions[1]
	ctx := context.Background()
	testkit.Eventually(t, 60*time.Second, "the two regions connect", func() bool {
		return fr.n.Status(ctx).PeersConnected == 1 && de.n.Status(ctx).PeersConnected == 1
	})
	// Grand Est publishes its sensitive ICU data and a model trained on it.
	_, err := fr.n.Catalogue().Publish(ctx, exchange.Publication{ID: "icu-admissions", Title: "ICU admissions 2025", Description: "Daily ICU admissions by hospital and age band.",
		Theme: "health", Classification: "sensitive", PersonalData: true, Keywords: []string{"icu", "covid"}, FileName: "icu.csv"},
		strings.NewReader(strings.Repeat("2025-01-01,CHU-1,40-49,3\n", 200000)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = fr.n.Catalogue().Publish(ctx, exchange.Publication{ID: "tumour-seg", Kind: exchange.KindModel, Title: "Tumour segmentation", Theme: "health",
		Classification: "restricted", License: "research-only", FileName: "tumour-seg.onnx",
		Model: &exchange.ModelCard{Task: "tumour segmentation on CT", Architecture: "3D U-Net", TrainingDatasets: []string{"fr-grandest/icu-admissions"},
			Metrics: map[string]float64{"dice": 0.87}, IntendedUses: []string{"research"}, ExcludedUses: []string{"diagnosis"}}},
		strings.NewReader(strings.Repeat("weights ", 4000)))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 60*time.Second, "de-bw sees Grand Est's entries", func() bool {
		_, e1 := de.n.Catalogue().Entry(ctx, "fr-grandest", "icu-admissions")
		_, e2 := de.n.Catalogue().Entry(ctx, "fr-grandest", "tumour-seg")
		return e1 == nil && e2 == nil
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	tctx, cancel := context.WithTimeout(bctx, 5*time.Minute)
	defer cancel()
	u := &ui{t: t, ctx: tctx, shot: shots}

	// 1. A researcher in Baden-Württemberg signs in, sees the federation,
	// finds the ICU dataset and is refused, with the reasons.
	u.signIn(de, api.RoleResearcher, "alice@uni-freiburg.de")
	u.do("the map shows both members", chromedp.WaitVisible(chromedp.CSS(`#map .member.self`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-member="fr-grandest"]`)))
	u.screenshot("federation")
	u.do("search the catalogue", chromedp.Click(chromedp.CSS(`nav a[href="/console/catalogue"]`)), chromedp.WaitVisible(chromedp.CSS("#filters")),
		chromedp.SendKeys(chromedp.CSS("#q"), "ICU"), chromedp.SetValue(chromedp.CSS("#f-theme"), "health"),
		submit("#search"), chromedp.WaitVisible(chromedp.CSS(`a[data-ref="fr-grandest/icu-admissions"]`)))
	if u.has(`a[data-ref="fr-grandest/tumour-seg"]`) {
		t.Fatal("the search for ICU lists the model")
	}
	u.screenshot("catalogue-search")
	u.do("open the dataset", chromedp.Click(chromedp.CSS(`a[data-ref="fr-grandest/icu-admissions"]`)), chromedp.WaitVisible(chromedp.CSS("#request-form")))
	if got := u.text("#entry-title"); got != "ICU admissions 2025" {
		t.Fatalf("entry title %q", got)
	}
	u.screenshot("dataset")
	u.do("request without a project", chromedp.SendKeys(chromedp.CSS("#purpose"), "research"),
		submit("#request"), chromedp.WaitVisible(chromedp.CSS("#verdict")))
	if v, reasons := u.text("#verdict"), u.text("#reasons"); v != "Denied" || !strings.Contains(reasons, "joint project") {
		t.Fatalf("request without a project: %q %q", v, reasons)
	}
	u.screenshot("request-denied")

	// What a researcher must not see or do.
	for _, hidden := range []string{`nav a[href="/console/audit"]`, `nav a[href="/console/policies"]`} {
		if u.has(hidden) {
			t.Fatalf("a researcher sees %s", hidden)
		}
	}
	u.do("open the projects", chromedp.Navigate("http://"+de.host+console.Prefix+"projects"), chromedp.WaitVisible(chromedp.CSS("#projects")))
	if u.has("#project-form") {
		t.Fatal("a researcher sees the project proposal form")
	}
	u.do("open the audit trail by address", chromedp.Navigate("http://"+de.host+console.Prefix+"audit"), chromedp.WaitVisible(chromedp.CSS("#error-message")))
	if msg := u.text("#error-message"); !strings.Contains(msg, "researcher role may not") {
		t.Fatalf("a researcher opens the audit trail: %q", msg)
	}
	u.screenshot("researcher-refused")

	// 2. Grand Est's operator proposes the Franco-German project that
	// lists the dataset.
	u.signIn(fr, api.RoleOperator, "ops@grandest.fr")
	u.do("propose the project", chromedp.Navigate("http://"+fr.host+console.Prefix+"projects"), chromedp.WaitVisible(chromedp.CSS("#project-form")),
		chromedp.SendKeys(chromedp.CSS("#pr-id"), "fr-de-oncology"), chromedp.SendKeys(chromedp.CSS("#pr-title"), "Franco-German oncology"),
		chromedp.Click(chromedp.CSS("#pr-theme-health")), chromedp.SendKeys(chromedp.CSS("#pr-partners"), "fr-grandest, de-bw"),
		chromedp.SendKeys(chromedp.CSS("#pr-datasets"), "fr-grandest/icu-admissions"), chromedp.SendKeys(chromedp.CSS("#pr-ethics"), "CPP-EST-2026-114"))
	u.screenshot("project-form")
	u.do("submit the project", chromedp.Click(chromedp.CSS("#pr-submit")), chromedp.WaitVisible(chromedp.CSS("#project-title")))
	if ds := u.text("#project-datasets"); !strings.Contains(ds, "fr-grandest/icu-admissions") {
		t.Fatalf("project datasets: %q", ds)
	}
	u.screenshot("project")
	testkit.Eventually(t, 30*time.Second, "de-bw's replica has the project", func() bool {
		_, _, err := de.n.Registry().Project(ctx, "fr-de-oncology")
		return err == nil
	})

	// 3. The researcher asks again within the project, is allowed, and
	// fetches the data with live progress.
	u.signIn(de, api.RoleResearcher, "alice@uni-freiburg.de")
	u.do("request within the project", chromedp.Navigate("http://"+de.host+console.Prefix+"catalogue/fr-grandest/icu-admissions"),
		chromedp.WaitVisible(chromedp.CSS("#request-form")), chromedp.SendKeys(chromedp.CSS("#purpose"), "research"),
		chromedp.SetValue(chromedp.CSS("#project"), "fr-de-oncology"), submit("#request"), chromedp.WaitVisible(chromedp.CSS("#verdict")))
	if v := u.text("#verdict"); v != "Allowed" || !u.has("#obligations") {
		t.Fatalf("request within the project: %q %q", v, u.text("#reasons"))
	}
	u.screenshot("request-allowed")
	u.do("fetch", chromedp.Click(chromedp.CSS("#fetch")), chromedp.WaitVisible(chromedp.CSS("#progress")))
	u.do("the transfer completes", chromedp.WaitVisible(chromedp.CSS("#done")))
	if sum := u.text("#sha256"); len(sum) != 64 || u.text("#state") != "done" {
		t.Fatalf("transfer: %q %q", sum, u.text("#state"))
	}
	u.screenshot("transfer-done")

	// 4. A model-sharing agreement: Grand Est proposes and signs, then
	// Baden-Württemberg's operator signs, which commits it.
	u.signIn(fr, api.RoleOperator, "ops@grandest.fr")
	u.do("propose the agreement", chromedp.Navigate("http://"+fr.host+console.Prefix+"agreements"), chromedp.WaitVisible(chromedp.CSS("#agreement-form")),
		chromedp.SendKeys(chromedp.CSS("#ag-id"), "seg-2026"), chromedp.SendKeys(chromedp.CSS("#ag-model"), "fr-grandest/tumour-seg"),
		chromedp.SendKeys(chromedp.CSS("#ag-parties"), "fr-grandest, de-bw"), chromedp.SendKeys(chromedp.CSS("#ag-purposes"), "research"),
		chromedp.SendKeys(chromedp.CSS("#ag-conditions"), "Research use only; no re-identification."),
		chromedp.Click(chromedp.CSS("#ag-submit")), chromedp.WaitVisible(chromedp.CSS("#parties")))
	u.do("sign as Grand Est", chromedp.Click(chromedp.CSS("#sign")), chromedp.WaitNotPresent(chromedp.CSS("#sign")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	u.signIn(de, api.RoleOperator, "ops@bw.de")
	u.do("sign as Baden-Württemberg", chromedp.Navigate("http://"+de.host+console.Prefix+"agreements/seg-2026"), chromedp.WaitVisible(chromedp.CSS("#sign")),
		chromedp.Click(chromedp.CSS("#sign")), chromedp.WaitNotPresent(chromedp.CSS("#sign")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	testkit.Eventually(t, 30*time.Second, "the agreement is committed", func() bool {
		a, _, err := de.n.AgreementService().Agreement(ctx, "seg-2026")
		return err == nil && a.InRegistry
	})
	u.do("reload the agreement", chromedp.Navigate("http://"+de.host+console.Prefix+"agreements/seg-2026"), chromedp.WaitVisible(chromedp.CSS("#agreement-status")))
	if st := u.text("#agreement-status"); !strings.HasPrefix(st, "active") || !strings.Contains(st, "2 of 2") {
		t.Fatalf("agreement status: %q", st)
	}
	u.screenshot("agreement-signed")

	// 5. Grand Est leads the project and proposes its model's predictor
	// as a module, which its operator approves from the console; the
	// model's evaluation, signed by both regions, is committed, and the
	// researcher in Baden-Württemberg reads it on the model's page.
	predictor := strings.Repeat("5a", 32)
	if _, err := fr.n.Registry().Submit(ctx, consensus.OpModulePropose, consensus.ModuleProposal{Project: "fr-de-oncology", SHA256: predictor,
		Name: "tumour-seg predictor", Kind: consensus.ModulePredictor, Source: "https://git.example/tumour-seg@1"}); err != nil {
		t.Fatal(err)
	}
	u.signIn(fr, api.RoleOperator, "ops@grandest.fr")
	u.do("open the modules", chromedp.Click(chromedp.CSS(`nav a[href="/console/modules"]`)), chromedp.WaitVisible(chromedp.CSS("#modules form.approve-form")))
	u.do("approve the predictor", submit("#modules form.approve-form button"), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if !u.has(`li[data-owner="fr-grandest"][data-approved="true"]`) || u.has("form.approve-form") {
		t.Fatalf("the approval is not shown: %s", u.text("#modules"))
	}
	u.screenshot("module-approved")
	var tokens []string
	for i, r := range regions {
		tokens = append(tokens, signedEvaluation(t, r, "ev-browser", "fr-grandest/tumour-seg", predictor, uint64(i+1)))
	}
	if _, err := fr.n.Registry().Submit(ctx, consensus.OpEvaluationCommit, consensus.EvaluationCommit{Model: "fr-grandest/tumour-seg",
		Analysis: "ev-browser", Contributions: tokens}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "de-bw's replica has the evaluation", func() bool {
		es, _, err := de.n.Registry().Evaluations(ctx, "fr-grandest/tumour-seg")
		return err == nil && len(es) == 1
	})
	u.signIn(de, api.RoleResearcher, "alice@uni-freiburg.de")
	u.do("open the model", chromedp.Navigate("http://"+de.host+console.Prefix+"catalogue/fr-grandest/tumour-seg"),
		chromedp.WaitVisible(chromedp.CSS(`#performance tr[data-region="pooled"]`)), chromedp.WaitVisible(chromedp.CSS("#calibration-0 .diagonal")))
	series, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#calibration-0 g.series").length`))
	if err != nil || series != 3 || !u.has(`#performance tr[data-region="de-bw"]`) || !u.has(`#performance tr[data-region="fr-grandest"]`) {
		t.Fatalf("the model's performance: %d series (%v)\n%s", series, err, u.text("#performance"))
	}
	u.screenshot("model-performance")

	// 6. Grand Est's auditor verifies the audit trail.
	u.signIn(fr, api.RoleAuditor, "audit@grandest.fr")
	u.do("list the audit trail", chromedp.Navigate("http://"+fr.host+console.Prefix+"audit"), chromedp.WaitVisible(chromedp.CSS("#records")))
	u.screenshot("audit")
	u.do("verify", chromedp.Click(chromedp.CSS("#verify-link")), chromedp.WaitVisible(chromedp.CSS("#verify-verdict")))
	if v := u.text("#verify-verdict"); !strings.Contains(v, "trail verifies") {
		t.Fatalf("audit verify: %q", v)
	}
	u.screenshot("audit-verify")

	// 7. Grand Est's legal team uses the decision playground, prefilled
	// from the last request it decided, in French.
	u.signIn(fr, api.RoleLegal, "dpo@grandest.fr")
	u.do("open the policies", chromedp.Navigate("http://"+fr.host+console.Prefix+"policies?lang=fr"), chromedp.WaitVisible(chromedp.CSS("#policy-hash")))
	if h := u.text("h1"); h != "Politiques" {
		t.Fatalf("policies page in French: %q", h)
	}
	if e := u.text("#evaluator"); e != "à partir du plan qu'OPA fait de la politique" {
		t.Fatalf("the shipped policies are not evaluated from their plan: %q", e)
	}
	u.screenshot("policies-fr")
	u.do("open the playground", chromedp.Click(chromedp.CSS("#playground-link")), chromedp.WaitVisible(chromedp.CSS("#input")))
	in, err := chromedp.Run(tctx, chromedp.Value(chromedp.CSS("#input")))
	if err != nil || !strings.Contains(in, "alice@uni-freiburg.de") || !strings.Contains(in, "fr-de-oncology") {
		t.Fatalf("the playground's input is not the last request: %v\n%s", err, in)
	}
	u.do("evaluate", submit("#evaluate"), chromedp.WaitVisible(chromedp.CSS("#verdict")))
	if v, rules := u.text("#verdict"), u.text("#rules"); v != "Autorisé" || rules == "" {
		t.Fatalf("playground: %q %q", v, rules)
	}
	u.screenshot("playground")
	// Legal may not publish or see the catalogue.
	if u.has(`nav a[href="/console/catalogue"]`) {
		t.Fatal("legal sees the catalogue")
	}
	// It reads the modules proposed for review, and may not approve one.
	u.do("open the modules", chromedp.Click(chromedp.CSS(`nav a[href="/console/modules"]`)), chromedp.WaitVisible(chromedp.CSS("#modules article.module")))
	if u.has("#modules form") {
		t.Fatal("legal sees a module's forms")
	}
}

// signedEvaluation is a region's contribution to a model's evaluation,
// as its node signs it: the metrics of synthetic scores against their
// labels, signed with the region's key.
func signedEvaluation(t *testing.T, r *region, analysisID, model, predictor string, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	scores, labels := make([]float64, 300), make([]bool, 300)
	for i := range scores {
		scores[i] = 0.02 + 0.96*rng.Float64()
		labels[i] = rng.Float64() < scores[i]
	}
	ev, err := evaluation.Evaluate(scores, labels, evaluation.Request{Thresholds: []float64{0.5}, CalibrationBins: 5}, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := nodejws.Sign(r.id.Key, r.id.PeerID, nodejws.TypeAnalysisContribution, analysis.Contribution{Analysis: analysisID,
		Owner: r.cfg.Name, Dataset: "icu-admissions", Kind: analysis.KindEvaluate, Rows: len(scores), Model: model, ModuleSHA256: predictor,
		Evaluation: &ev, IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitFor waits until the page has an element matching sel, across the
// reloads of a page that refreshes itself (a query during a reload fails,
// and is asked again).
func waitFor(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			ok, err := chromedp.Evaluate[bool](fmt.Sprintf("document.readyState === 'complete' && document.querySelector(%q) !== null", sel))(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("no %s: %w", sel, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// A researcher in Baden-Württemberg fits a model across both regions'
// cohorts from the console: the form is built from the catalogue's data
// dictionaries, the analysis page follows each region and shows the
// coefficients, their forest plot and the signed result to download.
func TestAnalysesInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a federation and a browser")
	}
	exe := chromium(t)
	shots := os.Getenv("XBORDER_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	regions := startFederation(t, "fr-grandest", "de-bw")
	de := regions[1]
	ctx := context.Background()
	dict := cohort.Dictionary()
	for i, r := range regions {
		_, err := r.n.Catalogue().Publish(ctx, exchange.Publication{ID: "cohort", Title: "Diabetes cohort " + r.cfg.Name, Theme: "health",
			Classification: "restricted", FileName: "cohort.csv", Dictionary: &dict}, bytes.NewReader(cohort.Generate(r.cfg.Name, 400+100*i, 7)))
		if err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 60*time.Second, "de-bw lists fr-grandest/cohort with its dictionary", func() bool {
		l, err := de.n.Catalogue().Entry(ctx, "fr-grandest", "cohort")
		return err == nil && l.Dictionary != nil
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	tctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	u := &ui{t: t, ctx: tctx, shot: shots, n: 100}

	u.signIn(de, api.RoleResearcher, "alice@uni-freiburg.de")
	u.do("open the analyses", chromedp.Click(chromedp.CSS(`nav a[href="/console/analyses"]`)), chromedp.WaitVisible(chromedp.CSS("#analyses")),
		submit("#new-analysis"), chromedp.WaitVisible(chromedp.CSS("#analysis-form")))
	// Only the chosen kind's fields show (console.js).
	u.do("the summary's fields", chromedp.WaitVisible(chromedp.CSS("#a-variables")), chromedp.WaitNotVisible(chromedp.CSS("#a-formula")))
	u.do("choose a GLM", chromedp.SetValue(chromedp.CSS("#a-kind"), "glm"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("a-kind").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(chromedp.CSS("#a-formula")), chromedp.WaitNotVisible(chromedp.CSS("#a-breaks")))
	u.do("fill in the model", chromedp.Click(chromedp.CSS("#ds-de-bw-cohort")), chromedp.Click(chromedp.CSS("#ds-fr-grandest-cohort")),
		chromedp.SendKeys(chromedp.CSS("#a-formula"), "diabetes ~ age + bmi + sex"), chromedp.SetValue(chromedp.CSS("#a-family"), "binomial"),
		chromedp.SetValue(chromedp.CSS("#a-purpose"), "research"))
	u.screenshot("analysis-form")
	u.do("run it", submit("#a-submit"), chromedp.WaitVisible(chromedp.CSS("#regions")))
	u.do("the fit completes", waitFor("#forest-plot"))
	for _, ds := range []string{"de-bw/cohort", "fr-grandest/cohort"} {
		if !u.has(fmt.Sprintf(`tr[data-region=%q][data-state="done"]`, ds)) {
			t.Fatalf("%s did not contribute: %s", ds, u.text("#regions"))
		}
	}
	for _, term := range []string{"(Intercept)", "age", "bmi", "sex:M"} {
		if !u.has(fmt.Sprintf(`#coefficients tr[data-term=%q]`, term)) {
			t.Fatalf("no coefficient %s: %s", term, u.text("#coefficients"))
		}
	}
	terms, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#forest-plot g.term").length`))
	if err != nil || terms != 3 || !u.has("#forest-plot #zero-line") || !u.has("#download-result") {
		t.Fatalf("forest plot: %d terms (%v)", terms, err)
	}
	if u.has(`meta[http-equiv="refresh"]`) {
		t.Fatal("the finished analysis' page still refreshes")
	}
	u.screenshot("analysis-glm")
	u.do("list the analyses", chromedp.Click(chromedp.CSS(`.crumbs a[href="/console/analyses"]`)), chromedp.WaitVisible(chromedp.CSS("#analyses .analysis-link")))
	if st := u.text("#analyses tbody tr td:nth-child(4)"); st != "done" {
		t.Fatalf("the list shows the analysis as %q", st)
	}
}

// A researcher signs in at the console of a node with her university's
// identity provider (a real OpenID provider on another site: 127.0.0.1
// while the node is localhost), gets the role her claims give under the
// node's policies, and signs out at the node and at the provider; a
// student of the same university is refused, and sees why.
func TestOIDCSignInInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node, an identity provider and a browser")
	}
	exe := chromium(t)
	port := testkit.FreePort(t, false)
	public := fmt.Sprintf("http://localhost:%d", port)
	idp, err := oidctest.Start(oidctest.Config{
		Users: []oidctest.User{
			{ID: "ada", Username: "ada", Password: "pw-ada", Claims: map[string]any{"email": "ada@uni-freiburg.de",
				"eduperson_scoped_affiliation": []string{"staff@uni-freiburg.de"}}},
			{ID: "sam", Username: "sam", Password: "pw-sam", Claims: map[string]any{"email": "sam@uni-freiburg.de",
				"eduperson_scoped_affiliation": []string{"student@uni-freiburg.de"}}},
		},
		Clients: []oidctest.Client{{ID: "xborder", Secret: "s3cret", RedirectURIs: []string{public + console.CallbackPath},
			PostLogoutRedirectURIs: []string{public + console.Prefix + "signin?ok=signed_out"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	secret := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := nodetest.NewFederation(t, []string{"de-bw"}, nodetest.WithConfig(func(_ int, cfg *node.Config) {
		cfg.API = fmt.Sprintf("127.0.0.1:%d", port)
		cfg.PublicURL = public
		cfg.IdentityProviders = []oidc.Config{{Name: "freiburg", DisplayName: "Universität Freiburg", Issuer: idp.Issuer(),
			ClientID: "xborder", ClientSecretFile: secret}}
	}))
	local := "package xborder.api\n\ntrusted_issuers[\"" + idp.Issuer() + "\"] := \"Universität Freiburg\"\n"
	if err := os.WriteFile(filepath.Join(f.Configs[0].PoliciesPath(f.Dirs[0]), "local_identity.rego"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	de := &region{n: f.Start(0), id: f.Identity(0), cfg: f.Configs[0], host: fmt.Sprintf("localhost:%d", port)}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	tctx, cancel := context.WithTimeout(bctx, 20*time.Second)
	defer cancel()
	u := &ui{t: t, ctx: tctx}
	// What the browser says (a Content-Security-Policy violation, say)
	// shows when the test fails.
	var logMu sync.Mutex
	var browserLog []string
	messages := chromedp.Console(tctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			logMu.Lock()
			browserLog = append(browserLog, m.String())
			logMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			defer logMu.Unlock()
			t.Logf("the browser's console:\n%s", strings.Join(browserLog, "\n"))
		}
	})
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(tctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	signInAt := func(user string) {
		t.Helper()
		u.do("open the sign-in page", chromedp.Navigate(public+console.Prefix+"signin"), chromedp.WaitVisible(chromedp.CSS("#signin-freiburg")))
		if got := u.text("#signin-freiburg"); got != "Sign in with Universität Freiburg" {
			t.Fatalf("the provider's button says %q", got)
		}
		u.do("go to the provider", submit("#signin-freiburg"), chromedp.WaitVisible(chromedp.CSS("#username")))
		if loc := location(); !strings.HasPrefix(loc, idp.Issuer()+oidctest.LoginPath) {
			t.Fatalf("the button leads to %s, not the provider's login page", loc)
		}
		u.do("sign in at the provider as "+user, chromedp.SendKeys(chromedp.CSS("#username"), user),
			chromedp.SendKeys(chromedp.CSS("#password"), "pw-"+user), submit("#submit"))
	}

	// Ada, staff of the University of Freiburg, is a researcher here.
	signInAt("ada")
	u.do("land on the console signed in", chromedp.WaitVisible(chromedp.CSS("#members")), chromedp.WaitVisible(chromedp.CSS("#user")))
	if loc := location(); loc != public+console.Prefix {
		t.Fatalf("signed in at %s", loc)
	}
	if who, role := u.text("#user"), u.text("#role"); who != "freiburg:ada" || role != "researcher" {
		t.Fatalf("the header shows %q as %q", who, role)
	}
	if !u.has(`nav a[href="/console/catalogue"]`) || u.has(`nav a[href="/console/audit"]`) {
		t.Fatal("the navigation is not a researcher's")
	}
	// Signing out ends the session at the node, then at the provider,
	// which sends the browser back to the sign-in page.
	u.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if loc, flash := location(), u.text("#flash"); loc != public+console.Prefix+"signin?ok=signed_out" || flash != "You are signed out." {
		t.Fatalf("after signing out: %q at %s", flash, loc)
	}
	if u.has("#user") {
		t.Fatal("still signed in after signing out")
	}
	u.do("the console is closed again", chromedp.Navigate(public+console.Prefix), chromedp.WaitVisible(chromedp.CSS("#signin-freiburg")))

	// Sam is a student: the provider vouches for her, the policy gives her
	// no role.
	signInAt("sam")
	u.do("see the refusal", chromedp.WaitVisible(chromedp.CSS("#signin-error")))
	if msg := u.text("#signin-error"); !strings.Contains(msg, "sam@uni-freiburg.de (Universität Freiburg) may not use this node") ||
		!strings.Contains(msg, "gives the identity no role") {
		t.Fatalf("the refusal says %q", msg)
	}
	if u.has("#user") {
		t.Fatal("a refused identity is signed in")
	}
	// The node's audit trail has both: the sign-in and the refusal.
	u.signIn(de, api.RoleAuditor, "audit@bw.de")
	u.do("list the audit trail", chromedp.Navigate(public+console.Prefix+"audit"), chromedp.WaitVisible(chromedp.CSS("#records")))
	if recs := u.text("#records"); !strings.Contains(recs, "console.signin") || !strings.Contains(recs, "identity.refused") ||
		!strings.Contains(recs, "freiburg:sam") {
		t.Fatalf("the audit trail lacks the sign-in or the refusal:\n%s", recs)
	}
}
