package stats

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Options steer Run; zero fields take R's glm.control defaults.
type Options struct {
	MaxIterations int     `json:"max_iterations"` // 25
	Epsilon       float64 `json:"epsilon"`        // 1e-8
	Level         float64 `json:"level"`          // confidence level of the intervals, 0.95
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxIterations == 0 {
		o.MaxIterations = 25
	}
	if o.Epsilon == 0 {
		o.Epsilon = 1e-8
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	switch {
	case o.MaxIterations < 1:
		return o, &InputError{Field: "max_iterations", Detail: fmt.Sprintf("%d is below 1", o.MaxIterations)}
	case !(o.Epsilon > 0 && o.Epsilon < 1):
		return o, &InputError{Field: "epsilon", Detail: fmt.Sprintf("%g is not in (0, 1)", o.Epsilon)}
	case !(o.Level > 0 && o.Level < 1):
		return o, &InputError{Field: "level", Detail: fmt.Sprintf("%g is not in (0, 1)", o.Level)}
	}
	return o, nil
}

// Coefficient is one estimated coefficient with its Wald test and interval.
type Coefficient struct {
	Name      string  `json:"name"`
	Estimate  float64 `json:"estimate"`
	StdError  float64 `json:"std_error"`
	Statistic float64 `json:"statistic"` // Estimate / StdError, a t or z value (Fit.Statistic)
	PValue    float64 `json:"p_value"`   // two-sided
	Lower     float64 `json:"lower"`     // Wald interval at Options.Level
	Upper     float64 `json:"upper"`
}

// Fit is a converged GLM, reported as R's summary.glm reports it.
type Fit struct {
	Family       Family        `json:"family"`
	Coefficients []Coefficient `json:"coefficients"`
	Deviance     float64       `json:"deviance"`
	AIC          float64       `json:"aic"`
	Dispersion   float64       `json:"dispersion"`
	N            int           `json:"n"`
	DF           int           `json:"df"` // residual degrees of freedom, N − p
	Iterations   int           `json:"iterations"`
	Converged    bool          `json:"converged"` // always true: a fit that does not converge is an error
	Statistic    string        `json:"statistic"` // "t" (gaussian) or "z"
}

// SingularError is a design whose X'WX is not (numerically) positive
// definite: the named coefficient is a linear combination of the ones before
// it (collinear terms), or its column is empty (a factor level no row has).
type SingularError struct {
	Coefficient string `json:"coefficient"`
	Index       int    `json:"index"` // 0-based position in the names
}

func (e *SingularError) Error() string {
	return fmt.Sprintf("coefficient %q cannot be estimated: its column is empty (a level no row has) or a linear combination of the terms before it (collinear terms); drop that term", e.Coefficient)
}

// ConvergenceError is a fit that did not converge: it ran past
// MaxIterations, or it diverged (the deviance or X'WX stopped being finite,
// as with separated binomial data).
type ConvergenceError struct {
	Iterations int     `json:"iterations"`
	Change     float64 `json:"change"` // the last relative change in deviance
	Detail     string  `json:"detail"`
}

func (e *ConvergenceError) Error() string {
	return "the model did not converge: " + e.Detail
}

// collinearTolerance is the least share of a column's (weighted) variation
// that the columns before it may leave unexplained: below it the column is
// taken as collinear. R's QR tolerates far less (1e-11 on the norm, 1e-22 on
// this share), but the normal equations that federation needs lose twice the
// digits a QR does.
const collinearTolerance = 1e-10

// Run is the one IRLS loop for pooled and federated fits alike. partial
// returns the summed Partial of every owner at beta (nil at iteration 0).
// Each iteration solves X'WX·beta = X'Wz with a Cholesky factorisation; the
// loop stops when |dev − devold| / (|dev| + 0.1) < Epsilon (R's rule) and
// fails with a *ConvergenceError past MaxIterations. Standard errors come
// from the inverse of the X'WX that produced the final coefficients (as R's
// summary.glm takes them from the last weighted least squares) times the
// dispersion; deviance and AIC are at the final coefficients.
func Run(ctx context.Context, fam Family, names []string, partial func(ctx context.Context, iteration int, beta []float64) (Partial, error), opt Options) (Fit, error) {
	if err := fam.check(); err != nil {
		return Fit{}, err
	}
	opt, err := opt.withDefaults()
	if err != nil {
		return Fit{}, err
	}
	p := len(names)
	if p == 0 {
		return Fit{}, &InputError{Field: "names", Detail: "a model needs at least one coefficient"}
	}
	cur, err := step(ctx, partial, 0, nil, p, 0)
	if err != nil {
		return Fit{}, err
	}
	if cur.N <= p {
		return Fit{}, &InputError{Field: "rows", Detail: fmt.Sprintf("%d rows for %d coefficients", cur.N, p)}
	}
	devold := cur.Deviance
	var change float64
	for iter := 1; iter <= opt.MaxIterations; iter++ {
		chol, err := factorize(cur.XtWX, names)
		if err != nil {
			return Fit{}, err
		}
		var b mat.VecDense
		if err := chol.SolveVecTo(&b, mat.NewVecDense(p, cur.XtWz)); err != nil {
			return Fit{}, &SingularError{Coefficient: names[p-1], Index: p - 1}
		}
		beta := make([]float64, p)
		for j := range beta {
			beta[j] = b.AtVec(j)
		}
		next, err := step(ctx, partial, iter, beta, p, cur.N)
		if err != nil {
			return Fit{}, err
		}
		change = math.Abs(next.Deviance-devold) / (math.Abs(next.Deviance) + 0.1)
		if change < opt.Epsilon {
			return summarise(fam, names, beta, chol, next, iter, opt)
		}
		devold, cur = next.Deviance, next
	}
	return Fit{}, &ConvergenceError{Iterations: opt.MaxIterations, Change: change,
		Detail: fmt.Sprintf("after %d iterations the deviance still changes by %.3g (relative), above %g", opt.MaxIterations, change, opt.Epsilon)}
}

// step asks for one iteration's partial and checks it.
func step(ctx context.Context, partial func(context.Context, int, []float64) (Partial, error), iter int, beta []float64, p, n int) (Partial, error) {
	if err := ctx.Err(); err != nil {
		return Partial{}, err
	}
	pt, err := partial(ctx, iter, beta)
	if err != nil {
		return Partial{}, err
	}
	if err := pt.check(p); err != nil {
		return Partial{}, err
	}
	if n != 0 && pt.N != n {
		return Partial{}, &InputError{Field: "partial", Detail: fmt.Sprintf("iteration %d covers %d rows where the fit began with %d", iter, pt.N, n)}
	}
	ok := finite(pt.Deviance) && finite(pt.LogLik)
	for _, v := range pt.XtWX {
		ok = ok && finite(v)
	}
	for _, v := range pt.XtWz {
		ok = ok && finite(v)
	}
	if !ok {
		return Partial{}, &ConvergenceError{Iterations: iter,
			Detail: fmt.Sprintf("the fit diverged at iteration %d (the deviance or X'WX is no longer finite); the response may be perfectly predicted by some terms", iter)}
	}
	return pt, nil
}

// factorize returns the Cholesky factor of X'WX, or a *SingularError naming
// the first coefficient whose column the earlier ones (nearly) explain. The
// search runs on X'WX scaled to a unit diagonal, adding one column at a time,
// so that the new pivot is the share of that column left unexplained.
func factorize(xtwx []float64, names []string) (*mat.Cholesky, error) {
	p := len(names)
	d := make([]float64, p)
	for j := range d {
		d[j] = math.Sqrt(xtwx[j*p+j])
		if !(d[j] > 0) {
			return nil, &SingularError{Coefficient: names[j], Index: j}
		}
	}
	var prefix mat.Cholesky
	if !prefix.Factorize(mat.NewSymDense(1, []float64{1})) {
		return nil, &SingularError{Coefficient: names[0], Index: 0}
	}
	for k := 1; k < p; k++ {
		v := make([]float64, k+1)
		for j := 0; j < k; j++ {
			v[j] = xtwx[j*p+k] / (d[j] * d[k])
		}
		v[k] = 1
		var next mat.Cholesky
		if !next.ExtendVecSym(&prefix, mat.NewVecDense(k+1, v)) {
			return nil, &SingularError{Coefficient: names[k], Index: k}
		}
		if u := next.RawU().At(k, k); u*u < collinearTolerance {
			return nil, &SingularError{Coefficient: names[k], Index: k}
		}
		prefix = next
	}
	var chol mat.Cholesky
	if !chol.Factorize(mat.NewSymDense(p, append([]float64(nil), xtwx...))) {
		return nil, &SingularError{Coefficient: names[p-1], Index: p - 1}
	}
	return &chol, nil
}

// summarise turns the final coefficients into R's summary.glm figures.
func summarise(fam Family, names []string, beta []float64, chol *mat.Cholesky, final Partial, iter int, opt Options) (Fit, error) {
	p, n := len(names), final.N
	fit := Fit{Family: fam, Deviance: final.Deviance, N: n, DF: n - p, Iterations: iter, Converged: true, Dispersion: 1, Statistic: "z"}
	var quantile func(float64) float64
	var cdf func(float64) float64
	switch fam {
	case Gaussian:
		if !(final.Deviance > 0) {
			return Fit{}, &InputError{Field: "y", Detail: "the response is an exact linear function of the terms (zero residual deviance)"}
		}
		fit.Dispersion = final.Deviance / float64(fit.DF)
		fit.Statistic = "t"
		fit.AIC = float64(n)*(math.Log(2*math.Pi*final.Deviance/float64(n))+1) + 2 + 2*float64(p)
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(fit.DF)}
		quantile, cdf = t.Quantile, t.CDF
	default:
		fit.AIC = -2*final.LogLik + 2*float64(p)
		quantile, cdf = distuv.UnitNormal.Quantile, distuv.UnitNormal.CDF
	}
	var inv mat.SymDense
	if err := chol.InverseTo(&inv); err != nil {
		return Fit{}, &SingularError{Coefficient: names[p-1], Index: p - 1}
	}
	q := quantile((1 + opt.Level) / 2)
	fit.Coefficients = make([]Coefficient, p)
	for j, name := range names {
		se := math.Sqrt(fit.Dispersion * inv.At(j, j))
		stat := beta[j] / se
		fit.Coefficients[j] = Coefficient{
			Name: name, Estimate: beta[j], StdError: se, Statistic: stat,
			PValue: 2 * cdf(-math.Abs(stat)),
			Lower:  beta[j] - q*se, Upper: beta[j] + q*se,
		}
	}
	return fit, nil
}

// FitPooled fits a GLM over rows held in one place, under the owner's rules,
// with the same loop as a federated fit.
func FitPooled(ctx context.Context, fam Family, names []string, x, y []float64, p int, rules Rules, opt Options) (Fit, error) {
	if len(names) != p {
		return Fit{}, &InputError{Field: "names", Detail: fmt.Sprintf("%d names for %d columns", len(names), p)}
	}
	return Run(ctx, fam, names, func(_ context.Context, _ int, beta []float64) (Partial, error) {
		return IRLSPartial(fam, x, y, p, beta, rules)
	}, opt)
}
