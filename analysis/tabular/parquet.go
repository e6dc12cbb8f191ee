package tabular

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// ReadParquet reads a Parquet file of size bytes against a dictionary,
// within DefaultLimits.
func ReadParquet(r io.ReaderAt, size int64, d Dictionary) (*Table, error) {
	return ReadParquetLimits(r, size, d, DefaultLimits())
}

// ReadParquetLimits reads a Parquet file of size bytes against a
// dictionary into the table ReadCSVLimits would build from the same data.
//
// The file's top-level columns are exactly the dictionary's, in any order,
// each a flat column (no groups, no repeated fields) whose physical type
// fits the dictionary's type:
//
//   - number: FLOAT, DOUBLE, INT32 or INT64, signed or unsigned, and
//     DECIMAL stored in INT32 or INT64;
//   - integer: the same, a floating-point or decimal value having to be
//     whole; every value within ±2^53;
//   - boolean: BOOLEAN, or INT32 and INT64 holding 0 and 1;
//   - categorical: BYTE_ARRAY (plain, STRING or ENUM), each value one of
//     the levels.
//
// Dates, times, timestamps, INT96 and fixed-length byte arrays fit no
// analysable type. An identifier column may have any type: its presence is
// checked, its values are neither read nor kept. A null is a missing
// value; so are an empty string and NA, and a string's surrounding white
// space is ignored, as in a CSV cell. NaN and infinities are refused.
//
// Errors are a *ReadError or a *DictionaryError, as for CSV, and the
// reader's own failure wrapped. A *ReadError's Line mirrors the CSV file
// with a header line that holds the same data: row i (1-based) is line
// i+1, and a problem of the schema (a missing, extra or ill-typed column)
// is at line 1. A file that is not valid Parquet is at line 0.
//
// The file is read one row group and one column chunk at a time, page by
// page: only the table being built and one decoded page are in memory.
func ReadParquetLimits(r io.ReaderAt, size int64, d Dictionary, lim Limits) (t *Table, err error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	lim = lim.normalized()
	if size < 0 {
		return nil, notParquet(fmt.Sprintf("a size of %d bytes", size))
	}
	src := &recordingReaderAt{r: io.NewSectionReader(r, 0, size)}
	defer func() {
		// parquet-go trusts the file's metadata in places and may panic on
		// a damaged file: that is the file's problem, not the node's.
		if p := recover(); p != nil {
			t, err = nil, notParquet(fmt.Sprint(p))
		}
		// A reader that failed explains whatever followed from it.
		if rerr := src.failure(); rerr != nil {
			t, err = nil, fmt.Errorf("read Parquet: %w", rerr)
		}
	}()
	f, err := parquet.OpenFile(src, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, notParquet(err.Error())
	}
	readers, err := parquetColumns(f, d, lim.MaxFieldBytes)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, rg := range f.RowGroups() {
		n := rg.NumRows()
		if n < 0 {
			return nil, notParquet(fmt.Sprintf("a row group of %d rows", n))
		}
		if total += n; total > int64(lim.MaxRows) {
			return nil, &ReadError{Line: lim.MaxRows + 2, Problem: fmt.Sprintf("more than %d rows", lim.MaxRows)}
		}
	}

	t = &Table{dict: d, rows: int(total), index: make(map[string]int, len(d.Columns)), cols: make([]column, len(d.Columns))}
	for i, c := range d.Columns {
		t.index[c.Name] = i
	}
	// Room for the rows the file claims, as far as its size makes the
	// claim plausible (a value takes a bit at least, except in runs).
	room := int(min(total, size*8))
	for _, cr := range readers {
		switch {
		case !cr.keep:
		case cr.typ == TypeCategorical:
			t.cols[cr.pos].codes = make([]int32, 0, room)
		default:
			t.cols[cr.pos].nums = make([]float64, 0, room)
		}
	}
	buf := make([]parquet.Value, 1024)
	meta := f.Metadata()
	var base int64 // rows of the row groups before this one
	for g, rg := range f.RowGroups() {
		chunks := rg.ColumnChunks()
		for i := range readers {
			cr := &readers[i]
			if !cr.keep {
				continue
			}
			if cr.leaf >= len(chunks) {
				return nil, notParquet(fmt.Sprintf("a row group lacks column %q", cr.name))
			}
			if g >= len(meta.RowGroups) || cr.leaf >= len(meta.RowGroups[g].Columns) {
				return nil, notParquet(fmt.Sprintf("no metadata for column %q", cr.name))
			}
			if err := cr.checkPages(src, size, &meta.RowGroups[g].Columns[cr.leaf].MetaData, rg.NumRows()); err != nil {
				return nil, err
			}
			cr.col = &t.cols[cr.pos]
			if err := cr.readChunk(chunks[cr.leaf], base, rg.NumRows(), buf); err != nil {
				return nil, err
			}
		}
		base += rg.NumRows()
	}
	return t, nil
}

