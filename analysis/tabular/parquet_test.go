package tabular

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

// pqCol is one column of a Parquet file a test writes: its name, its
// schema node, and a value per row (nil is a null; a parquet.Value is
// written as it is).
type pqCol struct {
	name   string
	node   parquet.Node
	values []any
}

// writeParquet writes a Parquet file of flat columns, a row group every
// groupRows rows (one row group if 0).
func writeParquet(t testing.TB, groupRows int, cols ...pqCol) []byte {
	t.Helper()
	group := parquet.Group{}
	for _, c := range cols {
		group[c.name] = c.node
	}
	schema := parquet.NewSchema("cohort", group)
	// The schema orders its columns by name.
	leaf := map[string]int{}
	for i, path := range schema.Columns() {
		leaf[path[0]] = i
	}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	row := make(parquet.Row, len(schema.Columns()))
	for r := range len(cols[0].values) {
		for _, c := range cols {
			i := leaf[c.name]
			def := 0
			if c.node.Optional() || c.node.Repeated() {
				def = 1
			}
			switch v := c.values[r].(type) {
			case nil:
				row[i] = parquet.NullValue().Level(0, 0, i)
			case parquet.Value:
				row[i] = v.Level(0, def, i)
			default:
				row[i] = parquet.ValueOf(v).Level(0, def, i)
			}
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
		if groupRows > 0 && (r+1)%groupRows == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func opt(n parquet.Node) parquet.Node { return parquet.Optional(n) }

func vals(v ...any) []any { return v }

// cohortParquet holds cohortCSV's data in two row groups, with a different
// Parquet type for each column and nulls where the CSV has empty or NA
// cells.
func cohortParquet(t testing.TB) []byte {
	return writeParquet(t, 4,
		pqCol{"pid", parquet.String(), vals("P1", "P2", "P3", "P4", "P5", "P6")},
		pqCol{"sex", opt(parquet.String()), vals("F", "M", "F", nil, "M", "F")},
		pqCol{"age", opt(parquet.Int(64)), vals(int64(34), int64(51), nil, int64(45), int64(62), int64(29))},
		pqCol{"bmi", opt(parquet.Leaf(parquet.DoubleType)), vals(22.5, 27.1, 31.0, 24.2, nil, 20.9)},
		pqCol{"region", parquet.Enum(), vals("FR", "DE", "CH", "LU", "FR", "DE")},
		pqCol{"smoker", opt(parquet.Leaf(parquet.BooleanType)), vals(false, true, true, false, true, nil)},
		pqCol{"sbp", opt(parquet.Leaf(parquet.FloatType)), vals(float32(120), float32(135.5), nil, float32(128), float32(142), float32(118))},
	)
}

// sameTable compares two tables' rows and every column's values.
func sameTable(t *testing.T, got, want *Table) {
	t.Helper()
	if got.Rows() != want.Rows() {
		t.Fatalf("%d rows, want %d", got.Rows(), want.Rows())
	}
	if !reflect.DeepEqual(got.Dictionary(), want.Dictionary()) {
		t.Errorf("dictionary %+v, want %+v", got.Dictionary(), want.Dictionary())
	}
	for _, c := range want.Dictionary().Columns {
		switch {
		case c.Identifier:
			if col := got.cols[got.index[c.Name]]; col.nums != nil || col.codes != nil {
				t.Errorf("the identifier column %s holds values", c.Name)
			}
		case c.Type == TypeCategorical:
			g, _, err := got.Codes(c.Name)
			w, _, _ := want.Codes(c.Name)
			if err != nil || !reflect.DeepEqual(g, w) {
				t.Errorf("Codes(%s) = %v, %v, want %v", c.Name, g, err, w)
			}
		default:
			g, err := got.Numbers(c.Name)
			w, _ := want.Numbers(c.Name)
			if err != nil || !sameFloats(g, w) {
				t.Errorf("Numbers(%s) = %v, %v, want %v", c.Name, g, err, w)
			}
		}
	}
}

func TestReadParquetCohort(t *testing.T) {
	raw := cohortParquet(t)
	got, err := ReadParquet(bytes.NewReader(raw), int64(len(raw)), cohort())
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, readCohort(t))
}

// The wide round trip's rows, written to Parquet a row group every 1,000
// rows, read as their CSV is.
func TestReadParquetWide(t *testing.T) {
	const n = 5000
	raw, nums, codes := wideCSV(n, 3)
	want, err := ReadCSV(bytes.NewReader(raw), wideDictionary())
	if err != nil {
		t.Fatal(err)
	}
	pq := wideParquet(t, n, nums, codes, 1000)
	got, err := ReadParquet(bytes.NewReader(pq), int64(len(pq)), wideDictionary())
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, want)
}

// wideParquet writes wideCSV's values to Parquet, nulls where missing.
func wideParquet(t testing.TB, n int, nums map[string][]float64, codes map[string][]int32, groupRows int) []byte {
	var cols []pqCol
	for _, c := range wideDictionary().Columns {
		values := make([]any, n)
		var node parquet.Node
		switch c.Type {
		case TypeText:
			node = parquet.String()
			for i := range values {
				values[i] = "P" + string(rune('0'+i%10))
			}
		case TypeCategorical:
			node = opt(parquet.String())
			for i, code := range codes[c.Name] {
				if code >= 0 {
					values[i] = c.Levels[code]
				}
			}
		case TypeInteger:
			node = opt(parquet.Int(32))
			for i, v := range nums[c.Name] {
				if !math.IsNaN(v) {
					values[i] = int32(v)
				}
			}
		case TypeBoolean:
			node = opt(parquet.Leaf(parquet.BooleanType))
			for i, v := range nums[c.Name] {
				if !math.IsNaN(v) {
					values[i] = v == 1
				}
			}
		default:
			node = opt(parquet.Leaf(parquet.DoubleType))
			for i, v := range nums[c.Name] {
				if !math.IsNaN(v) {
					values[i] = v
				}
			}
		}
		cols = append(cols, pqCol{c.Name, node, values})
	}
	return writeParquet(t, groupRows, cols...)
}

// Every Parquet type that fits a dictionary type, read as the CSV cells of
// the same values.
func TestReadParquetTypes(t *testing.T) {
	dec := func(scale, precision int, typ parquet.Type) parquet.Node {
		return opt(parquet.Decimal(scale, precision, typ))
	}
	tests := []struct {
		name string
		typ  Type
		node parquet.Node
		in   []any
		csv  string // the same values as CSV cells, one a line
	}{
		{"number from int32", TypeNumber, opt(parquet.Int(32)), vals(int32(-7), nil, int32(math.MaxInt32)), "-7\n\n2147483647"},
		{"number from int64", TypeNumber, parquet.Int(64), vals(int64(1), int64(math.MinInt64)), "1\n-9223372036854775808"},
		{"number from plain int64", TypeNumber, parquet.Leaf(parquet.Int64Type), vals(int64(12)), "12"},
		{"number from uint32", TypeNumber, parquet.Uint(32), vals(uint32(math.MaxUint32)), "4294967295"},
		{"number from uint64", TypeNumber, parquet.Uint(64), vals(uint64(math.MaxUint64)), "18446744073709551615"},
		{"number from int8", TypeNumber, parquet.Int(8), vals(int32(-3)), "-3"},
		{"number from float", TypeNumber, parquet.Leaf(parquet.FloatType), vals(float32(0.25), float32(-1e30)), "0.25\n" + "-1.0000000150474662e+30"},
		{"number from double", TypeNumber, opt(parquet.Leaf(parquet.DoubleType)), vals(1.5, nil, -2e300), "1.5\nNA\n-2e300"},
		{"number from decimal int32", TypeNumber, dec(2, 9, parquet.Int32Type), vals(int32(12345), nil, int32(-5)), "123.45\n\n-0.05"},
		{"number from decimal int64", TypeNumber, dec(3, 18, parquet.Int64Type), vals(int64(1500)), "1.5"},
		{"integer from int32", TypeInteger, opt(parquet.Int(32)), vals(int32(-40), nil), "-40\n"},
		{"integer from int64", TypeInteger, parquet.Int(64), vals(int64(maxInteger), int64(-maxInteger)), "9007199254740992\n-9007199254740992"},
		{"integer from uint64", TypeInteger, parquet.Uint(64), vals(uint64(maxInteger)), "9007199254740992"},
		{"integer from double", TypeInteger, parquet.Leaf(parquet.DoubleType), vals(3.0, -1e15), "3\n-1000000000000000"},
		{"integer from float", TypeInteger, parquet.Leaf(parquet.FloatType), vals(float32(1024)), "1024"},
		{"integer from whole decimal", TypeInteger, dec(2, 9, parquet.Int32Type), vals(int32(300)), "3"},
		{"boolean", TypeBoolean, opt(parquet.Leaf(parquet.BooleanType)), vals(true, false, nil), "true\nfalse\n"},
		{"boolean from int32", TypeBoolean, opt(parquet.Int(32)), vals(int32(1), int32(0), nil), "1\n0\nNA"},
		{"boolean from int64", TypeBoolean, parquet.Leaf(parquet.Int64Type), vals(int64(0), int64(1)), "0\n1"},
		{"categorical from string", TypeCategorical, opt(parquet.String()), vals("a b", nil, "é", " a b\t", "", "NA"), "a b\n\né\n a b\t\n\nNA"},
		{"categorical from bytes", TypeCategorical, parquet.Leaf(parquet.ByteArrayType), vals([]byte("é")), "é"},
		{"categorical from enum", TypeCategorical, opt(parquet.Enum()), vals("a b", nil), "a b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := Column{Name: "x", Type: tt.typ}
			if tt.typ == TypeCategorical {
				col.Levels = []string{"a b", "é"}
			}
			// An identifier of a type no analysable column takes.
			d := Dictionary{Columns: []Column{{Name: "id", Type: TypeText, Identifier: true}, col}}
			ids := make([]any, len(tt.in))
			for i := range ids {
				ids[i] = parquet.Int96Value(deprecated.Int96{uint32(i), 0, 0})
			}
			raw := writeParquet(t, 2, pqCol{"x", tt.node, tt.in}, pqCol{"id", parquet.Leaf(parquet.Int96Type), ids})
			got, err := ReadParquet(bytes.NewReader(raw), int64(len(raw)), d)
			if err != nil {
				t.Fatal(err)
			}
			cells := strings.Split(tt.csv, "\n")
			var csv strings.Builder
			csv.WriteString("x,id\n")
			for i, c := range cells {
				csv.WriteString(`"` + c + `",` + string(rune('a'+i)) + "\n")
			}
			want, err := ReadCSV(strings.NewReader(csv.String()), d)
			if err != nil {
				t.Fatal(err)
			}
			sameTable(t, got, want)
		})
	}
}

