// Command predictor is an example model predictor for the sandbox: a
// logistic model of a binary outcome on age, body-mass index, sex and
// smoking, scored on the rows of a dataset view.
//
// It reads the model's coefficients as JSON on standard input,
//
//	{"intercept": -9, "age": 0.06, "bmi": 0.15, "male": 0.3, "smoker": 0.4}
//
// (all five required, nothing else accepted), and the rows from
// /data/input.csv, whose header must name the columns age, bmi, sex and
// smoker (in any order, among any others). It writes one score per row to
// standard output, in row order, one per line: the logistic of
//
//	intercept + age·age + bmi·bmi + male·[sex = M] + smoker·smoker
//
// printed with the fewest digits that read back as the same float64. A row
// with one of the four values empty gets an empty line, so that line i is
// always row i's. sex is M or F (any case); smoker is a boolean as Go's
// strconv.ParseBool reads it (true/false, 1/0, ...).
//
// A bad header, bad JSON or a value that does not parse is reported on
// standard error and the program exits with status 1: scoring on, with a
// guess in place of a value, would hand back numbers that mean nothing.
//
// Build it with GOOS=wasip1 GOARCH=wasm (`make wasm`); it uses only the
// standard library.
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// inputPath is where the sandbox mounts the dataset view.
const inputPath = "/data/input.csv"

// model is the coefficients on standard input. Pointers tell a missing
// coefficient from a zero one.
type model struct {
	Intercept *float64 `json:"intercept"`
	Age       *float64 `json:"age"`
	BMI       *float64 `json:"bmi"`
	Male      *float64 `json:"male"`
	Smoker    *float64 `json:"smoker"`
}

// columns are the positions of the model's inputs in a row.
type columns struct{ age, bmi, sex, smoker int }

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "predictor:", err)
		os.Exit(1)
	}
}

func run(stdin io.Reader, stdout io.Writer) error {
	m, err := readModel(stdin)
	if err != nil {
		return err
	}
	f, err := os.Open(inputPath)
	if err != nil {
		return err
	}
	defer f.Close()
	out := bufio.NewWriter(stdout)
	if err := score(m, f, out); err != nil {
		return err
	}
	return out.Flush()
}

func readModel(r io.Reader) (model, error) {
	var m model
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("coefficients on standard input: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return m, errors.New("coefficients on standard input: more than one JSON value")
	}
	var missing []string
	for _, c := range []struct {
		name string
		v    *float64
	}{{"intercept", m.Intercept}, {"age", m.Age}, {"bmi", m.BMI}, {"male", m.Male}, {"smoker", m.Smoker}} {
		if c.v == nil {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return m, fmt.Errorf("coefficients on standard input: missing %s", strings.Join(missing, ", "))
	}
	return m, nil
}

func score(m model, r io.Reader, w *bufio.Writer) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file, no header", inputPath)
	}
	if err != nil {
		return fmt.Errorf("%s: header: %w", inputPath, err)
	}
	cols, err := locate(header)
	if err != nil {
		return fmt.Errorf("%s: header: %w", inputPath, err)
	}
	var line []byte
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", inputPath, err)
		}
		p, ok, err := predict(m, cols, rec)
		if err != nil {
			return fmt.Errorf("%s: row %d: %w", inputPath, row, err)
		}
		line = line[:0]
		if ok {
			line = strconv.AppendFloat(line, p, 'g', -1, 64)
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
}

// locate finds the model's columns in the header; each must appear once.
func locate(header []string) (columns, error) {
	// A BOM left by a spreadsheet would make the first name unrecognisable.
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	pos := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := pos[h]; dup {
			return columns{}, fmt.Errorf("column %q appears twice", h)
		}
		pos[h] = i
	}
	var missing []string
	find := func(name string) int {
		i, ok := pos[name]
		if !ok {
			missing = append(missing, name)
		}
		return i
	}
	c := columns{age: find("age"), bmi: find("bmi"), sex: find("sex"), smoker: find("smoker")}
	if len(missing) > 0 {
		return c, fmt.Errorf("no column %s (the model needs age, bmi, sex and smoker)", strings.Join(missing, ", "))
	}
	return c, nil
}

// predict is the model's probability for one row; ok is false when one of
// the model's inputs is empty.
func predict(m model, c columns, rec []string) (p float64, ok bool, err error) {
	age, sex, bmi, smoker := field(rec, c.age), field(rec, c.sex), field(rec, c.bmi), field(rec, c.smoker)
	if age == "" || sex == "" || bmi == "" || smoker == "" {
		return 0, false, nil
	}
	a, err := number("age", age)
	if err != nil {
		return 0, false, err
	}
	b, err := number("bmi", bmi)
	if err != nil {
		return 0, false, err
	}
	var male float64
	switch strings.ToUpper(sex) {
	case "M":
		male = 1
	case "F":
	default:
		return 0, false, fmt.Errorf("sex %q is neither M nor F", sex)
	}
	s, err := strconv.ParseBool(smoker)
	if err != nil {
		return 0, false, fmt.Errorf("smoker %q is not a boolean", smoker)
	}
	var sm float64
	if s {
		sm = 1
	}
	eta := *m.Intercept + *m.Age*a + *m.BMI*b + *m.Male*male + *m.Smoker*sm
	return 1 / (1 + math.Exp(-eta)), true, nil
}

func number(name, s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s %q is not a finite number", name, s)
	}
	return v, nil
}

// field is rec[i] trimmed; csv.Reader already checked every record has
// the header's number of fields.
func field(rec []string, i int) string { return strings.TrimSpace(rec[i]) }
