package stats

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/floats"
)

// Family is a GLM family with its canonical link: gaussian (identity),
// binomial (logit), poisson (log).
type Family string

// The families Run fits.
const (
	Gaussian Family = "gaussian"
	Binomial Family = "binomial"
	Poisson  Family = "poisson"
)

// ParseFamily reads a family name as R spells it ("gaussian", "binomial",
// "poisson"; case and surrounding space ignored).
func ParseFamily(s string) (Family, error) {
	f := Family(strings.ToLower(strings.TrimSpace(s)))
	if err := f.check(); err != nil {
		return "", err
	}
	return f, nil
}

func (f Family) check() error {
	switch f {
	case Gaussian, Binomial, Poisson:
		return nil
	}
	return &InputError{Field: "family", Detail: fmt.Sprintf("unknown family %q (gaussian, binomial or poisson)", string(f))}
}

// Partial is one owner's share of one IRLS iteration: only these leave the
// owner. XtWX is the p×p matrix X'WX (row-major, symmetric) and XtWz the
// vector X'Wz of the working weights W and working response z at the
// coefficients the researcher sent; Deviance and LogLik are at the same
// coefficients. Partials of several owners add up (Sum) to the pooled ones.
type Partial struct {
	N        int       `json:"n"`
	P        int       `json:"p"`
	XtWX     []float64 `json:"xtwx"`
	XtWz     []float64 `json:"xtwz"`
	Deviance float64   `json:"deviance"`
	// LogLik is the log-likelihood (binomial, poisson) for the AIC; for the
	// gaussian family it is 0 and the AIC is computed from the deviance.
	LogLik float64 `json:"loglik"`
}

// binomialThreshold and epsilon are R's: the logit's inverse is clamped
// beyond |eta| > 30 (family.c) and poisson's mean kept above the machine
// epsilon (poisson()$linkinv), so fits agree with R's glm to rounding.
const (
	binomialThreshold = 30.0
	epsilon           = 2.220446049250313e-16
)

// IRLSPartial computes one owner's Partial of IRLS iteration at coefficients
// beta over the rows x (n×p, row-major) and response y. beta nil is the first
// iteration: it starts from R's initial means (mustart: gaussian y, binomial
// (y+0.5)/2, poisson y+0.1) and reports the deviance there.
//
// The owner's rules are enforced before anything is returned: at least
// MinSubsetRows rows, p ≤ MaxParamsShare·n; a binomial response of 0/1 with
// at least MinCellCount of each outcome; a poisson response of non-negative
// integers; every indicator-like column (only 0 and 1 in it) holding no ones
// or at least MinCellCount, and no zeros or at least MinCellCount, so that no
// coefficient describes a handful of people. A column of ones (an intercept)
// or of zeros (a factor level absent from this owner's rows) passes.
//
// It reads the rows once, in blocks: each block's columns (and their
// weighted copies) are laid out contiguously in two scratch buffers, so that
// the upper triangle of X'WX is a set of unit-stride dot products
// (gonum's floats.Dot); the scan the design rules need rides on the same
// pass. Nothing is allocated per row.
func IRLSPartial(fam Family, x, y []float64, p int, beta []float64, rules Rules) (Partial, error) {
	if err := checkPartialInput(fam, x, y, p, beta, rules); err != nil {
		return Partial{}, err
	}
	n := len(y)
	xtwx := make([]float64, p*p)
	xtwz := make([]float64, p)
	block := min(n, partialBlock)
	cols := make([]float64, p*block)  // column j of the block at cols[j*block:]
	wcols := make([]float64, p*block) // the same, times each row's weight
	eta, w, z := make([]float64, block), make([]float64, block), make([]float64, block)
	scan := newDesignScan(p)
	var dev, loglik, sumW, sumW2 float64
	for lo := 0; lo < n; lo += block {
		m := min(block, n-lo)
		for r := range m {
			i := (lo + r) * p
			for j, v := range x[i : i+p] {
				cols[j*block+r] = v
			}
		}
		scan.block(cols, block, m)
		if beta == nil {
			for r := range m {
				eta[r] = linkOfStart(fam, y[lo+r])
			}
		} else {
			clear(eta)
			for j, b := range beta {
				floats.AddScaled(eta[:m], b, cols[j*block:j*block+m])
			}
		}
		for r := range m {
			var d, ll float64
			w[r], z[r], d, ll = working(fam, y[lo+r], eta[r])
			dev += d
			loglik += ll
			sumW += w[r]
			sumW2 += w[r] * w[r]
		}
		for j := range p {
			wj := wcols[j*block : j*block+m]
			floats.MulTo(wj, w[:m], cols[j*block:j*block+m])
			xtwz[j] += floats.Dot(wj, z[:m])
			for k := j; k < p; k++ {
				xtwx[j*p+k] += floats.Dot(wj, cols[k*block:k*block+m])
			}
		}
	}
	if err := scan.verdict(x, xtwx, rules); err != nil {
		return Partial{}, err
	}
	// Coefficients a researcher chose (every iteration after the first)
	// can put nearly all the weight on a few rows, and X'WX and X'Wz are
	// then those rows' records. The owner releases only partials that
	// enough rows weigh into: Kish's effective number of rows,
	// (Σw)²/Σw², is at least MinSubsetRows.
	if beta != nil && fam != Gaussian {
		if eff := sumW * sumW / sumW2; !(eff >= float64(rules.MinSubsetRows)) {
			return Partial{}, &DisclosureError{Rule: RuleEffectiveRows, Detail: fmt.Sprintf(
				"at the coefficients sent, the weights rest on fewer than %d effective rows: "+
					"the partial would describe those rows alone", rules.MinSubsetRows)}
		}
	}
	for j := 0; j < p; j++ {
		for k := j + 1; k < p; k++ {
			xtwx[k*p+j] = xtwx[j*p+k]
		}
	}
	if fam == Gaussian {
		loglik = 0
	}
	return Partial{N: n, P: p, XtWX: xtwx, XtWz: xtwz, Deviance: dev, LogLik: loglik}, nil
}