func TestReadParquetEmpty(t *testing.T) {
	raw := writeParquet(t, 0, pqCol{"x", opt(parquet.Leaf(parquet.DoubleType)), nil})
	d := Dictionary{Columns: []Column{{Name: "x", Type: TypeNumber}}}
	tb, err := ReadParquet(bytes.NewReader(raw), int64(len(raw)), d)
	if err != nil || tb.Rows() != 0 {
		t.Fatalf("a file without rows: %v, %v", tb, err)
	}
	if x, _ := tb.Numbers("x"); len(x) != 0 {
		t.Errorf("Numbers(x) = %v", x)
	}
}

// renamed is a Parquet file whose column dupb is renamed dupa: Parquet
// writers keep names unique, a damaged or crafted file need not.
func renamed(t testing.TB) []byte {
	raw := writeParquet(t, 0,
		pqCol{"dupa", parquet.Leaf(parquet.DoubleType), vals(1.0)},
		pqCol{"dupb", parquet.Leaf(parquet.DoubleType), vals(2.0)})
	return bytes.ReplaceAll(raw, []byte("dupb"), []byte("dupa"))
}

func TestReadParquetErrors(t *testing.T) {
	d := Dictionary{Columns: []Column{
		{Name: "id", Type: TypeText, Identifier: true},
		{Name: "n", Type: TypeNumber},
		{Name: "i", Type: TypeInteger},
		{Name: "b", Type: TypeBoolean},
		{Name: "c", Type: TypeCategorical, Levels: []string{"x", "y"}},
	}}
	// file writes one column of each name, a row group every two rows;
	// change replaces or adds columns.
	file := func(change ...pqCol) []byte {
		cols := []pqCol{
			{"id", parquet.String(), vals("a", "b", "c")},
			{"n", opt(parquet.Leaf(parquet.DoubleType)), vals(1.5, 2.5, 3.5)},
			{"i", opt(parquet.Int(64)), vals(int64(1), int64(2), int64(3))},
			{"b", opt(parquet.Leaf(parquet.BooleanType)), vals(true, false, true)},
			{"c", opt(parquet.String()), vals("x", "y", "x")},
		}
		for _, ch := range change {
			found := false
			for i := range cols {
				if cols[i].name == ch.name {
					cols[i], found = ch, true
				}
			}
			if !found {
				cols = append(cols, ch)
			}
		}
		return writeParquet(t, 2, cols...)
	}
	nan, inf := math.NaN(), math.Inf(-1)
	tests := []struct {
		name    string
		raw     []byte
		lim     Limits
		csv     string // the same problem's CSV, whose error must be the same; "" if none
		line    int
		column  string
		problem string
	}{
		{"extra column", file(pqCol{"w", parquet.String(), vals("x", "y", "z")}), Limits{}, "id,n,i,b,c,w\n", 1, "w", "the file has a column the dictionary does not have"},
		{"nested column", file(pqCol{"n", parquet.Group{"v": parquet.Leaf(parquet.DoubleType)}, vals(nil, nil, nil)}), Limits{}, "", 1, "n", "a nested column"},
		{"repeated column", file(pqCol{"n", parquet.Repeated(parquet.Leaf(parquet.DoubleType)), vals(1.0, 2.0, 3.0)}), Limits{}, "", 1, "n", "a repeated column"},
		{"string for number", file(pqCol{"n", parquet.String(), vals("1", "2", "3")}), Limits{}, "", 1, "n", "the file's type STRING does not fit the dictionary's type number"},
		{"boolean for integer", file(pqCol{"i", parquet.Leaf(parquet.BooleanType), vals(true, true, true)}), Limits{}, "", 1, "i", "BOOLEAN does not fit the dictionary's type integer"},
		{"double for boolean", file(pqCol{"b", parquet.Leaf(parquet.DoubleType), vals(1.0, 0.0, 1.0)}), Limits{}, "", 1, "b", "DOUBLE does not fit the dictionary's type boolean"},
		{"decimal for boolean", file(pqCol{"b", parquet.Decimal(0, 9, parquet.Int32Type), vals(int32(1), int32(0), int32(1))}), Limits{}, "", 1, "b", "does not fit the dictionary's type boolean"},
		{"int for categorical", file(pqCol{"c", parquet.Int(32), vals(int32(0), int32(1), int32(0))}), Limits{}, "", 1, "c", "does not fit the dictionary's type categorical"},
		{"json for categorical", file(pqCol{"c", parquet.JSON(), vals(`"x"`, `"y"`, `"x"`)}), Limits{}, "", 1, "c", "JSON does not fit"},
		{"timestamp for number", file(pqCol{"n", parquet.Timestamp(parquet.Millisecond), vals(int64(1), int64(2), int64(3))}), Limits{}, "", 1, "n", "TIMESTAMP"},
		{"date for integer", file(pqCol{"i", parquet.Date(), vals(int32(1), int32(2), int32(3))}), Limits{}, "", 1, "i", "DATE does not fit"},
		{"int96 for number", file(pqCol{"n", parquet.Leaf(parquet.Int96Type), vals(parquet.Int96Value(deprecated.Int96{1}), parquet.Int96Value(deprecated.Int96{2}), parquet.Int96Value(deprecated.Int96{3}))}), Limits{}, "", 1, "n", "INT96 does not fit"},
		{"decimal in bytes for number", file(pqCol{"n", parquet.Decimal(2, 20, parquet.FixedLenByteArrayType(9)), vals(fixed(9), fixed(9), fixed(9))}), Limits{}, "", 1, "n", "DECIMAL"},
		{"NaN", file(pqCol{"n", parquet.Leaf(parquet.DoubleType), vals(1.0, 2.0, nan)}), Limits{}, "", 4, "n", "NaN is not a finite number"},
		{"infinity", file(pqCol{"n", parquet.Leaf(parquet.FloatType), vals(float32(inf), float32(1), float32(1))}), Limits{}, "", 2, "n", "-Inf is not a finite number"},
		{"not whole", file(pqCol{"i", parquet.Leaf(parquet.DoubleType), vals(1.0, 2.0, 2.5)}), Limits{}, "id,n,i,b,c\na,1.5,1,true,x\nb,2.5,2,false,y\nc,3.5,2.5,true,x\n", 4, "i", "2.5 is not a whole number"},
		{"not whole decimal", file(pqCol{"i", parquet.Decimal(1, 9, parquet.Int32Type), vals(int32(10), int32(25), int32(30))}), Limits{}, "", 3, "i", "2.5 is not a whole number"},
		{"integer too large", file(pqCol{"i", parquet.Int(64), vals(int64(1), int64(maxInteger+1), int64(3))}), Limits{}, "id,n,i,b,c\na,1.5,1,true,x\nb,2.5,9007199254740993,false,y\n", 3, "i", "9007199254740993 is beyond ±2^53"},
		{"unsigned too large", file(pqCol{"i", parquet.Uint(64), vals(uint64(1), uint64(2), uint64(math.MaxUint64))}), Limits{}, "", 4, "i", "18446744073709551615 is beyond ±2^53"},
		{"double too large", file(pqCol{"i", parquet.Leaf(parquet.DoubleType), vals(1e16, 2.0, 3.0)}), Limits{}, "", 2, "i", "1e+16 is beyond ±2^53"},
		{"not a boolean", file(pqCol{"b", parquet.Int(32), vals(int32(1), int32(2), int32(0))}), Limits{}, "", 3, "b", "2 is not a boolean (0 or 1)"},
		{"not a level", file(pqCol{"c", opt(parquet.String()), vals("x", nil, "z")}), Limits{}, "id,n,i,b,c\na,1.5,1,true,x\nb,2.5,2,false,\nc,3.5,3,true,z\n", 4, "c", `"z" is not one of the column's levels`},
		{"level in the wrong case", file(pqCol{"c", parquet.String(), vals("X", "y", "x")}), Limits{}, "", 2, "c", "not one of the column's levels"},
		{"string too long", file(pqCol{"c", parquet.String(), vals("x", "y", strings.Repeat("x", 20))}), Limits{MaxFieldBytes: 16}, "", 4, "c", "a cell of 20 bytes, limit 16"},
		{"too many rows", file(), Limits{MaxRows: 2}, "id,n,i,b,c\na,1.5,1,true,x\nb,2.5,2,false,y\nc,3.5,3,true,x\n", 4, "", "more than 2 rows"},
		{"empty file", nil, Limits{}, "", 0, "", "not a valid Parquet file"},
		{"not Parquet", []byte("id,n,i,b,c\n"), Limits{}, "", 0, "", "not a valid Parquet file"},
		{"truncated", file()[:len(file())-20], Limits{}, "", 0, "", "not a valid Parquet file"},
		{"damaged pages", damaged(file()), Limits{}, "", 0, "", "not a valid Parquet file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadParquetLimits(bytes.NewReader(tt.raw), int64(len(tt.raw)), d, tt.lim)
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a *ReadError", err)
			}
			if re.Line != tt.line || re.Column != tt.column || !strings.Contains(re.Problem, tt.problem) {
				t.Errorf("error %+v, want line %d, column %q, a problem with %q", re, tt.line, tt.column, tt.problem)
			}
			if tt.csv == "" {
				return
			}
			_, cerr := ReadCSVLimits(strings.NewReader(tt.csv), d, tt.lim)
			var ce *ReadError
			if !errors.As(cerr, &ce) || ce.Line != re.Line || ce.Column != re.Column {
				t.Errorf("the same data as CSV: %v, as Parquet: %v", cerr, err)
			}
		})
	}
}