// notParquet is the refusal of a file that is not valid Parquet.
func notParquet(why string) *ReadError {
	const max = 200
	if len(why) > max {
		why = why[:max] + "..."
	}
	return &ReadError{Problem: "not a valid Parquet file: " + why}
}

// recordingReaderAt keeps the first failure of the underlying reader, to
// tell a failing disk from a damaged file (whose errors parquet-go words
// its own way).
type recordingReaderAt struct {
	r   io.ReaderAt
	mu  sync.Mutex
	err error
}

func (s *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

func (s *recordingReaderAt) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// source is how a Parquet column's physical and logical types are read
// into a float64 (or, for byte arrays, matched against levels).
type source int

const (
	srcBoolean source = iota
	srcInt32
	srcUint32
	srcInt64
	srcUint64
	srcFloat
	srcDouble
	srcBytes
)

// parquetColumn reads one top-level column of the file into the table.
type parquetColumn struct {
	name     string
	pos      int // position in the dictionary and the table's columns
	leaf     int // index of the column's chunk in a row group
	typ      Type
	width    int64 // most bytes one value takes in a page
	src      source
	scale    float64 // DECIMAL: the unscaled value is divided by it
	keep     bool    // false for an identifier: present, never read
	levels   map[string]int32
	maxBytes int
	col      *column
}

// parquetColumns matches the file's schema to the dictionary.
func parquetColumns(f *parquet.File, d Dictionary, maxBytes int) ([]parquetColumn, error) {
	pos := make(map[string]int, len(d.Columns))
	for i, c := range d.Columns {
		pos[c.Name] = i
	}
	fileCols := f.Root().Columns()
	seen := make([]bool, len(d.Columns))
	for _, fc := range fileCols {
		name := fc.Name()
		j, ok := pos[name]
		switch {
		case !ok:
			return nil, &ReadError{Line: 1, Column: truncate(name), Problem: "the file has a column the dictionary does not have"}
		case seen[j]:
			return nil, &ReadError{Line: 1, Column: name, Problem: "the file has the column twice"}
		}
		seen[j] = true
	}
	for j, ok := range seen {
		if !ok {
			return nil, &ReadError{Line: 1, Column: d.Columns[j].Name, Problem: "the file lacks a column of the dictionary"}
		}
	}
	readers := make([]parquetColumn, 0, len(fileCols))
	for _, fc := range fileCols {
		j := pos[fc.Name()]
		c := d.Columns[j]
		switch {
		case !fc.Leaf():
			return nil, &ReadError{Line: 1, Column: c.Name, Problem: "a nested column (a group of fields): only flat columns can be read"}
		case fc.Repeated():
			return nil, &ReadError{Line: 1, Column: c.Name, Problem: "a repeated column (a list of values per row): only one value per row can be read"}
		}
		cr := parquetColumn{name: c.Name, pos: j, leaf: fc.Index(), typ: c.Type, keep: !c.Identifier, scale: 1, maxBytes: maxBytes}
		if cr.keep {
			if err := cr.fit(fc.Type(), c); err != nil {
				return nil, err
			}
		}
		readers = append(readers, cr)
	}
	return readers, nil
}

// fit chooses how to read a column of Parquet type pt as the dictionary's
// column c, or refuses a type that does not fit.
func (cr *parquetColumn) fit(pt parquet.Type, c Column) error {
	var logical format.LogicalTypeValue
	if lt := pt.LogicalType(); lt != nil {
		logical = lt.Value
	}
	ok := false
	switch lt := logical.(type) {
	case nil:
		ok = true
	case *format.IntType:
		ok = true
		if !lt.IsSigned {
			cr.src = srcUint32 // made srcUint64 below for INT64
		}
	case *format.DecimalType:
		ok = lt.Scale >= 0 && lt.Scale <= 38
		cr.scale = math.Pow10(int(lt.Scale))
	case *format.StringType, *format.EnumType:
		ok = pt.Kind() == parquet.ByteArray
	}
	unsigned := cr.src == srcUint32
	switch pt.Kind() {
	case parquet.Boolean:
		cr.src = srcBoolean
	case parquet.Int32:
		cr.src = srcInt32
		if unsigned {
			cr.src = srcUint32
		}
	case parquet.Int64:
		cr.src = srcInt64
		if unsigned {
			cr.src = srcUint64
		}
	case parquet.Float:
		cr.src = srcFloat
	case parquet.Double:
		cr.src = srcDouble
	case parquet.ByteArray:
		cr.src = srcBytes
	default:
		ok = false
	}
	_, decimal := logical.(*format.DecimalType)
	if decimal && cr.src != srcInt32 && cr.src != srcInt64 {
		ok = false // a DECIMAL in bytes: no simple reading
	}
	switch cr.src {
	case srcBoolean:
		cr.width = 1
	case srcInt32, srcUint32, srcFloat:
		cr.width = 4
	case srcInt64, srcUint64, srcDouble:
		cr.width = 8
	case srcBytes:
		cr.width = 4 + int64(cr.maxBytes)
	}
	if ok {
		switch c.Type {
		case TypeNumber, TypeInteger:
			ok = cr.src != srcBoolean && cr.src != srcBytes
		case TypeBoolean:
			ok = cr.src == srcBoolean || (!decimal && cr.src >= srcInt32 && cr.src <= srcUint64)
		case TypeCategorical:
			ok = cr.src == srcBytes
		}
	}
	if !ok {
		return &ReadError{Line: 1, Column: c.Name, Problem: fmt.Sprintf("the file's type %s does not fit the dictionary's type %s", pt, c.Type)}
	}
	if c.Type == TypeCategorical {
		cr.levels = make(map[string]int32, len(c.Levels))
		for i, l := range c.Levels {
			cr.levels[l] = int32(i)
		}
	}
	return nil
}

// checkPages reads the page headers of one column chunk from the bytes
// parquet-go reads them from, and refuses a page that claims more than a
// row group of rows rows can hold. parquet-go allocates what a page header
// claims (a string of its statistics, the page's size once decompressed,
// its count of values) before it finds the bytes missing: a damaged header
// of a small file could have it allocate gigabytes.
func (cr *parquetColumn) checkPages(r io.ReaderAt, size int64, meta *format.ColumnMetaData, rows int64) error {
	// Where parquet-go's FilePages reads the chunk.
	start := meta.DataPageOffset
	if meta.DictionaryPageOffset != 0 {
		start = meta.DictionaryPageOffset
	}
	n := meta.TotalCompressedSize
	if start < 0 || n < 0 || start > size || n > size-start {
		return notParquet(fmt.Sprintf("column %q: a column chunk of %d bytes at %d, beyond the end of the file", cr.name, n, start))
	}
	chunk := make([]byte, n)
	if _, err := r.ReadAt(chunk, start); err != nil {
		return notParquet(fmt.Sprintf("column %q: %v", cr.name, err))
	}
	// Values and their definition levels, with room for the levels'
	// lengths and run headers.
	maxPage := rows*cr.width + rows + 1024
	bad := func(format string, a ...any) error {
		return notParquet(fmt.Sprintf("column %q: ", cr.name) + fmt.Sprintf(format, a...))
	}
	var proto thrift.CompactProtocol
	for off := 0; off < len(chunk); {
		pr := proto.NewReaderFromBytes(chunk[off:])
		var h format.PageHeader
		if err := thrift.NewDecoder(pr).Decode(&h); err != nil {
			return bad("a page header: %v", err)
		}
		off += pr.BytesRead()
		switch {
		case h.CompressedPageSize < 0 || int(h.CompressedPageSize) > len(chunk)-off:
			return bad("a page of %d bytes in a column chunk of %d bytes", h.CompressedPageSize, n)
		case h.UncompressedPageSize < 0 || int64(h.UncompressedPageSize) > maxPage:
			return bad("a page of %d bytes once decompressed, in a row group of %d rows", h.UncompressedPageSize, rows)
		case h.DataPageHeader.Valid && int64(h.DataPageHeader.V.NumValues) > rows,
			h.DataPageHeaderV2.Valid && (int64(h.DataPageHeaderV2.V.NumValues) > rows || int64(h.DataPageHeaderV2.V.NumRows) > rows):
			return bad("a page of more values than its row group's %d rows", rows)
		case h.DictionaryPageHeader.Valid && h.DictionaryPageHeader.V.NumValues > h.UncompressedPageSize:
			return bad("a dictionary of %d values in %d bytes", h.DictionaryPageHeader.V.NumValues, h.UncompressedPageSize)
		}
		off += int(h.CompressedPageSize)
	}
	return nil
}

// readChunk appends the values of one column chunk, the rows of a row
// group starting after base rows.
func (cr *parquetColumn) readChunk(chunk parquet.ColumnChunk, base, rows int64, buf []parquet.Value) error {
	pages := chunk.Pages()
	defer pages.Close()
	var n int64 // values read from this chunk
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return notParquet(fmt.Sprintf("column %q: %v", cr.name, err))
		}
		values := page.Values()
		for {
			k, err := values.ReadValues(buf)
			if n+int64(k) > rows {
				parquet.Release(page)
				return notParquet(fmt.Sprintf("column %q has more values than its row group's %d rows", cr.name, rows))
			}
			for _, v := range buf[:k] {
				if perr := cr.append(v); perr != nil {
					parquet.Release(page)
					return &ReadError{Line: int(base+n) + 2, Column: cr.name, Problem: perr.Error()}
				}
				n++
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(page)
				return notParquet(fmt.Sprintf("column %q: %v", cr.name, err))
			}
			if k == 0 {
				parquet.Release(page)
				return notParquet(fmt.Sprintf("column %q: a page yields no values", cr.name))
			}
		}
		parquet.Release(page)
	}
	if n != rows {
		return notParquet(fmt.Sprintf("column %q has %d values in a row group of %d rows", cr.name, n, rows))
	}
	return nil
}

