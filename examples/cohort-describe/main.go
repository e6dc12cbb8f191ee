// Command cohort-describe is an example analysis for the sandbox: it
// describes the dataset view at /data/input.csv by aggregates only, never
// a row.
//
// A column is numeric when every non-empty value in it parses as a finite
// number, categorical otherwise (true/false, M/F, codes). A column named
// "id" or ending in "_id" is an identifier and is left out: its mean or
// its levels would say nothing about the cohort and, as levels, would list
// every patient. An empty value counts as missing.
//
// The output, on standard output, is one JSON document:
//
//	{
//	  "rows": 500,                  // data rows, the header excluded
//	  "numeric": [                  // in the header's order
//	    {"column": "age", "count": 498, "missing": 2,
//	     "mean": 57.1, "sd": 16.2}  // sd: sample (n-1); mean null when
//	  ],                            // count is 0, sd null when below 2
//	  "categorical": [              // in the header's order
//	    {"column": "sex", "count": 500, "missing": 0,
//	     "levels": {"F": 251, "M": 249}}  // levels sorted by name
//	  ]
//	}
//
// The program does not suppress small counts: that is for the node's
// check of a module's output (of the coming model-validation feature),
// which applies the disclosure rules to these aggregates before anything
// leaves the node. A bad file is reported on standard error and
// the program exits with status 1.
//
// Build it with GOOS=wasip1 GOARCH=wasm (`make wasm`); it uses only the
// standard library.
package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// inputPath is where the sandbox mounts the dataset view.
const inputPath = "/data/input.csv"

// Description is the output document.
type Description struct {
	Rows        int           `json:"rows"`
	Numeric     []Numeric     `json:"numeric"`
	Categorical []Categorical `json:"categorical"`
}

// Numeric summarises a numeric column.
type Numeric struct {
	Column  string   `json:"column"`
	Count   int      `json:"count"`
	Missing int      `json:"missing"`
	Mean    *float64 `json:"mean"`
	SD      *float64 `json:"sd"`
}

// Categorical counts a categorical column's levels.
type Categorical struct {
	Column  string         `json:"column"`
	Count   int            `json:"count"`
	Missing int            `json:"missing"`
	Levels  map[string]int `json:"levels"`
}

func main() {
	d, err := describe(inputPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cohort-describe:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(d); err != nil {
		fmt.Fprintln(os.Stderr, "cohort-describe:", err)
		os.Exit(1)
	}
}

// describe reads the file twice: once to tell each column's kind, once to
// aggregate it, so that memory holds aggregates and never the rows.
func describe(path string) (Description, error) {
	header, numeric, err := kinds(path)
	if err != nil {
		return Description{}, err
	}
	type welford struct {
		n       int
		mean, m float64
	}
	stats := make([]welford, len(header))
	levels := make([]map[string]int, len(header))
	missing := make([]int, len(header))
	for i := range header {
		if !numeric[i] {
			levels[i] = map[string]int{}
		}
	}
	_, rows, err := eachRow(path, func(rec []string) error {
		for i, v := range rec {
			if identifier(header[i]) {
				continue
			}
			v = strings.TrimSpace(v)
			switch {
			case v == "":
				missing[i]++
			case numeric[i]:
				x, _ := strconv.ParseFloat(v, 64) // kinds checked it parses
				s := &stats[i]
				s.n++
				d := x - s.mean
				s.mean += d / float64(s.n)
				s.m += d * (x - s.mean)
			default:
				levels[i][v]++
			}
		}
		return nil
	})
	if err != nil {
		return Description{}, err
	}
	d := Description{Rows: rows, Numeric: []Numeric{}, Categorical: []Categorical{}}
	for i, name := range header {
		if identifier(name) {
			continue
		}
		if !numeric[i] {
			d.Categorical = append(d.Categorical, Categorical{Column: name, Count: rows - missing[i], Missing: missing[i], Levels: levels[i]})
			continue
		}
		s := stats[i]
		n := Numeric{Column: name, Count: s.n, Missing: missing[i]}
		if s.n > 0 {
			mean := s.mean
			n.Mean = &mean
		}
		if s.n > 1 {
			sd := math.Sqrt(s.m / float64(s.n-1))
			n.SD = &sd
		}
		d.Numeric = append(d.Numeric, n)
	}
	return d, nil
}

// kinds reads the header and tells which columns are numeric: those with
// at least one value, every one of them a finite number.
func kinds(path string) (header []string, numeric []bool, err error) {
	var seen []bool
	header, _, err = eachRow(path, func(rec []string) error {
		if numeric == nil {
			numeric = make([]bool, len(rec))
			seen = make([]bool, len(rec))
			for i := range numeric {
				numeric[i] = true
			}
		}
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if v == "" || !numeric[i] {
				continue
			}
			seen[i] = true
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				numeric[i] = false
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if numeric == nil { // no rows
		numeric = make([]bool, len(header))
		seen = make([]bool, len(header))
	}
	for i := range numeric {
		numeric[i] = numeric[i] && seen[i]
	}
	return header, numeric, nil
}

// eachRow calls f on every data row of the CSV at path and returns the
// header and the number of rows.
func eachRow(path string, f func(rec []string) error) (header []string, rows int, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer file.Close()
	cr := csv.NewReader(file)
	header, err = cr.Read()
	if err == io.EOF {
		return nil, 0, fmt.Errorf("%s: empty file, no header", path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: header: %w", path, err)
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	seen := map[string]bool{}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		if seen[header[i]] {
			return nil, 0, fmt.Errorf("%s: header: column %q appears twice", path, header[i])
		}
		seen[header[i]] = true
	}
	cr.ReuseRecord = true
	for ; ; rows++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return header, rows, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		if err := f(rec); err != nil {
			return nil, 0, err
		}
	}
}

// identifier tells a column naming rows rather than measuring them.
func identifier(column string) bool {
	c := strings.ToLower(column)
	return c == "id" || strings.HasSuffix(c, "_id")
}
