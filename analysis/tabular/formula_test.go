package tabular

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseFormula(t *testing.T) {
	tests := []struct {
		in    string
		resp  string
		terms []string
		canon string
	}{
		{"sbp ~ age + bmi + sex", "sbp", []string{"age", "bmi", "sex"}, "sbp ~ age + bmi + sex"},
		{"sbp~age+bmi", "sbp", []string{"age", "bmi"}, "sbp ~ age + bmi"},
		{" sbp ~ 1 + region ", "sbp", []string{"region"}, "sbp ~ region"},
		{"smoker ~ 1", "smoker", nil, "smoker ~ 1"},
		{"age ~ smoker + sex", "age", []string{"smoker", "sex"}, "age ~ smoker + sex"},
	}
	for _, tt := range tests {
		f, err := ParseFormula(tt.in, cohort())
		if err != nil {
			t.Errorf("ParseFormula(%q): %v", tt.in, err)
			continue
		}
		if f.Response != tt.resp || !reflect.DeepEqual(f.Terms, tt.terms) || f.String() != tt.canon {
			t.Errorf("ParseFormula(%q) = %+v %q, want %s %v %q", tt.in, f, f, tt.resp, tt.terms, tt.canon)
		}
	}
}

func TestParseFormulaErrors(t *testing.T) {
	many := make([]Column, 0, MaxTerms+2)
	terms := make([]string, 0, MaxTerms+1)
	many = append(many, Column{Name: "y", Type: TypeNumber})
	for i := range MaxTerms + 1 {
		name := fmt.Sprintf("x%d", i)
		many = append(many, Column{Name: name, Type: TypeNumber})
		terms = append(terms, name)
	}
	wide := Dictionary{Columns: many}
	tests := []struct {
		in      string
		d       Dictionary
		pos     int
		problem string
	}{
		{"", cohort(), 0, "an empty formula"},
		{"sbp", cohort(), 3, `expected "~"`},
		{"sbp age", cohort(), 4, `expected "~"`},
		{"~ age", cohort(), 0, "expected the response's column name"},
		{"sbp ~", cohort(), 5, "expected the term's column name, found end of input"},
		{"sbp ~ age +", cohort(), 11, "expected the term's column name"},
		{"sbp ~ age age", cohort(), 10, `expected "+" or the end`},
		{"weight ~ age", cohort(), 0, `unknown column "weight"`},
		{"sbp ~ weight", cohort(), 6, `unknown column "weight"`},
		{"pid ~ age", cohort(), 0, `a formula with the identifier column "pid" is refused`},
		{"sbp ~ age + pid", cohort(), 12, "identifier column"},
		{"sex ~ age", cohort(), 0, `the response "sex" is categorical`},
		{"sbp ~ age + age", cohort(), 12, `"age" appears twice`},
		{"sbp ~ sbp", cohort(), 6, `"sbp" appears twice`},
		{"sbp ~ age - 1", cohort(), 10, "removing a term or the intercept is not supported"},
		{"sbp ~ age -1", cohort(), 10, "not supported"},
		{"sbp ~ 0 + age", cohort(), 6, "the intercept is always included"},
		{"sbp ~ age:sex", cohort(), 9, "interactions and transformations are not supported"},
		{"sbp ~ age*sex", cohort(), 9, "interactions"},
		{"sbp ~ log(age)", cohort(), 9, "interactions"},
		{"sbp ~ 2", cohort(), 6, "expected the term's column name"},
		{`sbp ~ "age"`, cohort(), 6, "expected the term's column name"},
		{"sbp ~ age == 1", cohort(), 10, `expected "+" or the end`},
		{"sbp ~ a\xff", cohort(), 7, "not UTF-8"},
		{"y ~ " + strings.Join(terms, " + "), wide, 4 + len(strings.Join(terms[:MaxTerms], " + ")) + 3, "more than 64 terms"},
		{"sbp ~ age" + strings.Repeat(" ", MaxFormulaBytes), cohort(), MaxFormulaBytes, "limit 8192"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseFormula(tt.in, tt.d)
			var fe *FormulaError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FormulaError", err)
			}
			if fe.Pos != tt.pos || !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("error %q at %d, want %q at %d", fe.Problem, fe.Pos, tt.problem, tt.pos)
			}
			if wantID := strings.Contains(tt.problem, "identifier"); errors.Is(err, ErrIdentifier) != wantID {
				t.Errorf("errors.Is(err, ErrIdentifier) = %v, want %v", !wantID, wantID)
			}
		})
	}
	if _, err := ParseFormula("y ~ x", Dictionary{}); !errors.As(err, new(*DictionaryError)) {
		t.Errorf("a bad dictionary: %v, want a *DictionaryError", err)
	}
}