// append converts one value and appends it to the column.
func (cr *parquetColumn) append(v parquet.Value) error {
	if cr.typ == TypeCategorical {
		code, err := cr.code(v)
		if err != nil {
			return err
		}
		cr.col.codes = append(cr.col.codes, code)
		return nil
	}
	x, err := cr.number(v)
	if err != nil {
		return err
	}
	cr.col.nums = append(cr.col.nums, x)
	return nil
}

// code is a categorical value's level, -1 when missing.
func (cr *parquetColumn) code(v parquet.Value) (int32, error) {
	if v.IsNull() {
		return -1, nil
	}
	b := v.ByteArray()
	if len(b) > cr.maxBytes {
		return 0, fmt.Errorf("a cell of %d bytes, limit %d", len(b), cr.maxBytes)
	}
	if n := len(b); n > 0 && (b[0] == ' ' || b[n-1] == ' ' || b[0] == '\t' || b[n-1] == '\t') {
		b = bytes.TrimSpace(b)
	}
	if len(b) == 0 || string(b) == missingText {
		return -1, nil
	}
	c, ok := cr.levels[string(b)]
	if !ok {
		return 0, fmt.Errorf("%q is not one of the column's levels", truncate(string(b)))
	}
	return c, nil
}

// number is a number, integer or boolean value, NaN when missing.
func (cr *parquetColumn) number(v parquet.Value) (float64, error) {
	if v.IsNull() {
		return math.NaN(), nil
	}
	var x float64
	exact := true // x is the stored value exactly
	switch cr.src {
	case srcBoolean:
		if v.Boolean() {
			return 1, nil
		}
		return 0, nil
	case srcInt32:
		x = float64(v.Int32())
	case srcUint32:
		x = float64(v.Uint32())
	case srcInt64:
		i := v.Int64()
		x, exact = float64(i), i <= maxInteger && i >= -maxInteger
	case srcUint64:
		u := v.Uint64()
		x, exact = float64(u), u <= maxInteger
	case srcFloat:
		x = float64(v.Float())
	case srcDouble:
		x = v.Double()
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%v is not a finite number", x)
	}
	if cr.scale != 1 {
		x /= cr.scale
	}
	switch cr.typ {
	case TypeBoolean:
		switch {
		case x == 1:
			return 1, nil
		case x == 0:
			return 0, nil
		}
		return 0, fmt.Errorf("%s is not a boolean (0 or 1)", cr.text(v, x))
	case TypeInteger:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("%s is not a whole number", cr.text(v, x))
		}
		if !exact || x > maxInteger || x < -maxInteger {
			return 0, fmt.Errorf("%s is beyond ±2^53", cr.text(v, x))
		}
	}
	return x, nil
}

// text is a bad value x, read from v, as an error quotes it: integers
// exactly as stored.
func (cr *parquetColumn) text(v parquet.Value, x float64) string {
	if cr.scale == 1 {
		switch cr.src {
		case srcInt32:
			return strconv.FormatInt(int64(v.Int32()), 10)
		case srcUint32:
			return strconv.FormatUint(uint64(v.Uint32()), 10)
		case srcInt64:
			return strconv.FormatInt(v.Int64(), 10)
		case srcUint64:
			return strconv.FormatUint(v.Uint64(), 10)
		}
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
