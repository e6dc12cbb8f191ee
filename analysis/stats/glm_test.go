package stats

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// synthetic is a design (intercept, two numeric covariates, a three-level
// factor as two indicators) with a response drawn from fam at the known
// coefficients truth.
type synthetic struct {
	names []string
	x, y  []float64
	p     int
	truth []float64
}

func makeSynthetic(fam Family, n int, seed uint64) synthetic {
	rng := rand.New(rand.NewPCG(seed, 16))
	s := synthetic{names: []string{"(Intercept)", "x1", "x2", "groupB", "groupC"}, p: 5}
	switch fam {
	case Gaussian:
		s.truth = []float64{1, 0.5, -0.3, 0.8, -0.4}
	case Binomial:
		s.truth = []float64{-0.5, 0.7, 0.4, -0.6, 0.9}
	case Poisson:
		s.truth = []float64{0.3, 0.2, -0.25, 0.5, 0.1}
	}
	s.x = make([]float64, 0, n*s.p)
	s.y = make([]float64, n)
	for i := range n {
		level := rng.Float64()
		row := []float64{1, rng.NormFloat64(), 2 * rng.Float64(), b2f(level >= 0.5 && level < 0.8), b2f(level >= 0.8)}
		s.x = append(s.x, row...)
		var eta float64
		for j, v := range row {
			eta += v * s.truth[j]
		}
		switch fam {
		case Gaussian:
			s.y[i] = eta + rng.NormFloat64()
		case Binomial:
			s.y[i] = b2f(rng.Float64() < 1/(1+math.Exp(-eta)))
		case Poisson:
			s.y[i] = poissonDraw(rng, math.Exp(eta))
		}
	}
	return s
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// poissonDraw is Knuth's method, fine for the small means used here.
func poissonDraw(rng *rand.Rand, mean float64) float64 {
	limit, k, prod := math.Exp(-mean), 0.0, rng.Float64()
	for prod > limit {
		k++
		prod *= rng.Float64()
	}
	return k
}

// federated returns Run's partial for owners holding the given row ranges.
func (s synthetic) federated(t testing.TB, bounds []int, rules Rules) func(context.Context, int, []float64) (Partial, error) {
	return func(_ context.Context, iter int, beta []float64) (Partial, error) {
		parts := make([]Partial, 0, len(bounds)-1)
		for i := 0; i+1 < len(bounds); i++ {
			lo, hi := bounds[i], bounds[i+1]
			if err := rules.CheckIteration(iter); err != nil {
				return Partial{}, err
			}
			pt, err := IRLSPartial(fam(t, s), s.x[lo*s.p:hi*s.p], s.y[lo:hi], s.p, beta, rules)
			if err != nil {
				return Partial{}, err
			}
			parts = append(parts, pt)
		}
		return Sum(parts)
	}
}

// fam recovers the family a synthetic set was drawn for from its truth.
func fam(t testing.TB, s synthetic) Family {
	switch s.truth[0] {
	case 1:
		return Gaussian
	case -0.5:
		return Binomial
	case 0.3:
		return Poisson
	}
	t.Fatalf("unknown synthetic set")
	return ""
}

func near(a, b, rel float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

func TestFederatedEqualsPooled(t *testing.T) {
	ctx := context.Background()
	for _, f := range []Family{Gaussian, Binomial, Poisson} {
		t.Run(string(f), func(t *testing.T) {
			s := makeSynthetic(f, 6000, 7)
			pooled, err := FitPooled(ctx, f, s.names, s.x, s.y, s.p, DefaultRules, Options{})
			if err != nil {
				t.Fatal(err)
			}
			fed, err := Run(ctx, f, s.names, s.federated(t, []int{0, 450, 1900, 2300, 4700, 6000}, DefaultRules), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if fed.Iterations != pooled.Iterations || fed.N != pooled.N || fed.DF != pooled.DF || fed.Statistic != pooled.Statistic || !fed.Converged {
				t.Fatalf("federated %+v\npooled %+v", fed, pooled)
			}
			for _, c := range [][3]any{{"deviance", fed.Deviance, pooled.Deviance}, {"aic", fed.AIC, pooled.AIC}, {"dispersion", fed.Dispersion, pooled.Dispersion}} {
				if !near(c[1].(float64), c[2].(float64), 1e-8) {
					t.Errorf("%s: federated %v, pooled %v", c[0], c[1], c[2])
				}
			}
			for j, fc := range fed.Coefficients {
				pc := pooled.Coefficients[j]
				for _, c := range [][3]any{{"estimate", fc.Estimate, pc.Estimate}, {"std_error", fc.StdError, pc.StdError}, {"statistic", fc.Statistic, pc.Statistic},
					{"p_value", fc.PValue, pc.PValue}, {"lower", fc.Lower, pc.Lower}, {"upper", fc.Upper, pc.Upper}} {
					if !near(c[1].(float64), c[2].(float64), 1e-8) {
						t.Errorf("%s %s: federated %v, pooled %v", fc.Name, c[0], c[1], c[2])
					}
				}
				// The generating coefficients lie within four standard errors.
				if d := math.Abs(fc.Estimate - s.truth[j]); d > 4*fc.StdError {
					t.Errorf("%s: estimate %v is %.1f standard errors from the true %v", fc.Name, fc.Estimate, d/fc.StdError, s.truth[j])
				}
				if !(fc.Lower < fc.Estimate && fc.Estimate < fc.Upper) || fc.PValue < 0 || fc.PValue > 1 {
					t.Errorf("%s: interval or p-value out of shape: %+v", fc.Name, fc)
				}
			}
			wantIter := map[Family]int{Gaussian: 2}[f]
			if wantIter != 0 && fed.Iterations != wantIter {
				t.Errorf("gaussian fits take R's 2 iterations, got %d", fed.Iterations)
			}
			t.Logf("%s: %d iterations, deviance %.6f, AIC %.6f", f, fed.Iterations, fed.Deviance, fed.AIC)
		})
	}
}

// TestClosedForms checks fits whose maximum-likelihood answers are known
// exactly: a single binary covariate. Standard errors are compared within
// 1e-6 rather than to rounding because, as in R's summary.glm, they come
// from the weights of the last iteration's start, not of its end.
func TestClosedForms(t *testing.T) {
	ctx := context.Background()
	names := []string{"(Intercept)", "treated"}
	design := func(n0, n1 int) []float64 {
		var x []float64
		for i := range n0 + n1 {
			x = append(x, 1, b2f(i >= n0))
		}
		return x
	}
	t.Run("poisson", func(t *testing.T) {
		y := []float64{0, 1, 3, 2, 1, 0, 2, 4, 1, 2 /* treated */, 5, 3, 4, 6, 2, 3, 7, 4, 5, 3}
		var s0, s1 float64
		for i, v := range y {
			if i < 10 {
				s0 += v
			} else {
				s1 += v
			}
		}
		fit, err := FitPooled(ctx, Poisson, names, design(10, 10), y, 2, DefaultRules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var dev, ll float64
		for i, v := range y {
			mu := s0 / 10
			if i >= 10 {
				mu = s1 / 10
			}
			if v > 0 {
				dev += 2 * (v*math.Log(v/mu) - (v - mu))
			} else {
				dev += 2 * mu
			}
			lg, _ := math.Lgamma(v + 1)
			ll += v*math.Log(mu) - mu - lg
		}
		want := []float64{math.Log(s0 / 10), math.Log(s1 / s0), 1 / math.Sqrt(s0), math.Sqrt(1/s0 + 1/s1), dev, -2*ll + 4}
		got := []float64{fit.Coefficients[0].Estimate, fit.Coefficients[1].Estimate, fit.Coefficients[0].StdError, fit.Coefficients[1].StdError, fit.Deviance, fit.AIC}
		for i := range want {
			if !near(got[i], want[i], 1e-6) {
				t.Errorf("figure %d: got %.12g, want %.12g", i, got[i], want[i])
			}
		}
	})
	t.Run("binomial", func(t *testing.T) {
		// 6 of 20 untreated, 13 of 20 treated have the outcome.
		var y []float64
		for i := range 40 {
			y = append(y, b2f((i < 20 && i < 6) || (i >= 20 && i < 33)))
		}
		fit, err := FitPooled(ctx, Binomial, names, design(20, 20), y, 2, DefaultRules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		logit := func(p float64) float64 { return math.Log(p / (1 - p)) }
		want := []float64{logit(6.0 / 20), logit(13.0/20) - logit(6.0/20), math.Sqrt(1.0/6 + 1.0/14), math.Sqrt(1.0/6 + 1.0/14 + 1.0/13 + 1.0/7)}
		got := []float64{fit.Coefficients[0].Estimate, fit.Coefficients[1].Estimate, fit.Coefficients[0].StdError, fit.Coefficients[1].StdError}
		for i := range want {
			if !near(got[i], want[i], 1e-6) {
				t.Errorf("figure %d: got %.12g, want %.12g", i, got[i], want[i])
			}
		}
		if fit.Statistic != "z" || fit.Dispersion != 1 {
			t.Errorf("binomial fits use z statistics and dispersion 1: %+v", fit)
		}
	})
	t.Run("gaussian", func(t *testing.T) {
		y := []float64{2.1, 1.9, 2.4, 2.0, 2.6, 3.9, 4.3, 4.0, 3.6, 4.2}
		fit, err := FitPooled(ctx, Gaussian, names, design(5, 5), y, 2, DefaultRules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m0, m1 := 11.0/5, 20.0/5
		var rss float64
		for i, v := range y {
			m := m0
			if i >= 5 {
				m = m1
			}
			rss += (v - m) * (v - m)
		}
		s2 := rss / 8
		want := []float64{m0, m1 - m0, math.Sqrt(s2 / 5), math.Sqrt(2 * s2 / 5), rss, s2, 10*(math.Log(2*math.Pi*rss/10)+1) + 2 + 4}
		got := []float64{fit.Coefficients[0].Estimate, fit.Coefficients[1].Estimate, fit.Coefficients[0].StdError, fit.Coefficients[1].StdError, fit.Deviance, fit.Dispersion, fit.AIC}
		for i := range want {
			if !near(got[i], want[i], 1e-9) {
				t.Errorf("figure %d: got %.12g, want %.12g", i, got[i], want[i])
			}
		}
		if fit.Statistic != "t" || fit.DF != 8 || fit.Iterations != 2 {
			t.Errorf("gaussian: %+v", fit)
		}
		// The interval's half-width is R's qt(0.975, 8) = 2.306004135 times the SE.
		c := fit.Coefficients[1]
		if want := 2.306004135 * c.StdError; !near(c.Upper-c.Estimate, want, 1e-8) {
			t.Errorf("interval half-width %.10g, want %.10g", c.Upper-c.Estimate, want)
		}
	})
}

func TestSingularDesign(t *testing.T) {
	ctx := context.Background()
	s := makeSynthetic(Gaussian, 300, 3)
	// Append a column twice x1 (collinear), then one of zeros (an empty level).
	for _, tc := range []struct {
		name   string
		column func(row []float64) float64
	}{
		{"twice_x1", func(row []float64) float64 { return 2 * row[1] }},
		{"sum_of_levels", func(row []float64) float64 { return 1 - row[3] - row[4] }},
		{"empty_level", func([]float64) float64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x []float64
			for i := 0; i < len(s.y); i++ {
				row := s.x[i*s.p : (i+1)*s.p]
				x = append(append(x, row...), tc.column(row))
			}
			names := append(append([]string(nil), s.names...), tc.name)
			_, err := FitPooled(ctx, Gaussian, names, x, s.y, s.p+1, DefaultRules, Options{})
			var se *SingularError
			if !errors.As(err, &se) || se.Coefficient != tc.name || se.Index != s.p {
				t.Fatalf("want a SingularError naming %s, got %v", tc.name, err)
			}
		})
	}
}

func TestNonConvergence(t *testing.T) {
	ctx := context.Background()
	s := makeSynthetic(Binomial, 500, 4)
	_, err := FitPooled(ctx, Binomial, s.names, s.x, s.y, s.p, DefaultRules, Options{MaxIterations: 2})
	var ce *ConvergenceError
	if !errors.As(err, &ce) || ce.Iterations != 2 || !(ce.Change > 1e-8) {
		t.Fatalf("want a ConvergenceError after 2 iterations, got %v", err)
	}
	// A poisson fit told to start from absurd coefficients diverges.
	_, err = Run(ctx, Poisson, []string{"a"}, func(_ context.Context, iter int, beta []float64) (Partial, error) {
		return Partial{N: 10, P: 1, XtWX: []float64{math.Inf(1)}, XtWz: []float64{1}, Deviance: math.Inf(1)}, nil
	}, Options{})
	if !errors.As(err, &ce) {
		t.Fatalf("want a ConvergenceError for a diverging fit, got %v", err)
	}
	// Owners refuse iterations past their cap.
	rules := DefaultRules
	rules.MaxIterations = 2
	_, err = Run(ctx, Binomial, s.names, s.federated(t, []int{0, 200, 500}, rules), Options{MaxIterations: 10})
	var de *DisclosureError
	if !errors.As(err, &de) || de.Rule != RuleMaxIterations {
		t.Fatalf("want the owners' max_iterations refusal, got %v", err)
	}
}

func TestRunCancelled(t *testing.T) {
	s := makeSynthetic(Gaussian, 100, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FitPooled(ctx, Gaussian, s.names, s.x, s.y, s.p, DefaultRules, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestIRLSPartialRefusals(t *testing.T) {
	s := makeSynthetic(Binomial, 60, 6)
	withColumn := func(col func(i int) float64) []float64 {
		var x []float64
		for i := range 60 {
			x = append(append(x, s.x[i*s.p:(i+1)*s.p]...), col(i))
		}
		return x
	}
	fewOnes := make([]float64, 60)
	for i := range 4 {
		fewOnes[i] = 1
	}
	badRules := DefaultRules
	badRules.MaxParamsShare = 0
	for _, tc := range []struct {
		name       string
		fam        Family
		x, y       []float64
		p          int
		beta       []float64
		rules      Rules
		rule       string // a DisclosureError's rule, or "" for an InputError
		inputField string
	}{
		{"four rows", Binomial, s.x[:4*5], s.y[:4], 5, nil, DefaultRules, RuleMinSubsetRows, ""},
		{"too many parameters", Binomial, s.x[:15*5], s.y[:15], 5, nil, DefaultRules, RuleMaxParamsShare, ""},
		{"four events", Binomial, s.x, fewOnes, 5, nil, DefaultRules, RuleGLMSmallCategory, ""},
		{"indicator with three ones", Binomial, withColumn(func(i int) float64 { return b2f(i < 3) }), s.y, 6, nil, DefaultRules, RuleGLMSmallCategory, ""},
		{"indicator with two zeros", Binomial, withColumn(func(i int) float64 { return b2f(i >= 2) }), s.y, 6, nil, DefaultRules, RuleGLMSmallCategory, ""},
		{"binomial response of 2", Binomial, s.x, append([]float64{2}, s.y[1:]...), 5, nil, DefaultRules, "", "y"},
		{"poisson response of 1.5", Poisson, s.x, append([]float64{1.5}, s.y[1:]...), 5, nil, DefaultRules, "", "y"},
		{"poisson response of -1", Poisson, s.x, append([]float64{-1}, s.y[1:]...), 5, nil, DefaultRules, "", "y"},
		{"NaN in the design", Gaussian, withColumn(func(i int) float64 { return []float64{1, math.NaN()}[min(i, 1)] }), s.y, 6, nil, DefaultRules, "", "x"},
		{"ragged design", Gaussian, s.x[:len(s.x)-1], s.y, 5, nil, DefaultRules, "", "x"},
		{"beta too short", Gaussian, s.x, s.y, 5, []float64{1}, DefaultRules, "", "beta"},
		{"beta infinite", Gaussian, s.x, s.y, 5, []float64{1, 2, 3, 4, math.Inf(1)}, DefaultRules, "", "beta"},
		{"unknown family", Family("gamma"), s.x, s.y, 5, nil, DefaultRules, "", "family"},
		{"bad rules", Gaussian, s.x, s.y, 5, nil, badRules, "", "rules"},
		{"no columns", Gaussian, nil, s.y, 0, nil, DefaultRules, "", "p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := IRLSPartial(tc.fam, tc.x, tc.y, tc.p, tc.beta, tc.rules)
			var de *DisclosureError
			var ie *InputError
			switch {
			case tc.rule != "":
				if !errors.As(err, &de) || de.Rule != tc.rule {
					t.Fatalf("want a %s refusal, got %v", tc.rule, err)
				}
			default:
				if !errors.As(err, &ie) || ie.Field != tc.inputField {
					t.Fatalf("want an input error on %s, got %v", tc.inputField, err)
				}
			}
		})
	}
	// The same data pass once the offending column holds enough of each.
	if _, err := IRLSPartial(Binomial, withColumn(func(i int) float64 { return b2f(i < 5) }), s.y, 6, nil, DefaultRules); err != nil {
		t.Fatalf("an indicator with 5 ones passes: %v", err)
	}
}

func TestParseFamily(t *testing.T) {
	for in, want := range map[string]Family{"gaussian": Gaussian, " Binomial ": Binomial, "POISSON": Poisson} {
		if got, err := ParseFamily(in); err != nil || got != want {
			t.Errorf("ParseFamily(%q) = %q, %v", in, got, err)
		}
	}
	var ie *InputError
	if _, err := ParseFamily("quasipoisson"); !errors.As(err, &ie) {
		t.Errorf("want an InputError, got %v", err)
	}
}

func TestSumChecksDimensions(t *testing.T) {
	a := Partial{N: 5, P: 1, XtWX: []float64{1}, XtWz: []float64{1}}
	b := Partial{N: 5, P: 2, XtWX: []float64{1, 0, 0, 1}, XtWz: []float64{1, 1}}
	var ie *InputError
	if _, err := Sum([]Partial{a, b}); !errors.As(err, &ie) {
		t.Fatalf("want an InputError, got %v", err)
	}
	if _, err := Sum(nil); !errors.As(err, &ie) {
		t.Fatalf("want an InputError, got %v", err)
	}
	if s, err := Sum([]Partial{a, a}); err != nil || s.N != 10 || s.XtWX[0] != 2 {
		t.Fatalf("Sum = %+v, %v", s, err)
	}
}

func TestRulesValidate(t *testing.T) {
	if err := DefaultRules.Validate(); err != nil {
		t.Fatal(err)
	}
	r := DefaultRules
	r.MinSubsetRows, r.MaxFactorLevels = 1, 0
	var ie *InputError
	if err := r.Validate(); !errors.As(err, &ie) || ie.Field != "rules" {
		t.Fatalf("want an InputError, got %v", err)
	}
	var de *DisclosureError
	if err := DefaultRules.CheckIteration(26); !errors.As(err, &de) || de.Rule != RuleMaxIterations {
		t.Fatalf("want a max_iterations refusal, got %v", err)
	}
	if err := DefaultRules.CheckIteration(25); err != nil {
		t.Fatal(err)
	}
}
