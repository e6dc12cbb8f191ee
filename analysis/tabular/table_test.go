package tabular

import (
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadCSV(t *testing.T) {
	tb := readCohort(t)
	if tb.Rows() != 6 {
		t.Fatalf("Rows() = %d, want 6", tb.Rows())
	}
	nan := math.NaN()
	wantNums := map[string][]float64{
		"age":    {34, 51, nan, 45, 62, 29},
		"bmi":    {22.5, 27.1, 31, 24.2, nan, 20.9},
		"smoker": {0, 1, 1, 0, 1, nan},
		"sbp":    {120, 135.5, nan, 128, 142, 118},
	}
	for name, want := range wantNums {
		got, err := tb.Numbers(name)
		if err != nil {
			t.Fatalf("Numbers(%q): %v", name, err)
		}
		if !sameFloats(got, want) {
			t.Errorf("Numbers(%q) = %v, want %v", name, got, want)
		}
	}
	codes, levels, err := tb.Codes("sex")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{0, 1, 0, -1, 1, 0}; !reflect.DeepEqual(codes, want) {
		t.Errorf("Codes(sex) = %v, want %v", codes, want)
	}
	if !reflect.DeepEqual(levels, []string{"F", "M"}) {
		t.Errorf("levels of sex = %v", levels)
	}
	codes, _, _ = tb.Codes("region")
	if want := []int32{0, 1, 2, 3, 0, 1}; !reflect.DeepEqual(codes, want) {
		t.Errorf("Codes(region) = %v, want %v", codes, want)
	}
	if !reflect.DeepEqual(tb.Dictionary(), cohort()) {
		t.Error("Dictionary() is not the dictionary the table was read against")
	}
}

// The accessors hand out copies: a caller cannot change the table.
func TestTableAccessorsCopy(t *testing.T) {
	tb := readCohort(t)
	ages, _ := tb.Numbers("age")
	ages[0] = -1
	codes, levels, _ := tb.Codes("sex")
	codes[0], levels[0] = 7, "X"
	if again, _ := tb.Numbers("age"); again[0] != 34 {
		t.Error("Numbers returned the table's storage")
	}
	if again, lv, _ := tb.Codes("sex"); again[0] != 0 || lv[0] != "F" {
		t.Error("Codes returned the table's storage")
	}
}

func TestTableAccessorErrors(t *testing.T) {
	tb := readCohort(t)
	tests := []struct {
		name, column string
		codes        bool
		want         error
	}{
		{"identifier numbers", "pid", false, ErrIdentifier},
		{"identifier codes", "pid", true, ErrIdentifier},
		{"unknown", "weight", false, ErrUnknownColumn},
		{"numbers of categorical", "sex", false, ErrColumnType},
		{"codes of number", "age", true, ErrColumnType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.codes {
				_, _, err = tb.Codes(tt.column)
			} else {
				_, err = tb.Numbers(tt.column)
			}
			var ce *ColumnError
			if !errors.As(err, &ce) || ce.Column != tt.column || !errors.Is(err, tt.want) {
				t.Errorf("error %v, want a *ColumnError naming %q wrapping %v", err, tt.column, tt.want)
			}
		})
	}
}

// The identifier column's values are validated but not kept.
func TestIdentifierNotKept(t *testing.T) {
	tb := readCohort(t)
	pos := tb.index["pid"]
	if c := tb.cols[pos]; c.nums != nil || c.codes != nil {
		t.Errorf("the identifier column holds %v %v", c.nums, c.codes)
	}
	d := Dictionary{Columns: []Column{{Name: "id", Type: TypeInteger, Identifier: true}, {Name: "x", Type: TypeNumber}}}
	_, err := ReadCSV(strings.NewReader("id,x\n12,1\nA7,2\n"), d)
	var re *ReadError
	if !errors.As(err, &re) || re.Line != 3 || re.Column != "id" {
		t.Errorf("a bad identifier: %v, want a *ReadError at line 3, column id", err)
	}
}

