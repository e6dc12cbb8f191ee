package console

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
)

// The result pictures are drawn on the server: Go computes the geometry,
// in SVG user units, and templates/analysis.html writes the elements, so
// the page needs no script and the CSP no exception. Colours come from
// the console's CSS classes.

// tick is an axis mark: its position on the axis and its label.
type tick struct {
	Pos   float64
	Label string
}

// Plot area of every chart: the margins leave room for the axes' labels.
const (
	chartWidth  = 640.0
	chartTop    = 12.0
	chartRight  = 16.0
	chartBottom = 40.0
)

// histBar is one bin of a histogram chart. A withheld bin is drawn the
// height of the plot, hatched: its count is unknown, not zero.
type histBar struct {
	X, Y, W, H float64
	Edges      string // [from, to)
	Count      int
	Suppressed stats.Suppression
}

// histChart is a histogram as a bar chart, bins as wide as their breaks
// are apart.
type histChart struct {
	Width, Height            float64
	Left, Right, Top, Bottom float64
	Bars                     []histBar
	XTicks, YTicks           []tick
	Withheld                 bool // some bin is withheld: the legend explains the hatching
}

// TickEnd is where the x axis' tick marks end, below the axis.
func (c *histChart) TickEnd() float64 { return c.Bottom + 4 }

func newHistChart(h stats.Hist) *histChart {
	n := len(h.Breaks)
	if n < 2 || len(h.Bins) != n-1 || !drawable(h.Breaks[0], h.Breaks[n-1]) {
		return nil
	}
	for i, b := range h.Breaks {
		if !finite(b) || (i > 0 && b <= h.Breaks[i-1]) {
			return nil
		}
	}
	c := &histChart{Width: chartWidth, Height: 260, Left: 56, Right: chartWidth - chartRight, Top: chartTop}
	c.Bottom = c.Height - chartBottom
	most := 1
	for _, b := range h.Bins {
		if b.Suppressed == "" {
			most = max(most, b.Count)
		}
	}
	yTicks, _, yMax := niceTicks(0, float64(most), 5)
	lo, hi := h.Breaks[0], h.Breaks[n-1]
	xAt := func(v float64) float64 { return round1(c.Left + (v-lo)/(hi-lo)*(c.Right-c.Left)) }
	yAt := func(v float64) float64 { return round1(c.Bottom - v/yMax*(c.Bottom-c.Top)) }
	for i, b := range h.Bins {
		x0, x1 := xAt(h.Breaks[i]), xAt(h.Breaks[i+1])
		bar := histBar{X: x0, W: round1(max(x1-x0-1, 1)), Count: b.Count, Suppressed: b.Suppressed,
			Edges: fmt.Sprintf("[%s, %s)", label(h.Breaks[i]), label(h.Breaks[i+1]))}
		if b.Suppressed != "" {
			c.Withheld = true
			bar.Y, bar.H = c.Top, round1(c.Bottom-c.Top)
		} else {
			bar.Y = yAt(float64(b.Count))
			bar.H = round1(c.Bottom - bar.Y)
		}
		c.Bars = append(c.Bars, bar)
	}
	for _, v := range yTicks {
		c.YTicks = append(c.YTicks, tick{Pos: yAt(v), Label: label(v)})
	}
	// Every break is marked, but labelled only as often as labels fit.
	every := (n + 11) / 12
	for i, b := range h.Breaks {
		t := tick{Pos: xAt(b)}
		if i%every == 0 || i == n-1 {
			t.Label = label(b)
		}
		c.XTicks = append(c.XTicks, t)
	}
	return c
}

// forestRow is one coefficient of a forest plot.
type forestRow struct {
	Y, X, Lo, Hi float64
	Name, Label  string
	// Clear: the confidence interval leaves out zero.
	Clear bool
}

