package tabular

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDictionaryValidate(t *testing.T) {
	if err := cohort().Validate(); err != nil {
		t.Fatalf("the cohort's dictionary: %v", err)
	}
	num := func(name string) Column { return Column{Name: name, Type: TypeNumber} }
	cat := func(name string, levels ...string) Column {
		return Column{Name: name, Type: TypeCategorical, Levels: levels}
	}
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tooMany := make([]Column, MaxColumns+1)
	for i := range tooMany {
		tooMany[i] = num(fmt.Sprintf("c%d", i))
	}
	tests := []struct {
		name string
		cols []Column
		want []string // each a substring of one problem, in order
	}{
		{"no columns", nil, []string{"no columns"}},
		{"too many columns", tooMany, []string{"513 columns, limit 512"}},
		{"bad name", []Column{num("1st")}, []string{`column 1: name "1st"`}},
		{"name too long", []Column{num("a" + strings.Repeat("b", 64))}, []string{"column 1: name"}},
		{"name with a dash", []Column{num("a-b")}, []string{`name "a-b"`}},
		{"keyword name", []Column{num("And")}, []string{`column "And": the name is a filter keyword`}},
		{"duplicate", []Column{num("a"), num("a")}, []string{`column "a": the name appears twice`}},
		{"unknown type", []Column{{Name: "a", Type: "string"}}, []string{`unknown type "string"`}},
		{"text not identifier", []Column{{Name: "a", Type: TypeText}}, []string{"type text is for identifier columns only"}},
		{"no levels", []Column{cat("a")}, []string{"at least one level"}},
		{"too many levels", []Column{cat("a", many(MaxLevels+1, func(i int) string { return fmt.Sprint(i) })...)}, []string{"1001 levels, limit 1000"}},
		{"empty level", []Column{cat("a", "x", "")}, []string{"level 2 is empty"}},
		{"NA level", []Column{cat("a", "NA")}, []string{"which means a missing value"}},
		{"long level", []Column{cat("a", strings.Repeat("x", MaxLevelBytes+1))}, []string{"level 1 is 129 bytes, limit 128"}},
		{"control in level", []Column{cat("a", "x\ny")}, []string{"level 1 is not printable UTF-8 text"}},
		{"bad UTF-8 level", []Column{cat("a", "x\xffy")}, []string{"level 1 is not printable UTF-8 text"}},
		{"spaced level", []Column{cat("a", " x")}, []string{`level " x" begins or ends with white space`}},
		{"duplicate level", []Column{cat("a", "x", "x")}, []string{`level "x" appears twice`}},
		{"levels of a number", []Column{{Name: "a", Type: TypeNumber, Levels: []string{"x"}}}, []string{"levels are for categorical columns only"}},
		{"long unit", []Column{{Name: "a", Type: TypeNumber, Unit: strings.Repeat("u", MaxUnitBytes+1)}}, []string{"unit: 65 bytes, limit 64"}},
		{"long description", []Column{{Name: "a", Type: TypeNumber, Description: strings.Repeat("d", MaxDescriptionBytes+1)}}, []string{"description: 1025 bytes"}},
		{"bad UTF-8 unit", []Column{{Name: "a", Type: TypeNumber, Unit: "\xff"}}, []string{"unit: not UTF-8 text"}},
		{"only identifiers", []Column{{Name: "id", Type: TypeInteger, Identifier: true}}, []string{"every column is an identifier"}},
		{"every problem listed", []Column{num("a"), num("a"), {Name: "b", Type: "x"}}, []string{"appears twice", `unknown type "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Dictionary{Columns: tt.cols}.Validate()
			var de *DictionaryError
			if !errors.As(err, &de) {
				t.Fatalf("Validate() = %v, want a *DictionaryError", err)
			}
			if len(de.Problems) != len(tt.want) {
				t.Fatalf("problems %q, want %d", de.Problems, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(de.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, de.Problems[i], w)
				}
			}
		})
	}
}

func TestDictionaryIdentifierOfAnyType(t *testing.T) {
	for _, typ := range []Type{TypeNumber, TypeInteger, TypeBoolean, TypeText} {
		d := Dictionary{Columns: []Column{{Name: "id", Type: typ, Identifier: true}, {Name: "x", Type: TypeNumber}}}
		if err := d.Validate(); err != nil {
			t.Errorf("identifier of type %s: %v", typ, err)
		}
	}
}

func TestDictionaryColumn(t *testing.T) {
	d := cohort()
	c, ok := d.Column("sex")
	if !ok || c.Type != TypeCategorical || c.Levels[0] != "F" {
		t.Errorf(`Column("sex") = %+v, %v`, c, ok)
	}
	if _, ok := d.Column("Sex"); ok {
		t.Error(`Column("Sex") found: names are case-sensitive`)
	}
}

func TestDictionaryJSONRoundTrip(t *testing.T) {
	raw, err := json.Marshal(cohort())
	if err != nil {
		t.Fatal(err)
	}
	var back Dictionary
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cohort()) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, cohort())
	}
	const wire = `{"columns":[{"name":"pid","type":"text","description":"patient number","identifier":true},`
	if !strings.HasPrefix(string(raw), wire) {
		t.Errorf("JSON = %s, want it to begin %s", raw, wire)
	}
}
