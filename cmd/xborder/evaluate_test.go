package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/internal/testwasm"
	"github.com/xborder/xborder/node/api"
)

// evaluateFromTheCommandLine: fr-grandest publishes a model with its
// predictor and proposes the predictor to a project in which de-bw has a
// labelled cohort; the evaluation is refused until de-bw approves it, then
// prints de-bw's metrics, which every member reads from the registry.
func evaluateFromTheCommandLine(t *testing.T, tmp, fr, de string) {
	t.Helper()
	predictor := filepath.Join(tmp, "predictor.wasm")
	must(t, os.WriteFile(predictor, testwasm.Build(t, "../../examples/predictor"), 0o600))
	const project = "rhine-diabetes"
	if code, _, errs := xb(t, "--data", fr, "project", "propose", "--id", project, "--title", "Rhine diabetes",
		"--themes", "health", "--partners", "fr-grandest,de-bw", "--ethics", "CPP-2026-7"); code != 0 {
		t.Fatalf("project propose: %s", errs)
	}
	data := filepath.Join(tmp, "de-cohort.csv")
	must(t, os.WriteFile(data, cohort.Generate("de-bw", 600, 9), 0o600))
	raw, _ := json.Marshal(cohort.Dictionary())
	dict := filepath.Join(tmp, "de-cohort.dictionary.json")
	must(t, os.WriteFile(dict, raw, 0o600))
	if code, _, errs := xb(t, "--data", de, "dataset", "publish", data, "--id", "cohort", "--title", "Diabetes cohort",
		"--theme", "health", "--classification", "restricted", "--dictionary", dict); code != 0 {
		t.Fatalf("publish the cohort: %s", errs)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw's replica has the project", func() bool {
		code, _, _ := xb(t, "--data", de, "project", "show", project)
		return code == 0
	})
	if code, _, errs := xb(t, "--data", de, "project", "attach", project, "de-bw/cohort"); code != 0 {
		t.Fatalf("attach: %s", errs)
	}

	card := filepath.Join(tmp, "risk-card.json")
	must(t, os.WriteFile(card, []byte(`{"task": "Risk of type 2 diabetes", "architecture": "logistic regression"}`), 0o600))
	coefficients := filepath.Join(tmp, "risk.json")
	must(t, os.WriteFile(coefficients, []byte(`{"intercept": -9.2, "age": 0.055, "bmi": 0.16, "male": 0.35, "smoker": 0.45}`), 0o600))
	if code, _, errs := xb(t, "--data", fr, "dataset", "publish", coefficients, "--kind", "model", "--id", "risk", "--title", "Diabetes risk",
		"--theme", "health", "--classification", "open", "--model-card", card, "--predictor", predictor); code != exitUsage ||
		!strings.Contains(errs, "--predictor-inputs") {
		t.Fatalf("a predictor without its inputs: exit %d %q", code, errs)
	}
	if code, out, errs := xb(t, "--data", fr, "dataset", "publish", coefficients, "--kind", "model", "--id", "risk", "--title", "Diabetes risk",
		"--theme", "health", "--classification", "open", "--model-card", card, "--predictor", predictor,
		"--predictor-inputs", "age,bmi,sex,smoker"); code != 0 {
		t.Fatalf("publish the model: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := xb(t, "--data", fr, "module", "propose", predictor, "--project", project, "--name", "risk"); code != exitUsage ||
		!strings.Contains(errs, "--source") {
		t.Fatalf("a proposal without its source: exit %d %q", code, errs)
	}
	if code, _, errs := xb(t, "--data", fr, "module", "propose", predictor, "--project", project, "--name", "risk",
		"--source", "examples/predictor"); code != exitUsage || !strings.Contains(errs, "--schema") {
		t.Fatalf("an analysis module without a schema: exit %d %q", code, errs)
	}
	code, out, errs := xb(t, "--data", fr, "module", "propose", predictor, "--project", project, "--name", "risk predictor",
		"--kind", "predictor", "--source", "examples/predictor", "--json")
	if code != 0 {
		t.Fatalf("module propose: exit %d %q", code, errs)
	}
	var proposed api.ModuleProposed
	must(t, json.Unmarshal([]byte(out), &proposed))

	testkit.Eventually(t, 30*time.Second, "de-bw lists the model and fr-grandest the cohort", func() bool {
		c1, o1, _ := xb(t, "--data", de, "catalogue", "--owner", "fr-grandest", "--json")
		c2, o2, _ := xb(t, "--data", fr, "catalogue", "--owner", "de-bw", "--json")
		return c1 == 0 && c2 == 0 && strings.Contains(o1, proposed.SHA256) && strings.Contains(o2, `"cohort"`)
	})
	evaluate := []string{"--data", fr, "evaluate", "fr-grandest/risk", "--on", "de-bw/cohort", "--label", "diabetes",
		"--thresholds", "0.3,0.5", "--project", project, "--purpose", "research"}
	if code, _, errs := xb(t, evaluate...); code != exitError || !strings.Contains(errs, "de-bw/cohort") {
		t.Fatalf("an evaluation before the owner approved: exit %d %q", code, errs)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw's replica has the module", func() bool {
		code, _, _ := xb(t, "--data", de, "module", "show", project, proposed.SHA256)
		return code == 0
	})
	if code, _, errs := xb(t, "--data", de, "module", "approve", project, proposed.SHA256); code != 0 {
		t.Fatalf("approve: %s", errs)
	}
	code, out, errs = xb(t, evaluate...)
	if code != 0 || !strings.Contains(out, "de-bw/cohort") || !strings.Contains(out, "pooled") || !strings.Contains(out, "SENSITIVITY") {
		t.Fatalf("evaluate: exit %d\n%s\n%s", code, out, errs)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw reads the committed evaluation", func() bool {
		code, out, _ := xb(t, "--data", de, "evaluations", "--model", "fr-grandest/risk")
		return code == 0 && strings.Contains(out, "de-bw/cohort") && strings.Contains(out, "committed by fr-grandest")
	})
	code, out, _ = xb(t, "--data", de, "module", "show", project, proposed.SHA256)
	if code != 0 || !strings.Contains(out, "de-bw") || !strings.Contains(out, "approved") {
		t.Fatalf("module show: %q", out)
	}
}
