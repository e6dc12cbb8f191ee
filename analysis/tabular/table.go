package tabular

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Default bounds of a CSV file read into a table.
const (
	// MaxRows bounds the rows of a table: row numbers are uint32 in the
	// row bitmaps, and 50 million rows of 12 numeric columns is 4.8 GB
	// in memory already.
	MaxRows = 50_000_000
	// MaxFieldBytes bounds one cell.
	MaxFieldBytes = 1024
)

// maxInteger is the largest integer a float64 holds exactly.
const maxInteger = 1 << 53

// Limits bound what ReadCSVLimits and ReadParquetLimits read.
type Limits struct {
	MaxRows       int // data rows, the header excluded
	MaxFieldBytes int // one cell (in Parquet, one string)
}

// normalized replaces a limit that is unset or beyond the defaults with
// the default.
func (lim Limits) normalized() Limits {
	if lim.MaxRows <= 0 || lim.MaxRows > MaxRows {
		lim.MaxRows = MaxRows
	}
	if lim.MaxFieldBytes <= 0 {
		lim.MaxFieldBytes = MaxFieldBytes
	}
	return lim
}

// DefaultLimits returns the limits ReadCSV applies.
func DefaultLimits() Limits {
	return Limits{MaxRows: MaxRows, MaxFieldBytes: MaxFieldBytes}
}

// ReadError is a problem of a CSV or Parquet file, at a 1-based line (0
// for the file as a whole); Column is the column's name when the problem
// is one column's or one cell's.
type ReadError struct {
	Line    int
	Column  string
	Problem string
}

func (e *ReadError) Error() string {
	if e.Line == 0 {
		return e.Problem
	}
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Problem)
	}
	return fmt.Sprintf("line %d, column %q: %s", e.Line, e.Column, e.Problem)
}

// Errors of the table's accessors, wrapped in a *ColumnError naming the
// column.
var (
	// ErrIdentifier: the column identifies a person; its values are never
	// handed out, filtered on or modelled.
	ErrIdentifier = errors.New("the column is an identifier")
	// ErrUnknownColumn: the dictionary has no such column.
	ErrUnknownColumn = errors.New("no such column")
	// ErrColumnType: the column's type does not fit the request (Numbers
	// of a categorical column, Codes of a numeric one).
	ErrColumnType = errors.New("wrong column type")
)

// ColumnError is an accessor's refusal, naming the column.
type ColumnError struct {
	Column string
	Err    error
}

func (e *ColumnError) Error() string { return fmt.Sprintf("column %q: %v", e.Column, e.Err) }
func (e *ColumnError) Unwrap() error { return e.Err }

// Table is a tabular dataset in memory, column by column. It is read-only
// once built: its methods may be called from several goroutines.
type Table struct {
	dict  Dictionary
	rows  int
	index map[string]int // column name → position in dict.Columns and cols
	cols  []column
}

// column holds one column's values: nums for number, integer and boolean
// (NaN missing), codes for categorical (level index, -1 missing). An
// identifier column holds nothing.
type column struct {
	nums  []float64
	codes []int32
}

// Rows is the number of data rows.
func (t *Table) Rows() int { return t.rows }

// Dictionary is the dictionary the table was read against.
func (t *Table) Dictionary() Dictionary { return t.dict }

// lookup finds a column that may be handed out.
func (t *Table) lookup(name string) (Column, column, error) {
	i, ok := t.index[name]
	if !ok {
		return Column{}, column{}, &ColumnError{Column: name, Err: ErrUnknownColumn}
	}
	c := t.dict.Columns[i]
	if c.Identifier {
		return Column{}, column{}, &ColumnError{Column: name, Err: ErrIdentifier}
	}
	return c, t.cols[i], nil
}

// Numbers returns a copy of a number, integer or boolean column's values,
// NaN where missing (booleans are 0 and 1).
func (t *Table) Numbers(name string) ([]float64, error) {
	c, col, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	if !c.Type.numeric() {
		return nil, &ColumnError{Column: name, Err: fmt.Errorf("%w: %s is not numeric", ErrColumnType, c.Type)}
	}
	return append([]float64(nil), col.nums...), nil
}

