package tabular

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestFilterSelect(t *testing.T) {
	tb := readCohort(t)
	// age 34 51 NA 45 62 29; bmi 22.5 27.1 31 24.2 NA 20.9;
	// sex F M F NA M F; region FR DE CH LU FR DE; smoker 0 1 1 0 1 NA.
	tests := []struct {
		expr string
		want []uint32
	}{
		{"age > 40", []uint32{1, 3, 4}},
		{"age >= 45", []uint32{1, 3, 4}},
		{"age < 34", []uint32{5}},
		{"age <= 34", []uint32{0, 5}},
		{"age == 45", []uint32{3}},
		{"age != 45", []uint32{0, 1, 4, 5}}, // missing never matches
		{"not (age > 40)", []uint32{0, 5}},  // nor under not
		{"not not age > 40", []uint32{1, 3, 4}},
		{`sex == "F"`, []uint32{0, 2, 5}},
		{`sex != "F"`, []uint32{1, 4}},
		{`not sex == "F"`, []uint32{1, 4}},
		{`region in ("FR", "LU")`, []uint32{0, 3, 4}},
		{`not region in ("FR", "LU")`, []uint32{1, 2, 5}},
		{`region in ()`, nil},
		{`smoker == true`, []uint32{1, 2, 4}},
		{`smoker == 0`, []uint32{0, 3}},
		{`smoker != true`, []uint32{0, 3}},
		{`age > 40 and sex == "M"`, []uint32{1, 4}},
		{`age > 40 or bmi > 30`, []uint32{1, 2, 3, 4}},
		{`(age > 40 or bmi > 30) and not sex == "M"`, []uint32{2}},
		{`not (age > 40 or bmi > 30)`, []uint32{0, 5}},
		{`not (age > 40 and bmi > 25)`, []uint32{0, 3, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := ParseFilter(tt.expr, cohort())
			if err != nil {
				t.Fatal(err)
			}
			rows, err := f.Select(tb)
			if err != nil {
				t.Fatal(err)
			}
			if got := rows.ToArray(); !reflect.DeepEqual(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("Select = %v, want %v (canonical %q)", got, tt.want, f)
			}
		})
	}
}

func TestNilFilterSelectsAll(t *testing.T) {
	tb := readCohort(t)
	f, err := ParseFilter("  ", cohort())
	if err != nil || f != nil {
		t.Fatalf("ParseFilter(blank) = %v, %v; want no filter", f, err)
	}
	rows, err := f.Select(tb)
	if err != nil || rows.GetCardinality() != 6 {
		t.Errorf("nil filter selects %v, %v", rows, err)
	}
	if f.String() != "" {
		t.Errorf("nil filter String() = %q", f.String())
	}
}

