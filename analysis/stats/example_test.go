package stats_test

import (
	"context"
	"fmt"

	"github.com/xborder/xborder/analysis/stats"
)

// Two owners fit one logistic regression: each computes its partial at the
// coefficients the researcher's node sends, and only the partials travel.
func ExampleRun() {
	// Each owner: an intercept and a treatment indicator per row, and the outcome.
	type owner struct{ x, y []float64 }
	var owners [2]owner
	for o, events := range [2][2]int{{3, 7}, {4, 9}} { // events among 10 untreated, 10 treated
		for i := range 20 {
			treated, row := i >= 10, i%10
			owners[o].x = append(owners[o].x, 1, map[bool]float64{false: 0, true: 1}[treated])
			event := (!treated && row < events[0]) || (treated && row < events[1])
			owners[o].y = append(owners[o].y, map[bool]float64{false: 0, true: 1}[event])
		}
	}
	partial := func(_ context.Context, iteration int, beta []float64) (stats.Partial, error) {
		var parts []stats.Partial
		for _, o := range owners {
			if err := stats.DefaultRules.CheckIteration(iteration); err != nil {
				return stats.Partial{}, err
			}
			pt, err := stats.IRLSPartial(stats.Binomial, o.x, o.y, 2, beta, stats.DefaultRules)
			if err != nil {
				return stats.Partial{}, err
			}
			parts = append(parts, pt)
		}
		return stats.Sum(parts)
	}
	fit, err := stats.Run(context.Background(), stats.Binomial, []string{"(Intercept)", "treated"}, partial, stats.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range fit.Coefficients {
		fmt.Printf("%-12s %7.4f  se %.4f  %s %6.3f  p %.4f\n", c.Name, c.Estimate, c.StdError, fit.Statistic, c.Statistic, c.PValue)
	}
	fmt.Printf("deviance %.4f on %d df, AIC %.4f, %d iterations\n", fit.Deviance, fit.DF, fit.AIC, fit.Iterations)
	// Output:
	// (Intercept)  -0.6190  se 0.4688  z -1.320  p 0.1867
	// treated       2.0053  se 0.7296  z  2.749  p 0.0060
	// deviance 45.9140 on 38 df, AIC 49.9140, 4 iterations
}

// A two-way table from one owner: the small counts and, in each row that
// would hold a single withheld count, the next smallest are withheld.
func ExampleCrossTab() {
	counts := [][]int{{3, 10, 12}, {4, 20, 25}, {30, 40, 50}}
	var region, visits []int32
	for r, row := range counts {
		for c, n := range row {
			for range n {
				region, visits = append(region, int32(r)), append(visits, int32(c))
			}
		}
	}
	t, err := stats.CrossTab(region, []string{"north", "south", "east"}, visits, []string{"none", "one", "several"}, stats.DefaultRules)
	if err != nil {
		fmt.Println(err)
		return
	}
	for r, row := range t.Cells {
		fmt.Printf("%-6s", t.Rows[r])
		for _, c := range row {
			if c.Suppressed != "" {
				fmt.Printf(" %12s", c.Suppressed)
			} else {
				fmt.Printf(" %12d", c.Count)
			}
		}
		fmt.Println()
	}
	// Output:
	// north   small_count    secondary           12
	// south   small_count    secondary           25
	// east             30           40           50
}
