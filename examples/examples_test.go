// Package examples_test builds the example modules for wasip1 and runs
// them in the sandbox on a synthetic cohort. It lives here rather than in
// sandbox so that sandbox, which knows nothing of datasets, does not
// import the analysis room even in its tests.
package examples_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/sandbox"
)

var (
	// sb is the one sandbox every test runs in, so that each module is
	// compiled once per process (compiling is slow under -race) however
	// many tests run it at once.
	sb *sandbox.Sandbox

	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	var err error
	if sb, err = sandbox.New(sandbox.Config{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := sb.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the sandbox:", err)
		code = 1
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines outlived the sandboxes:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// module is the example under name, built for wasip1 as `make wasm`
// builds it (once per test process; the build cache makes it cheap after).
func module(tb testing.TB, name string) []byte {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "examples-wasm-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", buildDir+"/", "./predictor", "./cohort-describe")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build of the examples: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	bin, err := os.ReadFile(filepath.Join(buildDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// run runs the example name on csvData as /data/input.csv.
func run(t *testing.T, name string, csvData, stdin []byte) (sandbox.Output, error) {
	t.Helper()
	view, err := sandbox.FileView("input.csv", bytes.NewReader(csvData), int64(len(csvData)))
	if err != nil {
		t.Fatal(err)
	}
	return sb.Run(context.Background(), module(t, name), sandbox.Input{Stdin: stdin, Data: view})
}

func diabetesModel(t *testing.T) []byte {
	t.Helper()
	d := cohort.Diabetes
	b, err := json.Marshal(map[string]float64{
		"intercept": d.Intercept, "age": d.Age, "bmi": d.BMI, "male": d.Male, "smoker": d.Smoker,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rows parses a cohort's CSV into records keyed by column name.
func rows(t *testing.T, data []byte) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		r := map[string]string{}
		for i, h := range recs[0] {
			r[h] = rec[i]
		}
		out = append(out, r)
	}
	return out
}

func parse(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPredictorScoresCohort(t *testing.T) {
	t.Parallel()
	data := cohort.Generate("fr-grandest", 500, 1)
	out, err := run(t, "predictor", data, diabetesModel(t))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out.Stdout), "\n"), "\n")
	patients := rows(t, data)
	if len(lines) != len(patients) || len(patients) != 500 {
		t.Fatalf("%d scores for %d rows, want 500 of each", len(lines), len(patients))
	}
	d := cohort.Diabetes
	for i, p := range patients {
		var male, smoker float64
		if p["sex"] == "M" {
			male = 1
		}
		if p["smoker"] == "true" {
			smoker = 1
		}
		eta := d.Intercept + d.Age*parse(t, p["age"]) + d.BMI*parse(t, p["bmi"]) + d.Male*male + d.Smoker*smoker
		want := 1 / (1 + math.Exp(-eta))
		got, err := strconv.ParseFloat(lines[i], 64)
		if err != nil {
			t.Fatalf("row %d: score %q: %v", i+1, lines[i], err)
		}
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("row %d (%v): score %v, want %v", i+1, p, got, want)
		}
	}
}

func TestPredictorLeavesRowsWithMissingValuesEmpty(t *testing.T) {
	t.Parallel()
	data := []byte("smoker,sex,bmi,age,extra\n" +
		"false,F,25,50,x\n" +
		"true,M,,60,y\n" +
		"1,m,30.5,40,\n" +
		",F,22,33,z\n")
	model := []byte(`{"intercept":-1,"age":0.01,"bmi":0.02,"male":0.5,"smoker":0.25}`)
	out, err := run(t, "predictor", data, model)
	if err != nil {
		t.Fatal(err)
	}
	logistic := func(eta float64) string { return strconv.FormatFloat(1/(1+math.Exp(-eta)), 'g', -1, 64) }
	want := logistic(-1+0.01*50+0.02*25) + "\n" +
		"\n" +
		logistic(-1+0.01*40+0.02*30.5+0.5+0.25) + "\n" +
		"\n"
	if string(out.Stdout) != want {
		t.Fatalf("stdout %q, want %q", out.Stdout, want)
	}
}

func TestPredictorRefusesBadInput(t *testing.T) {
	t.Parallel()
	good := diabetesModel(t)
	data := cohort.Generate("fr-grandest", 10, 1)
	for _, c := range []struct {
		name        string
		csv, stdin  []byte
		stderrNames string
	}{
		{"not JSON", data, []byte(`intercept=1`), "coefficients"},
		{"a coefficient missing", data, []byte(`{"intercept":-9,"age":0.06,"bmi":0.15,"male":0.3}`), "smoker"},
		{"an unknown coefficient", data, []byte(`{"intercept":-9,"age":0.06,"bmi":0.15,"male":0.3,"smoker":0.4,"sbp":1}`), "sbp"},
		{"a column missing", []byte("age,sex,smoker\n50,F,false\n"), good, "bmi"},
		{"an empty file", nil, good, "header"},
		{"a value that is not a number", []byte("age,bmi,sex,smoker\nfifty,25,F,false\n"), good, "fifty"},
		{"an unknown sex", []byte("age,bmi,sex,smoker\n50,25,X,false\n"), good, "sex"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := run(t, "predictor", c.csv, c.stdin)
			var me *sandbox.ModuleError
			if !errors.As(err, &me) || me.Kind != sandbox.KindExit || me.ExitCode != 1 {
				t.Fatalf("err = %v, want an exit with status 1", err)
			}
			if !strings.Contains(me.Stderr, c.stderrNames) {
				t.Fatalf("stderr %q does not name %q", me.Stderr, c.stderrNames)
			}
		})
	}
}

// description is cohort-describe's output schema, as its comment states.
type description struct {
	Rows    int `json:"rows"`
	Numeric []struct {
		Column         string
		Count, Missing int
		Mean, SD       *float64
	} `json:"numeric"`
	Categorical []struct {
		Column         string
		Count, Missing int
		Levels         map[string]int
	} `json:"categorical"`
}

func TestCohortDescribe(t *testing.T) {
	t.Parallel()
	data := cohort.Generate("fr-grandest", 500, 1)
	out, err := run(t, "cohort-describe", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(out.Stdout))
	dec.DisallowUnknownFields()
	var d description
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("output %s: %v", out.Stdout, err)
	}
	patients := rows(t, data)
	if d.Rows != len(patients) {
		t.Fatalf("rows %d, want %d", d.Rows, len(patients))
	}

	var sum, sumSq float64
	sexes := map[string]int{}
	for _, p := range patients {
		age := parse(t, p["age"])
		sum += age
		sexes[p["sex"]]++
	}
	mean := sum / float64(len(patients))
	for _, p := range patients {
		dev := parse(t, p["age"]) - mean
		sumSq += dev * dev
	}
	sd := math.Sqrt(sumSq / float64(len(patients)-1))

	var numeric, categorical []string
	for _, n := range d.Numeric {
		numeric = append(numeric, n.Column)
		if n.Column != "age" {
			continue
		}
		if n.Count != 500 || n.Missing != 0 || n.Mean == nil || n.SD == nil {
			t.Fatalf("age: %+v", n)
		}
		if math.Abs(*n.Mean-mean) > 1e-9*mean || math.Abs(*n.SD-sd) > 1e-9*sd {
			t.Fatalf("age: mean %v sd %v, want %v and %v", *n.Mean, *n.SD, mean, sd)
		}
	}
	for _, c := range d.Categorical {
		categorical = append(categorical, c.Column)
		if c.Column == "sex" && (c.Count != 500 || fmt.Sprint(c.Levels) != fmt.Sprint(sexes)) {
			t.Fatalf("sex: %+v, want levels %v", c, sexes)
		}
	}
	// patient_id is an identifier: described neither way.
	if got := strings.Join(numeric, ","); got != "age,bmi,sbp,visits" {
		t.Fatalf("numeric columns %s", got)
	}
	if got := strings.Join(categorical, ","); got != "sex,smoker,diabetes" {
		t.Fatalf("categorical columns %s", got)
	}
}

func TestCohortDescribeCountsMissingValues(t *testing.T) {
	t.Parallel()
	data := []byte("id,x,g\n1,2,a\n2,,b\n3,4,\n4,9,a\n")
	out, err := run(t, "cohort-describe", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"rows":4,"numeric":[{"column":"x","count":3,"missing":1,"mean":5,"sd":3.605551275463989}],` +
		`"categorical":[{"column":"g","count":3,"missing":1,"levels":{"a":2,"b":1}}]}` + "\n"
	if string(out.Stdout) != want {
		t.Fatalf("stdout %s, want %s", out.Stdout, want)
	}
}
