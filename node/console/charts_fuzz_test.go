package console

import (
	"math"
	"testing"

	"github.com/xborder/xborder/analysis/stats"
)

// Whatever a stored result holds, the charts are drawn with finite
// coordinates within the picture, or not drawn at all, and never panic
// or loop without end.
func FuzzCharts(f *testing.F) {
	f.Add(30.0, 10.0, 7, 100, uint8(3), 0.5, 0.1, 1.0)
	f.Add(0.0, 1e-300, 2, 0, uint8(0), -1e308, 1e308, 0.0)
	f.Add(-5.0, math.Inf(1), 200, 1<<30, uint8(255), math.NaN(), 0.0, -2.0)
	f.Add(1e15, 0.25, 3, 5, uint8(1), 1e15, 1e15, 1e15)
	f.Fuzz(func(t *testing.T, start, width float64, bins, count int, withheld uint8, est, half, skew float64) {
		bins = max(1, min(bins%stats.MaxHistogramBins, stats.MaxHistogramBins))
		h := stats.Hist{Breaks: []float64{start}}
		for i := range bins {
			h.Breaks = append(h.Breaks, start+width*float64(i+1))
			cell := stats.Cell{Count: (count + i*7) & 0xffffff}
			if withheld&(1<<(i%8)) != 0 {
				cell = stats.Cell{Suppressed: stats.SuppressedSmall}
			}
			h.Bins = append(h.Bins, cell)
		}
		if c := newHistChart(h); c != nil {
			for _, b := range c.Bars {
				checkIn(t, "bar", c.Width, c.Height, b.X, b.Y, b.X+b.W, b.Y+b.H)
			}
			for _, tk := range c.XTicks {
				checkIn(t, "x tick", c.Width, c.Height, tk.Pos)
			}
			for _, tk := range c.YTicks {
				checkIn(t, "y tick", c.Width, c.Height, tk.Pos)
			}
		}
		coefs := []stats.Coefficient{
			{Name: "a", Estimate: est, Lower: est - half, Upper: est + half},
			{Name: "b", Estimate: skew, Lower: skew - math.Abs(half), Upper: skew + 2*math.Abs(half)},
		}
		if c := newForestChart(coefs); c != nil {
			checkIn(t, "zero", c.Width, c.Height, c.ZeroX)
			for _, r := range c.Rows {
				checkIn(t, "term", c.Width, c.Height, r.Y, r.Lo, r.Hi)
			}
			for _, tk := range c.Ticks {
				checkIn(t, "tick", c.Width, c.Height, tk.Pos)
			}
		}
	})
}

func checkIn(t *testing.T, what string, w, h float64, vs ...float64) {
	t.Helper()
	for _, v := range vs {
		if !finite(v) || v < -1 || v > math.Max(w, h)+1 {
			t.Fatalf("%s at %g, outside the %g×%g picture", what, v, w, h)
		}
	}
}
