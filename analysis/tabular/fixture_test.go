package tabular

import (
	"strings"
	"testing"
)

// cohort is the dictionary of the tests' small cohort.
func cohort() Dictionary {
	return Dictionary{Columns: []Column{
		{Name: "pid", Type: TypeText, Identifier: true, Description: "patient number"},
		{Name: "age", Type: TypeInteger, Unit: "year"},
		{Name: "bmi", Type: TypeNumber, Unit: "kg/m2"},
		{Name: "sex", Type: TypeCategorical, Levels: []string{"F", "M"}},
		{Name: "region", Type: TypeCategorical, Levels: []string{"FR", "DE", "CH", "LU"}},
		{Name: "smoker", Type: TypeBoolean},
		{Name: "sbp", Type: TypeNumber, Unit: "mmHg"},
	}}
}

// cohortCSV has one row per line from line 2; row i is on line i+2.
const cohortCSV = `pid,sex,age,bmi,region,smoker,sbp
P1,F,34,22.5,FR,no,120
P2,M,51,27.1,DE,yes,135.5
P3,F,NA,31.0,CH,true,
P4,,45,24.2,LU,0,128
P5,M,62,,FR,1,142
P6,F,29,20.9,DE,,118
`

// readCohort reads cohortCSV.
func readCohort(t testing.TB) *Table {
	t.Helper()
	tb, err := ReadCSV(strings.NewReader(cohortCSV), cohort())
	if err != nil {
		t.Fatal(err)
	}
	return tb
}
