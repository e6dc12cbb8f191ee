package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// PairMoments are the complete-case moments of the variables I and J
// (I ≤ J; I == J is the variable alone): the rows where both are present,
// their means, and the sums of squared and crossed deviations from them.
// They carry what the sums n, Σx, Σy, Σx², Σy², Σxy carry, but combine
// without the cancellation raw sums of squares suffer.
type PairMoments struct {
	I     int     `json:"i"`
	J     int     `json:"j"`
	N     int     `json:"n"`
	MeanX float64 `json:"mean_x"`
	MeanY float64 `json:"mean_y"`
	CXX   float64 `json:"cxx"`
	CYY   float64 `json:"cyy"`
	CXY   float64 `json:"cxy"`
}

// CorParts is one owner's release for a correlation matrix.
type CorParts struct {
	Names []string      `json:"names"`
	Pairs []PairMoments `json:"pairs"` // (0,0), (0,1), …, (0,k−1), (1,1), …
}

// Correlation computes the pairwise complete-case moments of cols (NaN is
// missing; every column has one value per row). A pair with fewer than
// MinSubsetRows complete rows is refused, and so are pairs whose row sets
// differ by a few rows: for a variable x and two others y and z, the rows
// where x and y are present but z is not must be none or at least
// MinCellCount, or else Σx over the rows of (x, y) less Σx over those of
// (x, z) would be the x of those few people (RulePairwiseDifference).
// The variable alone counts as a pair, for the same reason.
func Correlation(cols [][]float64, names []string, rules Rules) (CorParts, error) {
	if err := rules.Validate(); err != nil {
		return CorParts{}, err
	}
	k := len(cols)
	if k < 2 || len(names) != k {
		return CorParts{}, &InputError{Field: "cols", Detail: fmt.Sprintf("%d columns and %d names; a correlation needs at least two, each named", k, len(names))}
	}
	n := len(cols[0])
	if n > math.MaxUint32 {
		return CorParts{}, &InputError{Field: "cols", Detail: fmt.Sprintf("%d rows is more than a correlation handles", n)}
	}
	present := make([]*roaring.Bitmap, k)
	for c, col := range cols {
		if len(col) != n {
			return CorParts{}, &InputError{Field: "cols", Detail: fmt.Sprintf("column %q has %d rows, column %q %d", names[c], len(col), names[0], n)}
		}
		present[c] = roaring.New()
		for i, v := range col {
			switch {
			case math.IsNaN(v):
			case math.IsInf(v, 0):
				return CorParts{}, &InputError{Field: "cols", Detail: fmt.Sprintf("column %q, row %d: infinite", names[c], i+1)}
			default:
				present[c].Add(uint32(i))
			}
		}
	}
	// both[x][y]: the rows where x and y are present; both[x][x] = present[x].
	both := make([][]*roaring.Bitmap, k)
	for x := range both {
		both[x] = make([]*roaring.Bitmap, k)
		for y := range both[x] {
			if y < x {
				both[x][y] = both[y][x]
			} else {
				both[x][y] = roaring.And(present[x], present[y])
			}
			if m := int(both[x][y].GetCardinality()); m < rules.MinSubsetRows {
				return CorParts{}, &DisclosureError{Rule: RuleMinSubsetRows,
					Detail: fmt.Sprintf("%q and %q are both present in fewer than %d rows, and the owner releases nothing computed over so few", names[x], names[y], rules.MinSubsetRows)}
			}
		}
	}
	for x := range k {
		for y := range k {
			nxy := int(both[x][y].GetCardinality())
			for z := range k {
				if z == y {
					continue
				}
				if d := nxy - int(both[x][y].AndCardinality(present[z])); small(d, rules) {
					return CorParts{}, &DisclosureError{Rule: RulePairwiseDifference,
						Detail: fmt.Sprintf("a few rows (fewer than %d) have %q and %q but miss %q: sums over the pairs would single them out", rules.MinCellCount, names[x], names[y], names[z])}
				}
			}
		}
	}
	out := CorParts{Names: slices.Clone(names)}
	for x := range k {
		for y := x; y < k; y++ {
			out.Pairs = append(out.Pairs, pairMoments(x, y, cols[x], cols[y], both[x][y]))
		}
	}
	return out, nil
}

// pairMoments is the two-pass computation over the rows in rows.
func pairMoments(x, y int, xs, ys []float64, rows *roaring.Bitmap) PairMoments {
	pm := PairMoments{I: x, J: y, N: int(rows.GetCardinality())}
	it := rows.Iterator()
	for it.HasNext() {
		i := it.Next()
		pm.MeanX += xs[i]
		pm.MeanY += ys[i]
	}
	pm.MeanX /= float64(pm.N)
	pm.MeanY /= float64(pm.N)
	it = rows.Iterator()
	for it.HasNext() {
		i := it.Next()
		dx, dy := xs[i]-pm.MeanX, ys[i]-pm.MeanY
		pm.CXX += dx * dx
		pm.CYY += dy * dy
		pm.CXY += dx * dy
	}
	return pm
}

