package stats

import (
	"fmt"
	"slices"
)

// Suppression says why a released count is withheld.
type Suppression string

// The reasons a cell, bin or group is withheld.
const (
	// SuppressedSmall: the count is above zero and below MinCellCount.
	SuppressedSmall Suppression = "small_count"
	// SuppressedSecondary: the count is not small, but it is the smallest
	// other non-zero count of a row, column or one-way list that would
	// otherwise hold a single withheld count, which the line's total (known
	// from another release, such as a summary's N) minus the released counts
	// would give away.
	SuppressedSecondary Suppression = "secondary"
	// SuppressedInPart: a combined count to which some owner's withheld count
	// belongs; the other owners' counts are not released alone either.
	SuppressedInPart Suppression = "suppressed_in_a_part"
)

// Cell is a released count. When Suppressed is set the count is withheld
// and Count is 0, which then means nothing.
type Cell struct {
	Count      int         `json:"count"`
	Suppressed Suppression `json:"suppressed,omitempty"`
}

// suppress applies primary and secondary suppression to counts. lines lists
// the groups of cells whose total may be known: the rows and columns of a
// two-way table, the whole of a one-way list. Primary suppression withholds
// every count in (0, MinCellCount). Then, while some line holds exactly one
// withheld count, the smallest other non-zero count of that line is withheld
// too (ties to the first), so that the line's total less its released counts
// gives only a sum of two or more withheld counts. This repeats because a
// secondary suppression can leave a crossing line with a single withheld
// count. A line whose other counts are all zero has nothing to add: its one
// withheld count stays safe only while that line's total is not released,
// and owners release no margins.
func suppress(counts []int, lines [][]int, rules Rules) []Suppression {
	why := make([]Suppression, len(counts))
	for i, c := range counts {
		if small(c, rules) {
			why[i] = SuppressedSmall
		}
	}
	for changed := true; changed; {
		changed = false
		for _, line := range lines {
			withheld, best := 0, -1
			for _, i := range line {
				switch {
				case why[i] != "":
					withheld++
				case counts[i] > 0 && (best < 0 || counts[i] < counts[best]):
					best = i
				}
			}
			if withheld == 1 && best >= 0 {
				why[best] = SuppressedSecondary
				changed = true
			}
		}
	}
	return why
}

// Table is a one-way or two-way contingency table as an owner releases it:
// counts only, no margins.
type Table struct {
	Rows  []string `json:"rows"`           // levels of the first factor
	Cols  []string `json:"cols,omitempty"` // levels of the second; empty for a one-way table
	Cells [][]Cell `json:"cells"`          // [row][col]; a one-way table has one column
}

// CrossTab counts the rows by the levels of a, and of b unless b is nil
// (a one-way table). Codes index the levels; -1 is missing, and a row
// missing either factor is left out. Factors with more than MaxFactorLevels
// levels are refused, as are fewer than MinSubsetRows complete rows; small
// counts are suppressed as suppress describes, over every row and column
// (the whole list for a one-way table).
func CrossTab(a []int32, aLevels []string, b []int32, bLevels []string, rules Rules) (Table, error) {
	if err := rules.Validate(); err != nil {
		return Table{}, err
	}
	if err := checkFactor("a", a, aLevels, rules); err != nil {
		return Table{}, err
	}
	cols := 1
	if b != nil {
		if len(b) != len(a) {
			return Table{}, &InputError{Field: "b", Detail: fmt.Sprintf("%d codes where the first factor has %d", len(b), len(a))}
		}
		if err := checkFactor("b", b, bLevels, rules); err != nil {
			return Table{}, err
		}
		cols = len(bLevels)
	} else if bLevels != nil {
		return Table{}, &InputError{Field: "b", Detail: "levels without codes"}
	}
	counts := make([]int, len(aLevels)*cols)
	complete := 0
	for i, ai := range a {
		bi := int32(0)
		if b != nil {
			bi = b[i]
		}
		if ai < 0 || bi < 0 {
			continue
		}
		counts[int(ai)*cols+int(bi)]++
		complete++
	}
	if complete < rules.MinSubsetRows {
		return Table{}, tooFewRows(complete, rules)
	}
	var lines [][]int
	if b == nil {
		lines = [][]int{seq(0, len(counts), 1)}
	} else {
		for r := range aLevels {
			lines = append(lines, seq(r*cols, (r+1)*cols, 1))
		}
		for c := range cols {
			lines = append(lines, seq(c, len(counts), cols))
		}
	}
	why := suppress(counts, lines, rules)
	t := Table{Rows: slices.Clone(aLevels), Cells: make([][]Cell, len(aLevels))}
	if b != nil {
		t.Cols = slices.Clone(bLevels)
	}
	for r := range t.Cells {
		t.Cells[r] = make([]Cell, cols)
		for c := range cols {
			t.Cells[r][c] = releasedCell(counts[r*cols+c], why[r*cols+c])
		}
	}
	return t, nil
}

