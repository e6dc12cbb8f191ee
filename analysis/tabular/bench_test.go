package tabular

import (
	"bytes"
	"sync"
	"testing"
)

const benchRows = 1_000_000

var benchData = sync.OnceValue(func() []byte {
	raw, _, _ := wideCSV(benchRows, 1)
	return raw
})

// benchParquet is benchData's rows as Parquet, a row group every 100,000
// rows.
func benchParquet(b *testing.B) []byte {
	_, nums, codes := wideCSV(benchRows, 1)
	return wideParquet(b, benchRows, nums, codes, 100_000)
}

// BenchmarkReadCSV reads 1,000,000 rows of 12 columns (an identifier, six
// numeric, three categorical, two boolean).
func BenchmarkReadCSV(b *testing.B) {
	raw := benchData()
	d := wideDictionary()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadCSV(bytes.NewReader(raw), d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadParquet reads BenchmarkReadCSV's rows from Parquet.
func BenchmarkReadParquet(b *testing.B) {
	raw := benchParquet(b)
	d := wideDictionary()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadParquet(bytes.NewReader(raw), int64(len(raw)), d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatrix builds the model matrix of 1,000,000 rows (p = 9), all
// rows and the rows of a filter.
func BenchmarkMatrix(b *testing.B) {
	d := wideDictionary()
	tb, err := ReadCSV(bytes.NewReader(benchData()), d)
	if err != nil {
		b.Fatal(err)
	}
	fm, _ := ParseFormula("sbp ~ age + bmi + chol + sex + education + smoker", d)
	ds, err := NewDesign(fm, d)
	if err != nil {
		b.Fatal(err)
	}
	f, _ := ParseFilter(`age >= 40 and region != "CH"`, d)
	rows, err := f.Select(tb)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, err := ds.Matrix(tb, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("filtered", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, err := ds.Matrix(tb, rows); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSelect evaluates a filter over 1,000,000 rows.
func BenchmarkSelect(b *testing.B) {
	d := wideDictionary()
	tb, err := ReadCSV(bytes.NewReader(benchData()), d)
	if err != nil {
		b.Fatal(err)
	}
	f, _ := ParseFilter(`(age >= 40 and region in ("FR", "LU")) or not smoker == true`, d)
	for b.Loop() {
		if _, err := f.Select(tb); err != nil {
			b.Fatal(err)
		}
	}
}