// add combines the moments of one pair over two sets of rows exactly.
func (a PairMoments) add(b PairMoments) PairMoments {
	switch {
	case a.N == 0:
		return b
	case b.N == 0:
		return a
	}
	n := a.N + b.N
	dx, dy := b.MeanX-a.MeanX, b.MeanY-a.MeanY
	f := float64(a.N) * float64(b.N) / float64(n)
	return PairMoments{I: a.I, J: a.J, N: n,
		MeanX: a.MeanX + dx*float64(b.N)/float64(n),
		MeanY: a.MeanY + dy*float64(b.N)/float64(n),
		CXX:   a.CXX + b.CXX + dx*dx*f,
		CYY:   a.CYY + b.CYY + dy*dy*f,
		CXY:   a.CXY + b.CXY + dx*dy*f,
	}
}

// CorMatrix is the pooled Pearson correlation matrix.
type CorMatrix struct {
	Names []string
	// R is Pearson's r of each pair over its complete rows; NaN where a
	// variable is constant over them (JSON: null).
	R [][]float64
	// N is each pair's number of complete rows (the diagonal: the
	// variable's).
	N [][]int
}

// MarshalJSON writes R's undefined (NaN) entries as null.
func (m CorMatrix) MarshalJSON() ([]byte, error) {
	r := make([][]*float64, len(m.R))
	for i, row := range m.R {
		r[i] = make([]*float64, len(row))
		for j := range row {
			if !math.IsNaN(row[j]) {
				r[i][j] = &row[j]
			}
		}
	}
	return json.Marshal(struct {
		Names []string     `json:"names"`
		R     [][]*float64 `json:"r"`
		N     [][]int      `json:"n"`
	}{m.Names, r, m.N})
}

// UnmarshalJSON reads R's null entries back as NaN (undefined), so that a
// stored or verified matrix is the one that was combined.
func (m *CorMatrix) UnmarshalJSON(raw []byte) error {
	var w struct {
		Names []string     `json:"names"`
		R     [][]*float64 `json:"r"`
		N     [][]int      `json:"n"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return err
	}
	m.Names, m.N, m.R = w.Names, w.N, make([][]float64, len(w.R))
	for i, row := range w.R {
		m.R[i] = make([]float64, len(row))
		for j, v := range row {
			m.R[i][j] = math.NaN()
			if v != nil {
				m.R[i][j] = *v
			}
		}
	}
	return nil
}

// CombineCorrelation pools the owners' pair moments into the correlation
// matrix of the pooled rows; the owners must name the same variables in the
// same order.
func CombineCorrelation(parts []CorParts) (CorMatrix, error) {
	if len(parts) == 0 {
		return CorMatrix{}, &InputError{Field: "correlations", Detail: "no correlation parts to combine"}
	}
	names := parts[0].Names
	k := len(names)
	pairs := k * (k + 1) / 2
	sums := make([]PairMoments, pairs)
	for i, part := range parts {
		if !slices.Equal(part.Names, names) || len(part.Pairs) != pairs {
			return CorMatrix{}, &InputError{Field: "correlations", Detail: fmt.Sprintf("part %d names other variables than part 1 or lacks pairs", i+1)}
		}
		for j, pm := range part.Pairs {
			if pm.N < 1 || !(pm.CXX >= 0 && pm.CYY >= 0) || !finite(pm.MeanX) || !finite(pm.MeanY) || !finite(pm.CXY) {
				return CorMatrix{}, &InputError{Field: "correlations", Detail: fmt.Sprintf("part %d, pair %d is malformed", i+1, j+1)}
			}
			if i > 0 && (pm.I != sums[j].I || pm.J != sums[j].J) {
				return CorMatrix{}, &InputError{Field: "correlations", Detail: fmt.Sprintf("part %d lists its pairs in another order than part 1", i+1)}
			}
			sums[j] = sums[j].add(pm)
		}
	}
	m := CorMatrix{Names: slices.Clone(names), R: make([][]float64, k), N: make([][]int, k)}
	for i := range k {
		m.R[i] = make([]float64, k)
		m.N[i] = make([]int, k)
	}
	for _, pm := range sums {
		if pm.I < 0 || pm.J < pm.I || pm.J >= k {
			return CorMatrix{}, &InputError{Field: "correlations", Detail: fmt.Sprintf("pair (%d, %d) is outside the %d variables", pm.I, pm.J, k)}
		}
		r := pm.CXY / math.Sqrt(pm.CXX*pm.CYY)
		if pm.I == pm.J && pm.CXX > 0 {
			r = 1
		}
		m.R[pm.I][pm.J], m.R[pm.J][pm.I] = r, r
		m.N[pm.I][pm.J], m.N[pm.J][pm.I] = pm.N, pm.N
	}
	return m, nil
}