func TestFilterCanonical(t *testing.T) {
	tests := []struct {
		spellings []string
		want      string
	}{
		{[]string{"age>40", "  age  >  40.0 ", "(age > 4e1)", "not age <= 40", "NOT (age <= 40)"}, "age > 40"},
		{[]string{`sex == "F"`, `sex != "M"`, `sex in ("F")`, `sex in ("F", "F")`, `not sex == "M"`}, `sex == "F"`},
		{[]string{`region != "CH"`, `region in ("LU", "DE", "FR")`, `not region == "CH"`}, `region != "CH"`},
		{[]string{`region in ("LU", "FR")`, `region in ("FR","LU")`, `not region in ("DE", "CH")`}, `region in ("FR", "LU")`},
		{[]string{`smoker == 1`, `smoker == true`, `smoker != false`, `not smoker == 0`, `smoker == TRUE`}, `smoker == true`},
		{[]string{`smoker > 0.5`}, `smoker > 0.5`},
		{[]string{`bmi > 25 and age > 40`, `age > 40 AND bmi > 25`, `(age > 40) and (bmi > 25) and age > 40`}, `age > 40 and bmi > 25`},
		{[]string{`a1 > 0 or (bmi > 25 or age > 40)`, `(age > 40 or bmi > 25) or a1 > 0`}, `a1 > 0 or age > 40 or bmi > 25`},
		{[]string{`(age > 40 or bmi > 25) and sex == "F"`, `not (age <= 40 and bmi <= 25 or sex == "M")`}, `(age > 40 or bmi > 25) and sex == "F"`},
		{[]string{`age > 40 and bmi > 25 or sex == "F"`}, `age > 40 and bmi > 25 or sex == "F"`},
		{[]string{`age > -1.5`, `age>-1.5`, `not age <= -15e-1`}, `age > -1.5`},
	}
	d := cohort()
	d.Columns = append(d.Columns, Column{Name: "a1", Type: TypeNumber})
	for _, tt := range tests {
		for _, s := range tt.spellings {
			f, err := ParseFilter(s, d)
			if err != nil {
				t.Errorf("ParseFilter(%q): %v", s, err)
				continue
			}
			if f.String() != tt.want {
				t.Errorf("ParseFilter(%q).String() = %q, want %q", s, f.String(), tt.want)
			}
			again, err := ParseFilter(f.String(), d)
			if err != nil || again.String() != f.String() {
				t.Errorf("the canonical form %q reparses as %v, %v", f, again, err)
			}
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	deep := strings.Repeat("(", MaxFilterDepth) + "age > 1" + strings.Repeat(")", MaxFilterDepth)
	tests := []struct {
		expr    string
		pos     int
		problem string
	}{
		{"weight > 1", 0, `unknown column "weight"`},
		{"pid == 1", 0, `a filter on the identifier column "pid" is refused`},
		{`age > 1 and pid in ("x")`, 12, "identifier column"},
		{`age == "x"`, 7, `"age" is integer: compare it with a number`},
		{`age == true`, 7, "compare it with a number"},
		{`sex == 1`, 7, `"sex" is categorical: compare it with a quoted level`},
		{`sex < "F"`, 6, "compare it with ==, != or in"},
		{`sex == "X"`, 7, `"X" is not a level of "sex"`},
		{`sex in ("F", "X")`, 13, `"X" is not a level`},
		{`age in ("1")`, 4, "in is for categorical columns"},
		{`smoker == "yes"`, 10, `"smoker" is boolean: compare it with true, false or a number`},
		{`sex in "F"`, 7, `expected "(" after in`},
		{`sex in ("F" "M")`, 12, `expected "," or ")"`},
		{`sex in ("F",)`, 12, "expected a quoted level"},
		{`sex in (F)`, 8, "expected a quoted level"},
		{`age = 1`, 4, `"=" is not an operator`},
		{`!(age > 1)`, 0, `"!" is not an operator`},
		{`age > 1e999`, 6, "not a finite number"},
		{`age > inf`, 6, "compare it with a number"},
		{`age > 1 age < 2`, 8, "unexpected"},
		{`age > 1 and`, 11, "expected a column name, found end of input"},
		{`(age > 1`, 8, `expected ")"`},
		{`age > 1)`, 7, "unexpected"},
		{`age`, 3, "expected a comparison operator"},
		{`age >`, 5, "compare it with a number"},
		{`and > 1`, 0, "expected a column name"},
		{`sex == "F`, 7, "without its closing quote"},
		{`sex == "\q"`, 7, "a malformed string"},
		{"age > 1 \xff", 8, "not UTF-8"},
		{`age > 1 # comment`, 8, "unexpected"},
		{deep, MaxFilterDepth, "nested deeper than 32"},
		{strings.Repeat("not ", MaxFilterDepth) + "age > 1", 4 * MaxFilterDepth, "nested deeper"},
		{"age > 1" + strings.Repeat(" ", MaxFilterBytes), MaxFilterBytes, "limit 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseFilter(tt.expr, cohort())
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FilterError", err)
			}
			if fe.Pos != tt.pos || !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("error %q at %d, want %q at %d", fe.Problem, fe.Pos, tt.problem, tt.pos)
			}
			if wantID := strings.Contains(tt.problem, "identifier"); errors.Is(err, ErrIdentifier) != wantID {
				t.Errorf("errors.Is(err, ErrIdentifier) = %v, want %v", !wantID, wantID)
			}
		})
	}
	// Just within the bounds.
	within := strings.Repeat("(", MaxFilterDepth-1) + "age > 1" + strings.Repeat(")", MaxFilterDepth-1)
	if _, err := ParseFilter(within, cohort()); err != nil {
		t.Errorf("depth %d: %v", MaxFilterDepth-1, err)
	}
	if _, err := ParseFilter("age > 1", Dictionary{}); !errors.As(err, new(*DictionaryError)) {
		t.Errorf("a bad dictionary: %v, want a *DictionaryError", err)
	}
}

// A table read against another dictionary: the filter's columns must keep
// their kind, and its categorical columns no level the filter's lacks.
func TestFilterSelectOtherDictionary(t *testing.T) {
	f, err := ParseFilter(`sex != "F" and age > 40`, cohort())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cols []Column
		csv  string
		want error
	}{
		{"fewer levels", []Column{{Name: "sex", Type: TypeCategorical, Levels: []string{"M"}}, {Name: "age", Type: TypeNumber}}, "sex,age\nM,50\n", nil},
		{"unknown level", []Column{{Name: "sex", Type: TypeCategorical, Levels: []string{"F", "M", "X"}}, {Name: "age", Type: TypeNumber}}, "sex,age\nX,50\n", ErrColumnType},
		{"numeric sex", []Column{{Name: "sex", Type: TypeInteger}, {Name: "age", Type: TypeNumber}}, "sex,age\n1,50\n", ErrColumnType},
		{"categorical age", []Column{{Name: "sex", Type: TypeCategorical, Levels: []string{"M"}}, {Name: "age", Type: TypeCategorical, Levels: []string{"old"}}}, "sex,age\nM,old\n", ErrColumnType},
		{"no age", []Column{{Name: "sex", Type: TypeCategorical, Levels: []string{"M"}}, {Name: "x", Type: TypeNumber}}, "sex,x\nM,1\n", ErrUnknownColumn},
		{"identifier age", []Column{{Name: "sex", Type: TypeCategorical, Levels: []string{"M"}}, {Name: "age", Type: TypeNumber, Identifier: true}}, "sex,age\nM,1\n", ErrIdentifier},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, err := ReadCSV(strings.NewReader(tt.csv), Dictionary{Columns: tt.cols})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := f.Select(tb)
			if tt.want == nil {
				if err != nil || rows.GetCardinality() != 1 {
					t.Errorf("Select = %v, %v; want row 0", rows, err)
				}
				return
			}
			var ce *ColumnError
			if !errors.As(err, &ce) || !errors.Is(err, tt.want) {
				t.Errorf("error %v, want a *ColumnError wrapping %v", err, tt.want)
			}
		})
	}
}
