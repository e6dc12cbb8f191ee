package tabular

import (
	"fmt"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Select returns the rows of t the filter matches. A comparison never
// matches a missing value. The table's dictionary may differ from the one
// the filter was parsed against (an owner's own, say), but each column the
// filter names must have the same kind (numeric or categorical) in both,
// and a categorical column of the table no level the filter's dictionary
// lacks (such a level would make "!=" and "not" mean something else);
// otherwise the error is a *ColumnError.
func (f *Filter) Select(t *Table) (*roaring.Bitmap, error) {
	if f == nil {
		all := roaring.New()
		all.AddRange(0, uint64(t.rows))
		return all, nil
	}
	return f.eval(f.root, t)
}

func (f *Filter) eval(n node, t *Table) (*roaring.Bitmap, error) {
	switch n := n.(type) {
	case *junction:
		sets := make([]*roaring.Bitmap, len(n.ops))
		for i, op := range n.ops {
			s, err := f.eval(op, t)
			if err != nil {
				return nil, err
			}
			sets[i] = s
		}
		if n.isAnd {
			return roaring.FastAnd(sets...), nil
		}
		return roaring.FastOr(sets...), nil
	case *cmpNode:
		c, col, err := t.lookup(n.col)
		if err != nil {
			return nil, err
		}
		if !c.Type.numeric() {
			return nil, &ColumnError{Column: n.col, Err: fmt.Errorf("%w: the filter compares it with a number, and the table's is %s", ErrColumnType, c.Type)}
		}
		return selectNumbers(col.nums, n.op, n.value), nil
	case *levelNode:
		c, col, err := t.lookup(n.col)
		if err != nil {
			return nil, err
		}
		if c.Type != TypeCategorical {
			return nil, &ColumnError{Column: n.col, Err: fmt.Errorf("%w: the filter compares it with levels, and the table's is %s", ErrColumnType, c.Type)}
		}
		// match[code of the table] tells whether the filter accepts it.
		match := make([]bool, len(c.Levels))
		for i, l := range c.Levels {
			j := slices.Index(n.levels, l)
			if j < 0 {
				return nil, &ColumnError{Column: n.col, Err: fmt.Errorf("%w: the table has level %q, which the filter's dictionary lacks", ErrColumnType, l)}
			}
			_, match[i] = slices.BinarySearch(n.in, int32(j))
		}
		return selectCodes(col.codes, match), nil
	}
	panic(fmt.Sprintf("tabular: filter node %T", n))
}

// selectNumbers sets the rows whose value compares true; NaN (missing)
// compares false with everything, != included.
func selectNumbers(nums []float64, op string, v float64) *roaring.Bitmap {
	words := make([]uint64, (len(nums)+63)/64)
	set := func(keep func(x float64) bool) {
		for i, x := range nums {
			if keep(x) {
				words[i>>6] |= 1 << (i & 63)
			}
		}
	}
	switch op {
	case "==":
		set(func(x float64) bool { return x == v })
	case "!=":
		set(func(x float64) bool { return x != v && x == x })
	case "<":
		set(func(x float64) bool { return x < v })
	case "<=":
		set(func(x float64) bool { return x <= v })
	case ">":
		set(func(x float64) bool { return x > v })
	case ">=":
		set(func(x float64) bool { return x >= v })
	}
	return roaring.FromDense(words, false)
}

// selectCodes sets the rows whose code the filter accepts; -1 (missing)
// never.
func selectCodes(codes []int32, match []bool) *roaring.Bitmap {
	words := make([]uint64, (len(codes)+63)/64)
	for i, c := range codes {
		if c >= 0 && match[c] {
			words[i>>6] |= 1 << (i & 63)
		}
	}
	return roaring.FromDense(words, false)
}