// fixed is a fixed-length byte array value of n bytes.
func fixed(n int) parquet.Value {
	return parquet.FixedLenByteArrayValue(make([]byte, n))
}

// damaged overwrites the file's column data, between its leading magic
// bytes and its footer, with bytes no page header starts with.
func damaged(raw []byte) []byte {
	out := bytes.Clone(raw)
	footer := int(out[len(out)-8]) | int(out[len(out)-7])<<8 | int(out[len(out)-6])<<16
	for i := 4; i < len(out)-8-footer; i++ {
		out[i] = 0xff
	}
	return out
}

// A file naming a column of the dictionary twice.
func TestReadParquetColumnTwice(t *testing.T) {
	raw := renamed(t)
	d := Dictionary{Columns: []Column{{Name: "dupa", Type: TypeNumber}}}
	_, err := ReadParquet(bytes.NewReader(raw), int64(len(raw)), d)
	var re *ReadError
	if !errors.As(err, &re) || re.Line != 1 || re.Column != "dupa" || !strings.Contains(re.Problem, "the file has the column twice") {
		t.Errorf("error %v, want a *ReadError at line 1 naming dupa twice", err)
	}
}

func TestReadParquetMissingColumn(t *testing.T) {
	raw := writeParquet(t, 0, pqCol{"x", parquet.Leaf(parquet.DoubleType), vals(1.0)})
	d := Dictionary{Columns: []Column{{Name: "x", Type: TypeNumber}, {Name: "y", Type: TypeNumber}}}
	_, err := ReadParquet(bytes.NewReader(raw), int64(len(raw)), d)
	var re *ReadError
	if !errors.As(err, &re) || re.Line != 1 || re.Column != "y" || !strings.Contains(re.Problem, "the file lacks a column of the dictionary") {
		t.Errorf("error %v, want a *ReadError at line 1 naming y", err)
	}
}