// partialBlock is the rows per block of IRLSPartial: two scratch copies of
// a block stay in the L2 cache for designs of up to a few dozen columns.
const partialBlock = 256

// linkOfStart is eta = link(mustart), R's starting point of glm.fit.
func linkOfStart(fam Family, y float64) float64 {
	switch fam {
	case Binomial:
		mu := (y + 0.5) / 2
		return math.Log(mu / (1 - mu))
	case Poisson:
		return math.Log(y + 0.1)
	}
	return y
}

// working returns, at the linear predictor eta, the working weight and
// response of one row and its contributions to the deviance and the
// log-likelihood, as R's family objects compute them (prior weights 1).
func working(fam Family, y, eta float64) (w, z, dev, loglik float64) {
	switch fam {
	case Binomial:
		var mu, muEta float64
		switch {
		case eta < -binomialThreshold:
			mu = epsilon / (1 + epsilon)
			muEta = epsilon
		case eta > binomialThreshold:
			mu = (1 / epsilon) / (1 + 1/epsilon)
			muEta = epsilon
		default:
			e := math.Exp(eta)
			mu = e / (1 + e)
			muEta = e / ((1 + e) * (1 + e))
		}
		w = muEta * muEta / (mu * (1 - mu))
		z = eta + (y-mu)/muEta
		if y == 1 {
			loglik = math.Log(mu)
		} else {
			loglik = math.Log1p(-mu)
		}
		return w, z, -2 * loglik, loglik
	case Poisson:
		mu := math.Max(math.Exp(eta), epsilon)
		w = mu // mu.eta² / variance = mu² / mu
		z = eta + (y-mu)/mu
		if y > 0 {
			dev = 2 * (y*math.Log(y/mu) - (y - mu))
			lg, _ := math.Lgamma(y + 1)
			loglik = y*math.Log(mu) - mu - lg
		} else {
			dev = 2 * mu
			loglik = -mu
		}
		return w, z, dev, loglik
	}
	r := y - eta
	return 1, y, r * r, 0
}

func checkPartialInput(fam Family, x, y []float64, p int, beta []float64, rules Rules) error {
	if err := fam.check(); err != nil {
		return err
	}
	if err := rules.Validate(); err != nil {
		return err
	}
	if p < 1 {
		return &InputError{Field: "p", Detail: fmt.Sprintf("the design has %d columns", p)}
	}
	n := len(y)
	if len(x) != n*p {
		return &InputError{Field: "x", Detail: fmt.Sprintf("the design holds %d values, not %d rows × %d columns", len(x), n, p)}
	}
	if beta != nil {
		if len(beta) != p {
			return &InputError{Field: "beta", Detail: fmt.Sprintf("%d coefficients for %d columns", len(beta), p)}
		}
		for j, b := range beta {
			if !finite(b) {
				return &InputError{Field: "beta", Detail: fmt.Sprintf("coefficient %d is not a finite number", j+1)}
			}
		}
	}
	if n < rules.MinSubsetRows {
		return tooFewRows(n, rules)
	}
	if float64(p) > rules.MaxParamsShare*float64(n) {
		return &DisclosureError{Rule: RuleMaxParamsShare,
			Detail: fmt.Sprintf("a model of %d parameters over %d rows exceeds the owner's limit of %g parameters per row", p, n, rules.MaxParamsShare)}
	}
	return checkResponse(fam, y, rules)
}

