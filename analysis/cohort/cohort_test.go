package cohort

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/xborder/xborder/analysis/tabular"
)

// A cohort's Parquet file is its CSV file's table.
func TestGenerateParquetIsTheCSVTable(t *testing.T) {
	const n = 2*ParquetRowGroupRows + 17
	d := Dictionary()
	want, err := tabular.ReadCSV(bytes.NewReader(Generate("de-bw", n, 3)), d)
	if err != nil {
		t.Fatal(err)
	}
	raw := GenerateParquet("de-bw", n, 3)
	got, err := tabular.ReadParquet(bytes.NewReader(raw), int64(len(raw)), d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows() != n || want.Rows() != n {
		t.Fatalf("%d rows from Parquet, %d from CSV, want %d", got.Rows(), want.Rows(), n)
	}
	for _, c := range d.Columns {
		switch {
		case c.Identifier:
		case c.Type == tabular.TypeCategorical:
			g, _, _ := got.Codes(c.Name)
			w, _, _ := want.Codes(c.Name)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s differs", c.Name)
			}
		default:
			g, _ := got.Numbers(c.Name)
			w, _ := want.Numbers(c.Name)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s differs", c.Name)
			}
		}
	}
}