func TestReadParquetBadDictionary(t *testing.T) {
	raw := cohortParquet(t)
	_, err := ReadParquet(bytes.NewReader(raw), int64(len(raw)), Dictionary{})
	var de *DictionaryError
	if !errors.As(err, &de) {
		t.Errorf("error %v, want a *DictionaryError", err)
	}
}

func TestReadParquetBadSize(t *testing.T) {
	raw := cohortParquet(t)
	for _, size := range []int64{-1, 0, 7, int64(len(raw)) - 1, int64(len(raw)) + 1} {
		_, err := ReadParquet(bytes.NewReader(raw), size, cohort())
		var re *ReadError
		if !errors.As(err, &re) || re.Line != 0 {
			t.Errorf("size %d: error %v, want a *ReadError for the file", size, err)
		}
	}
}

// failingReaderAt fails every read past a point.
type failingReaderAt struct {
	r     io.ReaderAt
	after int64
	err   error
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.after {
		return 0, f.err
	}
	return f.r.ReadAt(p, off)
}

// A reader that fails is the node's problem, not the file's: its error
// comes back, not a *ReadError.
func TestReadParquetReaderError(t *testing.T) {
	raw := cohortParquet(t)
	boom := errors.New("disk gone")
	for _, after := range []int64{0, 100, int64(len(raw)) - 100} {
		r := failingReaderAt{r: bytes.NewReader(raw), after: after, err: boom}
		_, err := ReadParquet(r, int64(len(raw)), cohort())
		var re *ReadError
		if !errors.Is(err, boom) || errors.As(err, &re) {
			t.Errorf("failing after %d bytes: error %v, want the reader's", after, err)
		}
	}
}

