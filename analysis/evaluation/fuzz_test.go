package evaluation

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/xborder/xborder/analysis/stats"
)

// FuzzEvaluate reads rules, a request and rows from the bytes: byte 0
// MinCellCount (1–8), byte 1 the calibration bins (0–63, some invalid),
// byte 2 the level, byte 3 the number of thresholds, two bytes per
// threshold (in thousandths, some off range), then three bytes per row: a
// 16-bit score (65535 is 1; 65534 NaN, 65533 1.5, both invalid) and a
// label bit. Evaluate must answer with a typed error or an evaluation whose
// metrics are in range and whose release obeys the rules.
func FuzzEvaluate(f *testing.F) {
	seed := func(k, bins, level byte, thresholds []uint16, rows int, step uint16) []byte {
		b := []byte{k, bins, level, byte(len(thresholds))}
		for _, t := range thresholds {
			b = binary.LittleEndian.AppendUint16(b, t)
		}
		for i := range rows {
			b = binary.LittleEndian.AppendUint16(b, uint16(i)*step)
			b = append(b, byte(i*7%3))
		}
		return b
	}
	f.Add(seed(5, 10, 243, []uint16{100, 500, 900}, 200, 331))
	f.Add(seed(1, 2, 128, []uint16{0}, 4, 20000))
	f.Add(seed(3, 50, 250, []uint16{250, 251, 252, 999}, 60, 1000))
	f.Add(seed(5, 0, 0, []uint16{500, 400}, 30, 7))
	f.Add(seed(5, 10, 0, []uint16{1000}, 30, 7))
	f.Add(seed(2, 7, 200, nil, 40, 65535))
	f.Add(append(seed(2, 7, 200, nil, 10, 3), 0xfe, 0xff, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		rules := stats.DefaultRules
		rules.MinCellCount = int(b[0]%8) + 1
		rules.MinSubsetRows = 2
		req := Request{CalibrationBins: int(b[1] % 64), Level: float64(b[2]) / 256}
		nt := int(b[3] % 16)
		b = b[4:]
		for i := 0; i < nt && len(b) >= 2; i++ {
			req.Thresholds = append(req.Thresholds, float64(binary.LittleEndian.Uint16(b)%1100)/1000)
			b = b[2:]
		}
		var scores []float64
		var labels []bool
		for ; len(b) >= 3; b = b[3:] {
			s := float64(binary.LittleEndian.Uint16(b)) / 65535
			switch binary.LittleEndian.Uint16(b) {
			case 65534:
				s = math.NaN()
			case 65533:
				s = 1.5
			}
			scores, labels = append(scores, s), append(labels, b[2]&1 == 1)
		}
		ev, err := Evaluate(scores, labels, req, rules)
		if err != nil {
			var ie *stats.InputError
			var de *stats.DisclosureError
			if !errors.As(err, &ie) && !errors.As(err, &de) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		in01 := func(what string, x float64) {
			if !(x >= 0 && x <= 1) {
				t.Fatalf("%s %v is not in [0, 1]", what, x)
			}
		}
		a := ev.AUC
		in01("AUC", a.Estimate)
		in01("lower", a.Lower)
		in01("upper", a.Upper)
		in01("Brier", ev.Brier)
		if !(a.Lower <= a.Estimate && a.Estimate <= a.Upper) || !(a.SE >= 0) || math.IsInf(a.SE, 0) {
			t.Fatalf("interval %+v", a)
		}
		for _, c := range ev.Thresholds {
			in01("accuracy", c.Accuracy.Value)
			in01("sensitivity", c.Sensitivity.Value)
			in01("specificity", c.Specificity.Value)
		}
		for _, bin := range ev.Calibration {
			in01("mean predicted", bin.MeanPredicted)
			in01("observed rate", bin.ObservedRate)
		}
		checkRelease(t, ev, rules.MinCellCount)
		if _, err := json.Marshal(ev); err != nil {
			t.Fatal(err)
		}
		p, err := Pool([]Evaluation{ev})
		if err != nil {
			t.Fatalf("pooling the owner's own evaluation: %v", err)
		}
		if math.Abs(p.AUC.Estimate-a.Estimate) > p.AUCBound+1e-15 {
			t.Fatalf("pooled AUC %v, owner %v, bound %v", p.AUC.Estimate, a.Estimate, p.AUCBound)
		}
	})
}

// FuzzPool feeds Pool what a partner's node could send: any JSON. It must
// answer with a typed error or a result JSON can carry, never panic.
func FuzzPool(f *testing.F) {
	a, _ := logistic(1, 300, 0, 0)
	_, la := logistic(1, 300, 0, 0)
	ev, err := Evaluate(a, la, Request{Thresholds: []float64{0.3, 0.5}}, stats.DefaultRules)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal([]Evaluation{ev, ev})
	f.Add(good)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"n":10,"positives":5,"negatives":5,"auc":{"level":0.95},"parts":{"grid":1000,"cells":[{"lo":0,"hi":1,"positives":5,"negatives":5}]},"calibration":[{"lo":0,"hi":1,"n":10,"positives":5,"score_sum":5}]}]`))
	f.Add([]byte(`[{"n":4294967294,"positives":2147483647,"negatives":2147483647,"auc":{"level":0.95},"parts":{"grid":1000,"cells":[{"lo":0,"hi":0.5,"positives":2147483647,"negatives":2147483647}]},"calibration":[{"lo":0,"hi":1,"n":4294967294,"score_sum":1}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var parts []Evaluation
		if json.Unmarshal(b, &parts) != nil {
			return
		}
		p, err := Pool(parts)
		if err != nil {
			var ie *stats.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("pooled result JSON cannot carry: %v", err)
		}
		if !(p.AUC.Estimate >= 0 && p.AUC.Estimate <= 1 && p.AUCBound >= 0 && p.AUCBound <= 0.5) {
			t.Fatalf("pooled AUC %+v, bound %v", p.AUC, p.AUCBound)
		}
	})
}
