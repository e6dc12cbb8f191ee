package stats

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkGLM fits the same model federated (5 owners of 200,000 rows,
// their partials computed one after another, no network) and pooled (the
// 1,000,000 rows in one place) in the same run, and reports both times and
// their ratio. The design is an intercept and 10 covariates: 7 numeric and
// a four-level factor's 3 indicators.
func BenchmarkGLM(b *testing.B) {
	const owners, rows, p = 5, 200_000, 11
	n := owners * rows
	rng := rand.New(rand.NewPCG(42, 16))
	x := make([]float64, n*p)
	truth := []float64{-0.2, 0.3, -0.2, 0.1, 0.05, -0.1, 0.2, 0.15, 0.4, -0.3, 0.2}
	names := make([]string, p)
	for j := range names {
		names[j] = fmt.Sprintf("b%d", j)
	}
	eta := make([]float64, n)
	for i := range n {
		row := x[i*p : (i+1)*p]
		row[0] = 1
		for j := 1; j < 8; j++ {
			row[j] = rng.NormFloat64()
		}
		if level := rng.IntN(4); level > 0 {
			row[7+level] = 1
		}
		for j, v := range row {
			eta[i] += v * truth[j]
		}
	}
	ys := map[Family][]float64{Gaussian: make([]float64, n), Binomial: make([]float64, n), Poisson: make([]float64, n)}
	for i, e := range eta {
		ys[Gaussian][i] = e + rng.NormFloat64()
		ys[Binomial][i] = b2f(rng.Float64() < 1/(1+math.Exp(-e)))
		ys[Poisson][i] = poissonDraw(rng, math.Exp(e))
	}
	ctx := context.Background()
	for _, fam := range []Family{Gaussian, Binomial, Poisson} {
		y := ys[fam]
		federated := func(_ context.Context, _ int, beta []float64) (Partial, error) {
			parts := make([]Partial, owners)
			for o := range owners {
				var err error
				parts[o], err = IRLSPartial(fam, x[o*rows*p:(o+1)*rows*p], y[o*rows:(o+1)*rows], p, beta, DefaultRules)
				if err != nil {
					return Partial{}, err
				}
			}
			return Sum(parts)
		}
		b.Run(string(fam), func(b *testing.B) {
			var fedTime, poolTime time.Duration
			var iterations int
			for b.Loop() {
				start := time.Now()
				fed, err := Run(ctx, fam, names, federated, Options{})
				if err != nil {
					b.Fatal(err)
				}
				fedTime += time.Since(start)
				start = time.Now()
				pooled, err := FitPooled(ctx, fam, names, x, y, p, DefaultRules, Options{})
				if err != nil {
					b.Fatal(err)
				}
				poolTime += time.Since(start)
				if fed.Iterations != pooled.Iterations || !near(fed.Deviance, pooled.Deviance, 1e-8) {
					b.Fatalf("federated %+v differs from pooled %+v", fed, pooled)
				}
				iterations = fed.Iterations
			}
			b.ReportMetric(fedTime.Seconds()*1000/float64(b.N), "federated-ms/fit")
			b.ReportMetric(poolTime.Seconds()*1000/float64(b.N), "pooled-ms/fit")
			b.ReportMetric(float64(fedTime)/float64(poolTime), "federated/pooled")
			b.ReportMetric(float64(iterations), "iterations")
			// One pass of IRLSPartial over all rows, in rows per second.
			passes := float64(b.N * (iterations + 1))
			b.ReportMetric(passes*float64(n)/poolTime.Seconds()/1e6, "Mrows/s")
		})
	}
}

// BenchmarkIRLSPartial is one owner's pass over 200,000 rows of 11 columns
// at given coefficients.
func BenchmarkIRLSPartial(b *testing.B) {
	const rows, p = 200_000, 11
	rng := rand.New(rand.NewPCG(43, 16))
	x := make([]float64, rows*p)
	y := make([]float64, rows)
	for i := range rows {
		row := x[i*p : (i+1)*p]
		row[0] = 1
		for j := 1; j < p; j++ {
			row[j] = rng.NormFloat64()
		}
		y[i] = b2f(rng.IntN(2) == 0)
	}
	beta := make([]float64, p)
	for j := range beta {
		beta[j] = 0.01 * float64(j)
	}
	for _, fam := range []Family{Gaussian, Binomial} {
		b.Run(string(fam), func(b *testing.B) {
			for b.Loop() {
				if _, err := IRLSPartial(fam, x, y, p, beta, DefaultRules); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
		})
	}
}
