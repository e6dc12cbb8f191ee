package evaluation_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
)

// Two owners run the researcher's model on their labelled rows; each
// releases only its Evaluation, and the researcher's node pools them.
func ExamplePool() {
	req := evaluation.Request{Thresholds: []float64{0.3, 0.5, 0.7}, CalibrationBins: 5}
	var evs []evaluation.Evaluation
	for owner, n := range []int{3000, 5000} {
		rng := rand.New(rand.NewPCG(uint64(owner), 1))
		scores, labels := make([]float64, n), make([]bool, n)
		for i := range n {
			x := rng.NormFloat64()
			labels[i] = rng.Float64() < 1/(1+math.Exp(-x))               // the truth
			scores[i] = 1 / (1 + math.Exp(-(x + 0.5*rng.NormFloat64()))) // the model
		}
		ev, err := evaluation.Evaluate(scores, labels, req, stats.DefaultRules)
		if err != nil {
			fmt.Println(err)
			return
		}
		evs = append(evs, ev)
	}
	pooled, err := evaluation.Pool(evs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("n %d, AUC %.3f (%.3f to %.3f), within %.4f of the rows' own\n",
		pooled.N, pooled.AUC.Estimate, pooled.AUC.Lower, pooled.AUC.Upper, pooled.AUCBound)
	for _, c := range pooled.Thresholds {
		fmt.Printf("score ≥ %.1f: sensitivity %.3f, specificity %.3f\n", c.Threshold, c.Sensitivity.Value, c.Specificity.Value)
	}
	for _, b := range pooled.Calibration {
		fmt.Printf("[%.1f, %.1f): predicted %.3f, observed %.3f\n", b.Lo, b.Hi, b.MeanPredicted, b.ObservedRate)
	}
	// Output:
	// n 8000, AUC 0.716 (0.704 to 0.727), within 0.0028 of the rows' own
	// score ≥ 0.3: sensitivity 0.888, specificity 0.343
	// score ≥ 0.5: sensitivity 0.649, specificity 0.664
	// score ≥ 0.7: sensitivity 0.340, specificity 0.887
	// [0.0, 0.2): predicted 0.138, observed 0.180
	// [0.2, 0.4): predicted 0.305, observed 0.331
	// [0.4, 0.6): predicted 0.499, observed 0.501
	// [0.6, 0.8): predicted 0.695, observed 0.634
	// [0.8, 1.0): predicted 0.865, observed 0.811
}