func releasedCell(count int, why Suppression) Cell {
	if why != "" {
		return Cell{Suppressed: why}
	}
	return Cell{Count: count}
}

// seq is lo, lo+step, … below hi.
func seq(lo, hi, step int) []int {
	var s []int
	for i := lo; i < hi; i += step {
		s = append(s, i)
	}
	return s
}

// checkFactor checks a factor's codes and its number of levels.
func checkFactor(field string, codes []int32, levels []string, rules Rules) error {
	if len(levels) == 0 {
		return &InputError{Field: field, Detail: "a factor without levels"}
	}
	if err := rules.CheckFactorLevels(field, len(levels)); err != nil {
		return err
	}
	for i, c := range codes {
		if c < -1 || int(c) >= len(levels) {
			return &InputError{Field: field, Detail: fmt.Sprintf("row %d: code %d is not a level (0 to %d, or -1 for missing)", i+1, c, len(levels)-1)}
		}
	}
	return nil
}

// CheckFactorLevels refuses a factor with more than MaxFactorLevels levels;
// the formula code calls it for every factor it expands into a model.
func (r Rules) CheckFactorLevels(name string, levels int) error {
	if levels > r.MaxFactorLevels {
		return &DisclosureError{Rule: RuleMaxFactorLevels,
			Detail: fmt.Sprintf("the factor %s has %d levels and the owner allows at most %d", name, levels, r.MaxFactorLevels)}
	}
	return nil
}

// CombineTables adds the owners' tables cell by cell. A combined cell is
// withheld (SuppressedInPart) if any owner withheld its share; the tables
// must have the same levels in the same order.
func CombineTables(parts []Table) (Table, error) {
	if len(parts) == 0 {
		return Table{}, &InputError{Field: "tables", Detail: "no tables to combine"}
	}
	first := parts[0]
	out := Table{Rows: slices.Clone(first.Rows), Cols: slices.Clone(first.Cols), Cells: make([][]Cell, len(first.Rows))}
	cols := max(len(first.Cols), 1)
	for r := range out.Cells {
		out.Cells[r] = make([]Cell, cols)
	}
	for i, t := range parts {
		if !slices.Equal(t.Rows, first.Rows) || !slices.Equal(t.Cols, first.Cols) || len(t.Cells) != len(first.Rows) {
			return Table{}, &InputError{Field: "tables", Detail: fmt.Sprintf("table %d has other levels than table 1", i+1)}
		}
		for r, row := range t.Cells {
			if len(row) != cols {
				return Table{}, &InputError{Field: "tables", Detail: fmt.Sprintf("table %d, row %d has %d cells, not %d", i+1, r+1, len(row), cols)}
			}
			for c, cell := range row {
				out.Cells[r][c] = addCell(out.Cells[r][c], cell)
			}
		}
	}
	return out, nil
}

// addCell adds an owner's cell to a running combined one.
func addCell(sum, part Cell) Cell {
	if sum.Suppressed != "" || part.Suppressed != "" {
		return Cell{Suppressed: SuppressedInPart}
	}
	return Cell{Count: sum.Count + part.Count}
}