// Codes returns a copy of a categorical column's values as indexes into its
// levels (-1 where missing), and the levels.
func (t *Table) Codes(name string) ([]int32, []string, error) {
	c, col, err := t.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if c.Type != TypeCategorical {
		return nil, nil, &ColumnError{Column: name, Err: fmt.Errorf("%w: %s is not categorical", ErrColumnType, c.Type)}
	}
	return append([]int32(nil), col.codes...), append([]string(nil), c.Levels...), nil
}

// ReadCSV reads a CSV file with a header row against a dictionary, within
// DefaultLimits.
func ReadCSV(r io.Reader, d Dictionary) (*Table, error) {
	return ReadCSVLimits(r, d, DefaultLimits())
}

// ReadCSVLimits reads a CSV file with a header row against a dictionary.
// The header names exactly the dictionary's columns, in any order. A cell
// that is empty or NA is missing; white space around a cell is ignored.
// Errors are a *ReadError (the file) or a *DictionaryError (the
// dictionary).
func ReadCSVLimits(r io.Reader, d Dictionary, lim Limits) (*Table, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	lim = lim.normalized()
	// csv.Reader holds a whole record in memory before it returns it: the
	// bounded reader stops a record (or a run-away quoted field) that
	// outgrows what its cells may hold.
	bounded := &recordBound{r: r, max: int64(len(d.Columns)) * int64(lim.MaxFieldBytes+3)}
	cr := csv.NewReader(bounded)
	cr.ReuseRecord = true
	p := parser{lim: lim, cr: cr, bound: bounded}
	t, err := p.read(d)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// parser reads one CSV file.
type parser struct {
	lim   Limits
	cr    *csv.Reader
	bound *recordBound
	// lastLen is the field count of the last record read, which csv
	// returns along with a field-count error.
	lastLen int
	// endLine is the line of the last field of the last record read: the
	// next record begins after it.
	endLine int
}

// readErr turns csv's and the bound's errors into a *ReadError.
func (p *parser) readErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return &ReadError{Line: pe.StartLine, Problem: fmt.Sprintf("%d columns, the header has %d", p.lastLen, p.cr.FieldsPerRecord)}
		}
		return &ReadError{Line: pe.Line, Problem: pe.Err.Error()}
	}
	if errors.Is(err, errRecordTooLong) {
		return &ReadError{Line: p.endLine + 1, Problem: fmt.Sprintf("a record longer than %d bytes", p.bound.max)}
	}
	return fmt.Errorf("read CSV: %w", err)
}

func (p *parser) read(d Dictionary) (*Table, error) {
	header, err := p.cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ReadError{Line: 1, Problem: "no header row"}
	}
	if err != nil {
		return nil, p.readErr(err)
	}
	p.cr.FieldsPerRecord = len(header)
	p.lastLen = len(header)
	p.endLine, _ = p.cr.FieldPos(len(header) - 1)
	// order[i] is the dictionary position of the file's i-th field.
	order, err := headerOrder(header, d)
	if err != nil {
		return nil, err
	}
	p.bound.next(p.cr.InputOffset())

	t := &Table{dict: d, index: make(map[string]int, len(d.Columns)), cols: make([]column, len(d.Columns))}
	cells := make([]cellReader, len(order))
	for i, pos := range order {
		c := d.Columns[pos]
		t.index[c.Name] = pos
		cells[i] = newCellReader(c, &t.cols[pos], p.lim.MaxFieldBytes)
	}
	for {
		rec, err := p.cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		p.lastLen = len(rec)
		if err != nil {
			return nil, p.readErr(err)
		}
		if t.rows == p.lim.MaxRows {
			line, _ := p.cr.FieldPos(0)
			return nil, &ReadError{Line: line, Problem: fmt.Sprintf("more than %d rows", p.lim.MaxRows)}
		}
		for i, cell := range rec {
			if err := cells[i].read(cell); err != nil {
				line, _ := p.cr.FieldPos(i)
				return nil, &ReadError{Line: line, Column: cells[i].name, Problem: err.Error()}
			}
		}
		t.rows++
		p.endLine, _ = p.cr.FieldPos(len(rec) - 1)
		p.bound.next(p.cr.InputOffset())
	}
	return t, nil
}

