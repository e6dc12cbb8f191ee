package tabular

import (
	"fmt"
	"math"

	"github.com/RoaringBitmap/roaring/v2"
)

// InterceptColumn is the name of a design's first column.
const InterceptColumn = "(Intercept)"

// MaxDesignColumns bounds a design's columns (a 1000-level factor alone
// would make 999), and MaxMatrixCells the matrix one owner builds (1 GiB of
// float64).
const (
	MaxDesignColumns = 1024
	MaxMatrixCells   = 1 << 27
)

// Design is the model matrix's layout, agreed once by the requester from
// its formula and dictionary so that every owner builds the same columns in
// the same order from its own rows.
type Design struct {
	Response string         `json:"response"`
	Columns  []DesignColumn `json:"columns"` // "(Intercept)" first, then each term; a categorical term becomes one indicator per non-reference level, named "sex:F"
	// Factors holds every categorical term's full level list, reference
	// first (a factor of one level has no columns, but still drops the
	// rows where it is missing).
	Factors map[string][]string `json:"factors"`
}

// DesignColumn is one column of the model matrix: the intercept (no term),
// a numeric term (no level) or the indicator of one level of a categorical
// term.
type DesignColumn struct {
	Name  string `json:"name"`
	Term  string `json:"term,omitempty"`
	Level string `json:"level,omitempty"`
}

// DesignError is a design that does not fit, or is not, a design. Column
// names the column concerned, if any; Err is ErrIdentifier when the design
// names an identifier column.
type DesignError struct {
	Column  string
	Problem string
	Err     error
}

func (e *DesignError) Error() string {
	if e.Column == "" {
		return "design: " + e.Problem
	}
	return fmt.Sprintf("design: column %q: %s", e.Column, e.Problem)
}
func (e *DesignError) Unwrap() error { return e.Err }

// P is the number of columns of the model matrix.
func (ds Design) P() int { return len(ds.Columns) }

// levelColumnName is the name of a categorical term's indicator.
func levelColumnName(term, level string) string { return term + ":" + level }

// NewDesign lays out the model matrix of a formula parsed against d.
func NewDesign(f *Formula, d Dictionary) (Design, error) {
	ds := Design{Response: f.Response, Columns: []DesignColumn{{Name: InterceptColumn}}, Factors: map[string][]string{}}
	for _, term := range f.Terms {
		c, ok := d.Column(term)
		if !ok {
			return Design{}, &DesignError{Column: term, Problem: "the dictionary has no such column"}
		}
		if c.Type != TypeCategorical {
			ds.Columns = append(ds.Columns, DesignColumn{Name: term, Term: term})
			continue
		}
		ds.Factors[term] = append([]string(nil), c.Levels...)
		for _, l := range c.Levels[1:] {
			ds.Columns = append(ds.Columns, DesignColumn{Name: levelColumnName(term, l), Term: term, Level: l})
		}
	}
	// The formula was parsed against d, but may have been built by hand.
	if err := ds.Validate(d); err != nil {
		return Design{}, err
	}
	return ds, nil
}

