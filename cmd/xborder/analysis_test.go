package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/internal/testkit"
)

// analyseFromTheCommandLine: fr publishes a cohort with its dictionary, a
// researcher at de fits a model over it, saves the signed result and has
// it verified; a changed result does not verify.
func analyseFromTheCommandLine(t *testing.T, tmp, fr, de string) {
	t.Helper()
	data := filepath.Join(tmp, "diabetes.csv")
	must(t, os.WriteFile(data, cohort.Generate("fr-grandest", 400, 3), 0o600))
	raw, _ := json.Marshal(cohort.Dictionary())
	dict := filepath.Join(tmp, "diabetes.dictionary.json")
	must(t, os.WriteFile(dict, raw, 0o600))
	if code, _, errs := xb(t, "--data", fr, "dataset", "publish", data, "--id", "diabetes", "--title", "Diabetes cohort",
		"--theme", "health", "--classification", "restricted", "--dictionary", dict); code != 0 {
		t.Fatalf("publish: %s", errs)
	}
	testkit.Eventually(t, 30*time.Second, "de-bw lists the cohort", func() bool {
		code, out, _ := xb(t, "--data", de, "catalogue", "--owner", "fr-grandest", "--json")
		return code == 0 && strings.Contains(out, `"diabetes"`)
	})
	if code, _, _ := xb(t, "--data", de, "analyse", "glm", "fr-grandest/diabetes", "--formula", "sbp ~ age"); code != exitUsage {
		t.Fatalf("no purpose: exit %d", code)
	}
	if code, _, errs := xb(t, "--data", de, "analyse", "summary", "fr-grandest/diabetes", "--var", "weight", "--purpose", "research"); code != exitError ||
		!strings.Contains(errs, `no dataset has a column "weight"`) {
		t.Fatalf("an unknown column: exit %d %q", code, errs)
	}
	fit := filepath.Join(tmp, "fit.json")
	code, out, errs := xb(t, "--data", de, "analyse", "glm", "fr-grandest/diabetes", "--formula", "diabetes ~ age + bmi + sex",
		"--family", "binomial", "--purpose", "research", "--out", fit)
	if code != 0 || !strings.Contains(out, "sex:M") || !strings.Contains(out, "binomial family, n = 400") || !strings.Contains(errs, "fr-grandest/diabetes") {
		t.Fatalf("glm: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := xb(t, "--data", de, "analysis", "verify", fit); code != 0 || !strings.Contains(out, "verifies") {
		t.Fatalf("verify: exit %d %q %q", code, out, errs)
	}
	var res analysis.Result
	raw, err := os.ReadFile(fit)
	must(t, err)
	must(t, json.Unmarshal(raw, &res))
	res.Combined.GLM.Coefficients[1].Estimate += 0.01
	raw, _ = json.Marshal(res)
	must(t, os.WriteFile(fit, raw, 0o600))
	if code, _, errs := xb(t, "--data", de, "analysis", "verify", fit); code != exitIntegrity || !strings.Contains(errs, "does not verify") {
		t.Fatalf("a changed result: exit %d %q", code, errs)
	}
	code, out, _ = xb(t, "--data", de, "analysis", "list", "--json")
	var list []analysis.Status
	must(t, json.Unmarshal([]byte(out), &list))
	if code != 0 || len(list) != 1 || list[0].State != analysis.StateDone {
		t.Fatalf("list: %s", out)
	}
}