func checkResponse(fam Family, y []float64, rules Rules) error {
	for i, v := range y {
		if !finite(v) {
			return &InputError{Field: "y", Detail: fmt.Sprintf("row %d: the response is not a finite number", i+1)}
		}
		switch fam {
		case Binomial:
			if v != 0 && v != 1 {
				return &InputError{Field: "y", Detail: fmt.Sprintf("row %d: a binomial response must be 0 or 1, not %g", i+1, v)}
			}
		case Poisson:
			if v < 0 || v != math.Trunc(v) {
				return &InputError{Field: "y", Detail: fmt.Sprintf("row %d: a poisson response must be a non-negative integer, not %g", i+1, v)}
			}
		}
	}
	if fam == Binomial {
		ones := int(floats.Sum(y))
		if min(ones, len(y)-ones) < rules.MinCellCount {
			return &DisclosureError{Rule: RuleGLMSmallCategory,
				Detail: fmt.Sprintf("one outcome of the binary response occurs in fewer than %d rows", rules.MinCellCount)}
		}
	}
	return nil
}

// designScan gathers, during IRLSPartial's pass, what the design rules
// need: per column, the ones and whether only 0 and 1 occur.
type designScan struct {
	ones      []float64
	nonBinary []bool
	rows      int
}

func newDesignScan(p int) *designScan {
	return &designScan{ones: make([]float64, p), nonBinary: make([]bool, p)}
}

// block scans m rows laid out by column (column j at cols[j*stride:]). A
// column stops being scanned at its first value other than 0 and 1, so
// numeric columns cost nearly nothing.
func (s *designScan) block(cols []float64, stride, m int) {
	s.rows += m
	for j := range s.ones {
		if s.nonBinary[j] {
			continue
		}
		col := cols[j*stride : j*stride+m]
		for _, v := range col {
			if v != 0 && v != 1 {
				s.nonBinary[j] = true
				break
			}
		}
		if !s.nonBinary[j] {
			s.ones[j] += floats.Sum(col)
		}
	}
}

// verdict refuses values that are not finite and indicator-like columns
// with a few ones or a few zeros. A value that is not finite (or so large
// that its square overflows) leaves the diagonal of X'WX infinite or NaN,
// whatever the weights; only then is x searched for it.
func (s *designScan) verdict(x, xtwx []float64, rules Rules) error {
	p := len(s.ones)
	for j := range p {
		if finite(xtwx[j*p+j]) {
			continue
		}
		for i := j; i < len(x); i += p {
			if !finite(x[i]) {
				return &InputError{Field: "x", Detail: fmt.Sprintf("row %d, column %d: not a finite number", i/p+1, j+1)}
			}
		}
		return &InputError{Field: "x", Detail: fmt.Sprintf("column %d: values too large to square", j+1)}
	}
	for j := range p {
		if s.nonBinary[j] {
			continue
		}
		ones := int(s.ones[j])
		if small(ones, rules) || small(s.rows-ones, rules) {
			return &DisclosureError{Rule: RuleGLMSmallCategory,
				Detail: fmt.Sprintf("the indicator in column %d is 1, or 0, in fewer than %d rows (but not in none): its coefficient would describe those few people", j+1, rules.MinCellCount)}
		}
	}
	return nil
}

// small is a count the rules withhold: some, but fewer than MinCellCount.
func small(count int, rules Rules) bool {
	return count > 0 && count < rules.MinCellCount
}

func tooFewRows(n int, rules Rules) error {
	return &DisclosureError{Rule: RuleMinSubsetRows,
		Detail: fmt.Sprintf("the analysis covers fewer than %d rows, and the owner releases nothing computed over so few", rules.MinSubsetRows)}
}

func finite(v float64) bool { return v-v == 0 }

// Sum adds the partials of several owners into the pooled one.
func Sum(parts []Partial) (Partial, error) {
	if len(parts) == 0 {
		return Partial{}, &InputError{Field: "partials", Detail: "no partials to add"}
	}
	p := parts[0].P
	sum := Partial{P: p, XtWX: make([]float64, p*p), XtWz: make([]float64, p)}
	for i, part := range parts {
		if err := part.check(p); err != nil {
			return Partial{}, fmt.Errorf("partial %d: %w", i+1, err)
		}
		sum.N += part.N
		for j, v := range part.XtWX {
			sum.XtWX[j] += v
		}
		for j, v := range part.XtWz {
			sum.XtWz[j] += v
		}
		sum.Deviance += part.Deviance
		sum.LogLik += part.LogLik
	}
	return sum, nil
}

// check validates the shape of a partial received from elsewhere against
// the model's p; Run checks its values (a diverging fit makes them infinite).
func (pt Partial) check(p int) error {
	if pt.P != p || len(pt.XtWX) != p*p || len(pt.XtWz) != p {
		return &InputError{Field: "partial", Detail: fmt.Sprintf("a partial of %d parameters (%d and %d values) for a model of %d", pt.P, len(pt.XtWX), len(pt.XtWz), p)}
	}
	if pt.N < 1 {
		return &InputError{Field: "partial", Detail: fmt.Sprintf("a partial over %d rows", pt.N)}
	}
	return nil
}