// terms lists the design's terms in column order, factors without columns
// last, and whether each is categorical.
func (ds Design) terms() ([]string, map[string]bool) {
	var terms []string
	categorical := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range ds.Columns[1:] {
		if !seen[c.Term] {
			seen[c.Term] = true
			terms = append(terms, c.Term)
		}
	}
	for t := range ds.Factors {
		categorical[t] = true
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	return terms, categorical
}

// Validate checks a design received from a requester: that it is well
// formed, and that it fits d (an owner's own dictionary): the response and
// every term are columns of d, none an identifier, of a compatible type
// (numeric for the response and numeric terms, categorical for factors),
// and every level d allows for a factor is one the design knows (a level it
// does not know would silently fall into the reference). Errors are a
// *DesignError.
func (ds Design) Validate(d Dictionary) error {
	if err := ds.wellFormed(); err != nil {
		return err
	}
	check := func(name string, categorical bool) error {
		c, ok := d.Column(name)
		switch {
		case !ok:
			return &DesignError{Column: name, Problem: "the dictionary has no such column"}
		case c.Identifier:
			return &DesignError{Column: name, Problem: "a design with an identifier column is refused", Err: ErrIdentifier}
		case categorical && c.Type != TypeCategorical:
			return &DesignError{Column: name, Problem: fmt.Sprintf("the design has it categorical, the dictionary %s", c.Type)}
		case !categorical && !c.Type.numeric():
			return &DesignError{Column: name, Problem: fmt.Sprintf("the design has it numeric, the dictionary %s", c.Type)}
		}
		if categorical {
			known := make(map[string]bool, len(ds.Factors[name]))
			for _, l := range ds.Factors[name] {
				known[l] = true
			}
			for _, l := range c.Levels {
				if !known[l] {
					return &DesignError{Column: name, Problem: fmt.Sprintf("the dictionary has level %q, which the design does not know", l)}
				}
			}
		}
		return nil
	}
	if err := check(ds.Response, false); err != nil {
		return err
	}
	terms, categorical := ds.terms()
	for _, t := range terms {
		if err := check(t, categorical[t]); err != nil {
			return err
		}
	}
	return nil
}

// wellFormed checks the design on its own: the intercept first, each
// column named after its term and level, no column twice, each factor's
// columns exactly its non-reference levels in order.
func (ds Design) wellFormed() error {
	switch {
	case ds.Response == "":
		return &DesignError{Problem: "no response"}
	case len(ds.Columns) == 0 || ds.Columns[0] != (DesignColumn{Name: InterceptColumn}):
		return &DesignError{Problem: fmt.Sprintf("the first column must be %s", InterceptColumn)}
	case len(ds.Columns) > MaxDesignColumns:
		return &DesignError{Problem: fmt.Sprintf("%d columns, limit %d", len(ds.Columns), MaxDesignColumns)}
	case len(ds.Factors) > MaxTerms:
		return &DesignError{Problem: fmt.Sprintf("%d factors, limit %d", len(ds.Factors), MaxTerms)}
	}
	for t, levels := range ds.Factors {
		if len(levels) == 0 || len(levels) > MaxLevels {
			return &DesignError{Column: t, Problem: fmt.Sprintf("a factor needs 1 to %d levels", MaxLevels)}
		}
		if probs := levelProblems(fmt.Sprintf("factor %q", t), levels); len(probs) > 0 {
			return &DesignError{Column: t, Problem: probs[0]}
		}
	}
	// next[term] is the index in Factors[term] of the level its next
	// column must have.
	next := map[string]int{}
	names := map[string]bool{}
	done := map[string]bool{} // terms whose columns ended
	prev := ""
	for _, c := range ds.Columns[1:] {
		if c.Term == "" || c.Term == ds.Response {
			return &DesignError{Column: c.Name, Problem: "a column must have a term other than the response"}
		}
		if names[c.Name] {
			return &DesignError{Column: c.Name, Problem: "the column appears twice"}
		}
		names[c.Name] = true
		if c.Term != prev {
			if done[c.Term] {
				return &DesignError{Column: c.Name, Problem: "a term's columns must be adjacent"}
			}
			done[prev] = true
			prev = c.Term
		}
		levels, isFactor := ds.Factors[c.Term]
		switch {
		case !isFactor && (c.Level != "" || c.Name != c.Term):
			return &DesignError{Column: c.Name, Problem: "a numeric term's column is named after the term and has no level"}
		case isFactor:
			next[c.Term]++
			i := next[c.Term]
			if i >= len(levels) || c.Level != levels[i] || c.Name != levelColumnName(c.Term, c.Level) {
				return &DesignError{Column: c.Name, Problem: "a factor's columns must be its non-reference levels, in order, named term:level"}
			}
		}
	}
	for t, levels := range ds.Factors {
		if t == ds.Response {
			return &DesignError{Column: t, Problem: "the response cannot be a factor"}
		}
		if next[t] != len(levels)-1 {
			return &DesignError{Column: t, Problem: "a factor's columns must be its non-reference levels, in order, named term:level"}
		}
	}
	return nil
}

// Matrix builds the model matrix of the rows of t that rows selects (every
// row when rows is nil) and whose response and terms are all present
// (complete cases): x is n×P row-major, y the response, used the rows
// behind them, in order. The design is first checked against t's
// dictionary (Validate). A row beyond the table is an error.
func (ds Design) Matrix(t *Table, rows *roaring.Bitmap) (x []float64, y []float64, used *roaring.Bitmap, err error) {
	if err := ds.Validate(t.dict); err != nil {
		return nil, nil, nil, err
	}
	if rows != nil && !rows.IsEmpty() && int(rows.Maximum()) >= t.rows {
		return nil, nil, nil, &DesignError{Problem: fmt.Sprintf("row %d is beyond the table's %d rows", rows.Maximum(), t.rows)}
	}
	resp := t.cols[t.index[ds.Response]].nums
	terms, categorical := ds.terms()
	// Every term's values: nums for numeric ones, codes for factors,
	// recoded to the design's level indexes.
	nums := map[string][]float64{}
	codes := map[string][]int32{}
	for _, term := range terms {
		i := t.index[term]
		if !categorical[term] {
			nums[term] = t.cols[i].nums
			continue
		}
		recode := make([]int32, len(t.dict.Columns[i].Levels))
		for k, l := range t.dict.Columns[i].Levels {
			for j, dl := range ds.Factors[term] {
				if dl == l {
					recode[k] = int32(j)
				}
			}
		}
		own := t.cols[i].codes
		mapped := make([]int32, len(own))
		for r, c := range own {
			mapped[r] = -1
			if c >= 0 {
				mapped[r] = recode[c]
			}
		}
		codes[term] = mapped
	}

	numCols := make([][]float64, 0, len(nums)+1)
	numCols = append(numCols, resp)
	for _, v := range nums {
		numCols = append(numCols, v)
	}
	codeCols := make([][]int32, 0, len(codes))
	for _, c := range codes {
		codeCols = append(codeCols, c)
	}
	complete := func(r int) bool {
		for _, v := range numCols {
			if math.IsNaN(v[r]) {
				return false
			}
		}
		for _, c := range codeCols {
			if c[r] < 0 {
				return false
			}
		}
		return true
	}
	var kept []uint32
	visit := func(r int) {
		if complete(r) {
			kept = append(kept, uint32(r))
		}
	}
	if rows == nil {
		for r := range t.rows {
			visit(r)
		}
	} else {
		it := rows.ManyIterator()
		buf := make([]uint32, 4096)
		for n := it.NextMany(buf); n > 0; n = it.NextMany(buf) {
			for _, r := range buf[:n] {
				visit(int(r))
			}
		}
	}

	p := ds.P()
	if len(kept) > 0 && p > MaxMatrixCells/len(kept) {
		return nil, nil, nil, &DesignError{Problem: fmt.Sprintf("a matrix of %d rows × %d columns is over the limit of %d cells", len(kept), p, MaxMatrixCells)}
	}
	// Each column's source, resolved once.
	type source struct {
		nums   []float64
		codes  []int32
		level  int32 // the design's level index the indicator is 1 for
		factor bool
	}
	srcs := make([]source, p)
	for j, c := range ds.Columns[1:] {
		if c.Level == "" {
			srcs[j+1] = source{nums: nums[c.Term]}
			continue
		}
		for k, l := range ds.Factors[c.Term] {
			if l == c.Level {
				srcs[j+1] = source{codes: codes[c.Term], level: int32(k), factor: true}
			}
		}
	}
	x = make([]float64, len(kept)*p)
	y = make([]float64, len(kept))
	for i, r := range kept {
		row := x[i*p : (i+1)*p]
		row[0] = 1
		for j := 1; j < p; j++ {
			s := &srcs[j]
			switch {
			case !s.factor:
				row[j] = s.nums[r]
			case s.codes[r] == s.level:
				row[j] = 1
			}
		}
		y[i] = resp[r]
	}
	used = roaring.New()
	used.AddMany(kept)
	return x, y, used, nil
}
