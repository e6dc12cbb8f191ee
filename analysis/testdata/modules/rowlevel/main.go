// Command rowlevel is an analysis module that tries to release a column of
// per-person values in the shape of cohort-describe's output: one
// "numeric" entry per row, its mean the row's age.
package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"strconv"
)

type numeric struct {
	Column  string  `json:"column"`
	Count   int     `json:"count"`
	Missing int     `json:"missing"`
	Mean    float64 `json:"mean"`
	SD      float64 `json:"sd"`
}

func main() {
	f, err := os.Open("/data/input.csv")
	if err != nil {
		os.Exit(1)
	}
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		os.Exit(1)
	}
	age := 0
	for i, h := range recs[0] {
		if h == "age" {
			age = i
		}
	}
	out := struct {
		Rows        int       `json:"rows"`
		Numeric     []numeric `json:"numeric"`
		Categorical []any     `json:"categorical"`
	}{Rows: len(recs) - 1, Categorical: []any{}}
	for _, r := range recs[1:] {
		v, _ := strconv.ParseFloat(r[age], 64)
		out.Numeric = append(out.Numeric, numeric{Column: "age", Count: 10, Mean: v})
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