// headerOrder maps the header's fields to the dictionary's columns.
func headerOrder(header []string, d Dictionary) ([]int, error) {
	if len(header) > 0 {
		// Spreadsheets save UTF-8 CSV files with a byte order mark.
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	pos := make(map[string]int, len(d.Columns))
	for i, c := range d.Columns {
		pos[c.Name] = i
	}
	order := make([]int, len(header))
	seen := make([]bool, len(d.Columns))
	for i, h := range header {
		name := strings.TrimSpace(h)
		j, ok := pos[name]
		switch {
		case !ok:
			return nil, &ReadError{Line: 1, Column: truncate(name), Problem: "the header names a column the dictionary does not have"}
		case seen[j]:
			return nil, &ReadError{Line: 1, Column: name, Problem: "the header names the column twice"}
		}
		seen[j] = true
		order[i] = j
	}
	for j, ok := range seen {
		if !ok {
			return nil, &ReadError{Line: 1, Column: d.Columns[j].Name, Problem: "the header lacks a column of the dictionary"}
		}
	}
	return order, nil
}

// cellReader parses one column's cells into its storage.
type cellReader struct {
	name     string
	typ      Type
	maxBytes int
	col      *column
	levels   map[string]int32
	keep     bool // false for an identifier: validated, not kept
}

func newCellReader(c Column, col *column, maxBytes int) cellReader {
	r := cellReader{name: c.Name, typ: c.Type, maxBytes: maxBytes, col: col, keep: !c.Identifier}
	if c.Type == TypeCategorical {
		r.levels = make(map[string]int32, len(c.Levels))
		for i, l := range c.Levels {
			r.levels[l] = int32(i)
		}
	}
	return r
}

// read parses one cell and appends its value.
func (r *cellReader) read(s string) error {
	if len(s) > r.maxBytes {
		return fmt.Errorf("a cell of %d bytes, limit %d", len(s), r.maxBytes)
	}
	if n := len(s); n > 0 && (s[0] == ' ' || s[n-1] == ' ' || s[0] == '\t' || s[n-1] == '\t') {
		s = strings.TrimSpace(s)
	}
	missing := s == "" || s == missingText
	switch r.typ {
	case TypeCategorical:
		code := int32(-1)
		if !missing {
			c, ok := r.levels[s]
			if !ok {
				return fmt.Errorf("%q is not one of the column's levels", truncate(s))
			}
			code = c
		}
		if r.keep {
			r.col.codes = append(r.col.codes, code)
		}
		return nil
	case TypeText:
		return nil // an identifier: any text
	}
	v := math.NaN()
	if !missing {
		var err error
		if v, err = parseValue(r.typ, s); err != nil {
			return err
		}
	}
	if r.keep {
		r.col.nums = append(r.col.nums, v)
	}
	return nil
}

// parseValue parses a number, integer or boolean cell.
func parseValue(typ Type, s string) (float64, error) {
	switch typ {
	case TypeBoolean:
		switch strings.ToLower(s) {
		case "true", "1", "yes":
			return 1, nil
		case "false", "0", "no":
			return 0, nil
		}
		return 0, fmt.Errorf("%q is not a boolean (true/false, 1/0, yes/no)", truncate(s))
	case TypeInteger:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i > maxInteger || i < -maxInteger {
				return 0, fmt.Errorf("%s is beyond ±2^53", s)
			}
			return float64(i), nil
		}
		// Exports often write whole numbers as 3.0 or 1e3.
		v, err := parseNumber(s)
		if err != nil {
			return 0, err
		}
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("%q is not a whole number", truncate(s))
		}
		if v > maxInteger || v < -maxInteger {
			return 0, fmt.Errorf("%s is beyond ±2^53", truncate(s))
		}
		return v, nil
	}
	return parseNumber(s)
}

// parseNumber parses a finite number.
func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q is out of range", truncate(s))
		}
		return 0, fmt.Errorf("%q is not a number", truncate(s))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", truncate(s))
	}
	return v, nil
}

// errRecordTooLong: the bound of one record was reached.
var errRecordTooLong = errors.New("record too long")

// recordBound fails a read that takes more than max bytes past the start of
// the record being read (plus csv's read-ahead buffer).
type recordBound struct {
	r     io.Reader
	max   int64
	read  int64 // bytes handed to csv so far
	start int64 // offset of the record being read
}

// readAhead covers what csv's bufio.Reader reads beyond the current record.
const readAhead = 64 << 10

func (b *recordBound) next(offset int64) { b.start = offset }

func (b *recordBound) Read(p []byte) (int, error) {
	room := b.start + b.max + readAhead - b.read
	if room <= 0 {
		return 0, errRecordTooLong
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}