// panicking is a damaged file (found by FuzzReadParquet) on which
// parquet-go v0.32.1 panics while it reads the schema.
const panicking = "PAR1\x150\x150\x150\x15\x150\x19<H\x06000000\x1510(\x0200(\x0017000000001,,1111000\x150\x15\xc00(\x008\x030000\x160\x19\x1c\x19,&0,1118 000000000000000000000000000000001,118\x0008\x0001111118\x02000&0,700000000700000000$\xc80$\x800,8 0000000000000000000000000000000018\x0008\x000111C018\x02000\x16\xc00\x16070000000009)\x18 00000000000000000000000000000000\x19a0000000\x05\x01\x00\x00PAR1"

// A panic while reading is a file that is not valid Parquet.
func TestReadParquetRecoversPanic(t *testing.T) {
	_, err := ReadParquet(strings.NewReader(panicking), int64(len(panicking)), cohort())
	var re *ReadError
	if !errors.As(err, &re) || re.Line != 0 || !strings.HasPrefix(re.Problem, "not a valid Parquet file: ") {
		t.Errorf("error %v, want a *ReadError saying the file is not valid Parquet", err)
	}
	t.Log(err)
}

// damagedFiles are files (found by FuzzReadParquet) whose page headers
// claim a page of 1.8 GB, or statistics of as many bytes: parquet-go would
// allocate that much before it found the bytes missing.
var damagedFiles = []string{"testdata/damaged-page-size.parquet", "testdata/damaged-page-statistics.parquet"}

