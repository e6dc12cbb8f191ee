package console

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/xborder/xborder/analysis/evaluation"
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

// Whatever a committed evaluation holds, the calibration plot is drawn
// within the picture with finite coordinates, or not drawn, and the SVG
// written is well-formed XML whatever the regions' names.
func FuzzCalibrationChart(f *testing.F) {
	msgs, err := loadMessages()
	if err != nil {
		f.Fatal(err)
	}
	pages, err := parsePages()
	if err != nil {
		f.Fatal(err)
	}
	p := &page{x: &rc{c: &Console{msgs: msgs}, lang: "en"}}
	f.Add("de-bw", uint8(5), 0.12, 0.07, 40, 0.1, 0.2)
	f.Add("<x>&\"'", uint8(1), math.NaN(), 2.0, 0, -0.5, 1e300)
	f.Add("a\x00b\x1b\xff", uint8(50), 1.0, 0.0, -3, math.Inf(1), math.Inf(-1))
	f.Add("", uint8(0), 0.5, 0.5, 1<<30, 0.0, 1.0)
	f.Fuzz(func(t *testing.T, name string, bins uint8, pred, obs float64, n int, step, skew float64) {
		var series []calSeries
		for s := range 3 {
			cs := calSeries{Name: name + strings.Repeat("'", s), Pooled: s == 2}
			for i := range int(bins % 64) {
				fi := float64(i)
				cs.Bins = append(cs.Bins, evaluation.CalibrationBin{Lo: fi * step, Hi: (fi + 1) * step, N: n + i*s,
					MeanPredicted: pred + fi*step, ObservedRate: obs + fi*skew*float64(s)})
			}
			series = append(series, cs)
		}
		c := newCalibrationChart(series)
		if c == nil {
			return
		}
		for _, l := range c.Series {
			if len(l.Points) == 0 {
				t.Fatalf("series %q drawn without points", l.Name)
			}
			for _, pt := range l.Points {
				checkIn(t, "point", c.Width, c.Height, pt.X, pt.Y)
				if pt.X < c.Left || pt.X > c.Right || pt.Y < c.Top || pt.Y > c.Bottom {
					t.Fatalf("point (%g, %g) off the plot", pt.X, pt.Y)
				}
			}
		}
		for _, tk := range append(c.XTicks, c.YTicks...) {
			checkIn(t, "tick", c.Width, c.Height, tk.Pos)
		}
		var b strings.Builder
		if err := pages["entry.html"].ExecuteTemplate(&b, "calibration", map[string]any{"P": p, "C": c, "ID": "calibration-0", "Series": series}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		svg := out[strings.Index(out, "<svg"):]
		svg = svg[:strings.Index(svg, "</svg>")+len("</svg>")]
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("the plot is not well-formed XML: %v\n%s", err, svg)
			}
		}
	})
}