func TestReadCSVCells(t *testing.T) {
	d := Dictionary{Columns: []Column{
		{Name: "n", Type: TypeNumber},
		{Name: "i", Type: TypeInteger},
		{Name: "b", Type: TypeBoolean},
		{Name: "c", Type: TypeCategorical, Levels: []string{"a b", "é"}},
	}}
	// A byte order mark, white space around cells and header names, quoted
	// cells, CRLF line ends.
	in := "\ufeffn, i ,b,c\r\n 1.5 ,3.0,TRUE,\"a b\"\r\n-2e3,1e3,No,é\r\n\"\",-9007199254740992,YES, NA \r\n"
	tb, err := ReadCSV(strings.NewReader(in), d)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := tb.Numbers("n")
	i, _ := tb.Numbers("i")
	b, _ := tb.Numbers("b")
	c, _, _ := tb.Codes("c")
	if !sameFloats(n, []float64{1.5, -2000, math.NaN()}) || !sameFloats(i, []float64{3, 1000, -(1 << 53)}) ||
		!sameFloats(b, []float64{1, 0, 1}) || !reflect.DeepEqual(c, []int32{0, 1, -1}) {
		t.Errorf("n %v, i %v, b %v, c %v", n, i, b, c)
	}
	empty, err := ReadCSV(strings.NewReader("c,b,i,n\n"), d)
	if err != nil || empty.Rows() != 0 {
		t.Errorf("a header alone: %v rows, %v", empty, err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	d := Dictionary{Columns: []Column{
		{Name: "id", Type: TypeText, Identifier: true},
		{Name: "n", Type: TypeNumber},
		{Name: "i", Type: TypeInteger},
		{Name: "b", Type: TypeBoolean},
		{Name: "c", Type: TypeCategorical, Levels: []string{"x", "y"}},
	}}
	const header = "id,n,i,b,c\n"
	tests := []struct {
		name    string
		in      string
		lim     Limits
		line    int
		column  string
		problem string
	}{
		{"empty file", "", Limits{}, 1, "", "no header row"},
		{"missing column", "id,n,i,b\n", Limits{}, 1, "c", "the header lacks a column"},
		{"extra column", "id,n,i,b,c,d\n", Limits{}, 1, "d", "a column the dictionary does not have"},
		{"column twice", "id,n,i,b,n\n", Limits{}, 1, "n", "names the column twice"},
		{"wrong case", "id,N,i,b,c\n", Limits{}, 1, "N", "does not have"},
		{"short row", header + "a,1,2,true,x\nb,1,2\n", Limits{}, 3, "", "3 columns, the header has 5"},
		{"long row", header + "a,1,2,true,x,z\n", Limits{}, 2, "", "6 columns, the header has 5"},
		{"not a number", header + "a,abc,1,true,x\n", Limits{}, 2, "n", `"abc" is not a number`},
		{"NaN text", header + "a,NaN,1,true,x\n", Limits{}, 2, "n", "not a finite number"},
		{"Inf text", header + "a,-Inf,1,true,x\n", Limits{}, 2, "n", "not a finite number"},
		{"number out of range", header + "a,1e999,1,true,x\n", Limits{}, 2, "n", "out of range"},
		{"not whole", header + "a,1,2.5,true,x\n", Limits{}, 2, "i", `"2.5" is not a whole number`},
		{"integer text", header + "a,1,two,true,x\n", Limits{}, 2, "i", `"two" is not a number`},
		{"integer too large", header + "a,1,9007199254740993,true,x\n", Limits{}, 2, "i", "beyond ±2^53"},
		{"float integer too large", header + "a,1,1e16,true,x\n", Limits{}, 2, "i", "beyond ±2^53"},
		{"not a boolean", header + "a,1,2,maybe,x\n", Limits{}, 2, "b", `"maybe" is not a boolean`},
		{"not a level", header + "a,1,2,true,z\n", Limits{}, 2, "c", `"z" is not one of the column's levels`},
		{"level in the wrong case", header + "a,1,2,true,X\n", Limits{}, 2, "c", "not one of the column's levels"},
		{"bad quote", header + "a,\"1\"x,2,true,x\n", Limits{}, 2, "", "extraneous or missing"},
		{"too many rows", header + "a,1,2,true,x\nb,1,2,true,x\nc,1,2,true,x\n", Limits{MaxRows: 2}, 4, "", "more than 2 rows"},
		{"cell too long", header + "a,1,2,true," + strings.Repeat("x", 20) + "\n", Limits{MaxFieldBytes: 16}, 2, "c", "a cell of 20 bytes, limit 16"},
		{"record too long", header + "a,1,2,true,\"" + strings.Repeat("x\n", 80<<10), Limits{MaxFieldBytes: 16}, 2, "", "a record longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSVLimits(strings.NewReader(tt.in), d, tt.lim)
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a *ReadError", err)
			}
			if re.Line != tt.line || re.Column != tt.column || !strings.Contains(re.Problem, tt.problem) {
				t.Errorf("error %+v, want line %d, column %q, a problem with %q", re, tt.line, tt.column, tt.problem)
			}
		})
	}
}

func TestReadCSVBadDictionary(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("a\n1\n"), Dictionary{})
	var de *DictionaryError
	if !errors.As(err, &de) {
		t.Errorf("error %v, want a *DictionaryError", err)
	}
}

func TestReadCSVReaderError(t *testing.T) {
	boom := errors.New("disk gone")
	r := io.MultiReader(strings.NewReader("pid,sex,age,bmi,region,smoker,sbp\n"), iotest.ErrReader(boom))
	if _, err := ReadCSV(r, cohort()); !errors.Is(err, boom) {
		t.Errorf("error %v, want the reader's", err)
	}
}

// sameFloats compares with NaN equal to NaN.
func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}