func TestReadParquetDamagedHeaders(t *testing.T) {
	for _, name := range damagedFiles {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = ReadParquet(bytes.NewReader(raw), int64(len(raw)), cohort())
		runtime.ReadMemStats(&after)
		var re *ReadError
		if !errors.As(err, &re) || re.Line != 0 || !strings.Contains(re.Problem, `not a valid Parquet file: column "age"`) {
			t.Errorf("%s: error %v, want a *ReadError saying the file is not valid Parquet", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: %d bytes allocated to refuse a file of %d bytes", name, n, len(raw))
		}
	}
}

func TestRead(t *testing.T) {
	csv := []byte(cohortCSV)
	pq := cohortParquet(t)
	want := readCohort(t)
	for _, tt := range []struct {
		media string
		raw   []byte
	}{
		{"text/csv", csv}, {"text/csv; charset=utf-8", csv}, {"application/csv", csv}, {"text/plain; charset=utf-8", csv}, {"", csv},
		{"application/vnd.apache.parquet", pq}, {"Application/X-Parquet", pq},
	} {
		got, err := Read(bytes.NewReader(tt.raw), int64(len(tt.raw)), tt.media, cohort())
		if err != nil {
			t.Errorf("%q: %v", tt.media, err)
			continue
		}
		sameTable(t, got, want)
	}
	// Parquet named CSV is not read as Parquet, nor the reverse.
	var re *ReadError
	if _, err := Read(bytes.NewReader(pq), int64(len(pq)), "text/csv", cohort()); !errors.As(err, &re) {
		t.Errorf("Parquet as CSV: %v, want a *ReadError", err)
	}
	if _, err := Read(bytes.NewReader(csv), int64(len(csv)), MediaTypeParquet, cohort()); !errors.As(err, &re) {
		t.Errorf("CSV as Parquet: %v, want a *ReadError", err)
	}
	for _, media := range []string{"application/json", "application/octet-stream", "text/", "text/csv; charset"} {
		_, err := Read(bytes.NewReader(csv), int64(len(csv)), media, cohort())
		var me *MediaTypeError
		if !errors.As(err, &me) || me.MediaType != media || !strings.Contains(err.Error(), MediaTypeParquet) {
			t.Errorf("%q: error %v, want a *MediaTypeError naming the readable types", media, err)
		}
	}
}

// FuzzReadParquet: no file panics, and a file that reads is a table whose
// every column has a value per row.
func FuzzReadParquet(f *testing.F) {
	f.Add(cohortParquet(f))
	f.Add(writeParquet(f, 0, pqCol{"age", parquet.Decimal(1, 9, parquet.Int32Type), vals(int32(345))},
		pqCol{"pid", parquet.Leaf(parquet.Int96Type), vals(parquet.Int96Value(deprecated.Int96{1}))}))
	f.Add([]byte(panicking))
	for _, name := range damagedFiles {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	d := cohort()
	small := Dictionary{Columns: []Column{{Name: "pid", Type: TypeText, Identifier: true}, {Name: "age", Type: TypeInteger}}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, d := range []Dictionary{d, small} {
			tb, err := ReadParquetLimits(bytes.NewReader(raw), int64(len(raw)), d, Limits{MaxRows: 100_000})
			if err != nil {
				var re *ReadError
				if !errors.As(err, &re) {
					t.Fatalf("error %v, want a *ReadError", err)
				}
				continue
			}
			for _, c := range d.Columns {
				var n int
				switch {
				case c.Identifier:
					continue
				case c.Type == TypeCategorical:
					codes, _, _ := tb.Codes(c.Name)
					n = len(codes)
				default:
					nums, _ := tb.Numbers(c.Name)
					n = len(nums)
				}
				if n != tb.Rows() {
					t.Fatalf("column %s has %d values, the table %d rows", c.Name, n, tb.Rows())
				}
			}
		}
	})
}