// forestChart draws each coefficient's estimate with its confidence
// interval, on one axis with a line at zero.
type forestChart struct {
	Width, Height            float64
	Left, Right, Top, Bottom float64
	ZeroX                    float64
	Rows                     []forestRow
	Ticks                    []tick
}

const forestRowHeight = 28.0

// newForestChart draws the coefficients given (the caller leaves the
// intercept out); a coefficient whose interval is not finite is left
// out, as it has no place on the axis.
func newForestChart(coefs []stats.Coefficient) *forestChart {
	var shown []stats.Coefficient
	for _, co := range coefs {
		if finite(co.Estimate) && finite(co.Lower) && finite(co.Upper) {
			shown = append(shown, co)
		}
	}
	if len(shown) == 0 {
		return nil
	}
	c := &forestChart{Width: chartWidth, Left: 170, Right: chartWidth - chartRight, Top: chartTop}
	c.Bottom = c.Top + forestRowHeight*float64(len(shown))
	c.Height = c.Bottom + chartBottom
	// The axis spans zero and every value shown (the estimate as well:
	// a stored result is not trusted to hold it within its interval).
	lo, hi := 0.0, 0.0
	for _, co := range shown {
		lo = min(lo, co.Lower, co.Upper, co.Estimate)
		hi = max(hi, co.Lower, co.Upper, co.Estimate)
	}
	if lo == hi {
		hi = lo + 1 // every interval is the point zero
	}
	if !drawable(lo, hi) {
		return nil
	}
	ticks, lo, hi := niceTicks(lo, hi, 6)
	xAt := func(v float64) float64 { return round1(c.Left + (v-lo)/(hi-lo)*(c.Right-c.Left)) }
	c.ZeroX = xAt(0)
	for _, v := range ticks {
		c.Ticks = append(c.Ticks, tick{Pos: xAt(v), Label: label(v)})
	}
	for i, co := range shown {
		c.Rows = append(c.Rows, forestRow{
			Y: round1(c.Top + forestRowHeight*(float64(i)+0.5)), X: xAt(co.Estimate), Lo: xAt(co.Lower), Hi: xAt(co.Upper),
			Name:  co.Name,
			Label: fmt.Sprintf("%s: %s [%s, %s]", co.Name, num(co.Estimate), num(co.Lower), num(co.Upper)),
			Clear: co.Lower > 0 || co.Upper < 0,
		})
	}
	return c
}

// niceTicks spans [lo, hi] with about n ticks at round steps (1, 2 or 5
// times a power of ten, the nearest to an even split), and returns them
// with the span they cover.
func niceTicks(lo, hi float64, n int) (ticks []float64, from, to float64) {
	step := niceStep((hi - lo) / float64(max(n-1, 1)))
	from, to = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	if !(step > 0) || !finite(from) || !finite(to) || (to-from)/step > float64(4*n) {
		// No round step fits (a span at the ends of float64): mark the
		// ends alone.
		return []float64{lo, hi}, lo, hi
	}
	for i := 0; ; i++ {
		v := from + float64(i)*step
		if v > to+step/2 {
			break
		}
		if math.Abs(v) < step/1e6 {
			v = 0 // no "-0" or 1e-17 from the sum
		}
		ticks = append(ticks, v)
	}
	return ticks, from, to
}

func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f < 1.5:
		return mag
	case f < 3:
		return 2 * mag
	case f < 7:
		return 5 * mag
	}
	return 10 * mag
}

