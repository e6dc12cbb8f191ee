package tabular

import (
	"strings"
	"testing"
)

// FuzzParseFilter: no input panics; a filter's canonical form parses to
// itself and selects the same rows.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"age > 40", `sex == "F" and not (bmi <= 25 or smoker == true)`, `region in ("FR", "LU")`,
		`not region in ()`, `smoker != 0`, `AGE>4e1`, `sex == "\u0046"`, `(((age > 1)))`,
		`age > -.5 OR bmi < +3`, `pid == 1`, `sex in ("F",)`, "age = 1", `"`, `\`, "not",
	} {
		f.Add(s)
	}
	d := cohort()
	tb, err := ReadCSV(strings.NewReader(cohortCSV), d)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter(expr, d)
		if err != nil || flt == nil {
			return
		}
		canon := flt.String()
		again, err := ParseFilter(canon, d)
		if err != nil {
			t.Fatalf("%q: the canonical form %q does not parse: %v", expr, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("%q: the canonical form %q reparses as %q", expr, canon, again)
		}
		a, err := flt.Select(tb)
		if err != nil {
			t.Fatal(err)
		}
		b, err := again.Select(tb)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Equals(b) {
			t.Fatalf("%q selects %v, its canonical form %q %v", expr, a, canon, b)
		}
	})
}

// FuzzParseFormula: no input panics; a formula's canonical form parses to
// itself, and its design is valid against the dictionary.
func FuzzParseFormula(f *testing.F) {
	for _, s := range []string{
		"sbp ~ age + bmi + sex", "sbp~1", "smoker ~ 1 + region", "sbp ~ age - 1", "sbp ~ age:sex",
		"sbp ~ age + age", "pid ~ age", "sex ~ age", "sbp ~", "~ age", "sbp ~ age +", "sbp ~ 0",
	} {
		f.Add(s)
	}
	d := cohort()
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseFormula(s, d)
		if err != nil {
			return
		}
		canon := fm.String()
		again, err := ParseFormula(canon, d)
		if err != nil || again.String() != canon {
			t.Fatalf("%q: the canonical form %q reparses as %v, %v", s, canon, again, err)
		}
		ds, err := NewDesign(fm, d)
		if err != nil {
			t.Fatalf("%q: NewDesign: %v", s, err)
		}
		if err := ds.Validate(d); err != nil {
			t.Fatalf("%q: the design is not valid: %v", s, err)
		}
	})
}