func label(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// drawable reports whether [lo, hi] is a span an axis can be scaled to.
func drawable(lo, hi float64) bool { return finite(lo) && finite(hi) && finite(hi-lo) && hi > lo }

// calSeries is one calibration curve: a region's released bins, or the
// regions' bins pooled.
type calSeries struct {
	Name   string
	Pooled bool
	Bins   []evaluation.CalibrationBin
}

// calPoint is a calibration bin drawn: its mean predicted probability
// (X) against the observed rate of positives (Y).
type calPoint struct {
	X, Y  float64
	Label string
}

// calLine is one series of a calibration plot, its points joined in
// order of score.
type calLine struct {
	Name   string
	Class  string // series-0 … series-5 by turns, or pooled
	Pooled bool
	Points []calPoint
	Path   string // the polyline's points
}

// calibrationChart plots each series' bins on the unit square, predicted
// against observed, with the diagonal (perfect calibration) as reference.
type calibrationChart struct {
	Width, Height            float64
	Left, Right, Top, Bottom float64
	Series                   []calLine
	XTicks, YTicks           []tick
}

// calColours is how many series colours console.css defines.
const calColours = 6

// TickEnd is where the x axis' tick marks end, below the axis.
func (c *calibrationChart) TickEnd() float64 { return c.Bottom + 4 }

// newCalibrationChart draws the series given. A bin whose mean predicted
// probability or observed rate is not in [0, 1], or that counts no one,
// has no place on the square and is left out (a stored evaluation is not
// trusted to hold only what its owner computed); so is a series with no
// bin left, and with none the chart is not drawn.
func newCalibrationChart(series []calSeries) *calibrationChart {
	const side = 388.0
	c := &calibrationChart{Left: 56, Top: chartTop}
	c.Right, c.Bottom = c.Left+side, c.Top+side
	c.Width, c.Height = c.Right+chartRight, c.Bottom+chartBottom
	xAt := func(v float64) float64 { return round1(c.Left + v*side) }
	yAt := func(v float64) float64 { return round1(c.Bottom - v*side) }
	unit := func(v float64) bool { return v >= 0 && v <= 1 } // false for NaN
	regions := 0
	for _, s := range series {
		l := calLine{Name: plainLabel(s.Name), Pooled: s.Pooled, Class: "pooled"}
		if !s.Pooled {
			l.Class = "series-" + strconv.Itoa(regions%calColours)
			regions++
		}
		var path strings.Builder
		for _, b := range s.Bins {
			if b.N <= 0 || !unit(b.MeanPredicted) || !unit(b.ObservedRate) {
				continue
			}
			p := calPoint{X: xAt(b.MeanPredicted), Y: yAt(b.ObservedRate),
				Label: fmt.Sprintf("%s, %s: %s / %s (n = %d)", l.Name, binRange(b.Lo, b.Hi), num(b.MeanPredicted), num(b.ObservedRate), b.N)}
			if path.Len() > 0 {
				path.WriteByte(' ')
			}
			path.WriteString(strconv.FormatFloat(p.X, 'f', -1, 64) + "," + strconv.FormatFloat(p.Y, 'f', -1, 64))
			l.Points = append(l.Points, p)
		}
		if len(l.Points) == 0 {
			continue
		}
		l.Path = path.String()
		c.Series = append(c.Series, l)
	}
	if len(c.Series) == 0 {
		return nil
	}
	for i := range 6 {
		v := float64(i) / 5
		c.XTicks = append(c.XTicks, tick{Pos: xAt(v), Label: label(v)})
		c.YTicks = append(c.YTicks, tick{Pos: yAt(v), Label: label(v)})
	}
	return c
}

// binRange is a calibration bin's scores: [lo, hi), and [lo, 1] for the
// last bin, which holds the scores of 1.
func binRange(lo, hi float64) string {
	if hi >= 1 {
		return "[" + label(lo) + ", " + label(hi) + "]"
	}
	return "[" + label(lo) + ", " + label(hi) + ")"
}

// plainLabel is a name as a chart shows it: a region's name comes from a
// signed token, so control characters and invalid UTF-8 (which no XML
// document may hold) are replaced, and a long name is cut.
func plainLabel(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\uFFFE' || r == '\uFFFF' || unicode.Is(unicode.Cs, r) {
			return '\uFFFD'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 64 {
		s = string(r[:63]) + "…"
	}
	return s
}
