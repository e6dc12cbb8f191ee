// Package cohort generates synthetic patient cohorts from a stated model,
// deterministically, for the demo and the tests of federated analyses:
// with the generating coefficients known, a federated fit can be compared
// with the truth as well as with the pooled fit.
//
// Each region's cohort follows the same model with its own regional effect
// on the diabetes log-odds, as real regions differ in ways a model without
// a region term does not capture.
package cohort

import (
	"bytes"
	"encoding/csv"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/xborder/xborder/analysis/tabular"
)

// Diabetes is the model of the diabetes outcome: its log-odds are
// Intercept + Age·age + BMI·bmi + Male·[sex = M] + Smoker·smoker + the
// region's effect.
var Diabetes = struct {
	Intercept, Age, BMI, Male, Smoker float64
}{Intercept: -9.0, Age: 0.06, BMI: 0.15, Male: 0.3, Smoker: 0.4}

// RegionEffect is each region's shift of the diabetes log-odds.
var RegionEffect = map[string]float64{
	"fr-grandest":   0,
	"de-bw":         0.2,
	"ch-basel":      -0.3,
	"be-wallonie":   0.1,
	"lu-luxembourg": -0.1,
}

// Dictionary is the data dictionary of every cohort.
func Dictionary() tabular.Dictionary {
	return tabular.Dictionary{Columns: []tabular.Column{
		{Name: "patient_id", Type: tabular.TypeInteger, Identifier: true, Description: "pseudonymous patient number"},
		{Name: "age", Type: tabular.TypeInteger, Unit: "years", Description: "age at inclusion"},
		{Name: "sex", Type: tabular.TypeCategorical, Levels: []string{"F", "M"}, Description: "sex recorded at inclusion"},
		{Name: "bmi", Type: tabular.TypeNumber, Unit: "kg/m2", Description: "body-mass index"},
		{Name: "smoker", Type: tabular.TypeBoolean, Description: "current smoker"},
		{Name: "sbp", Type: tabular.TypeNumber, Unit: "mmHg", Description: "systolic blood pressure"},
		{Name: "diabetes", Type: tabular.TypeBoolean, Description: "type 2 diabetes diagnosed"},
		{Name: "visits", Type: tabular.TypeInteger, Unit: "visits/year", Description: "GP visits in the last year"},
	}}
}

// Generate writes n patients of region's cohort as CSV with a header,
// the same bytes for the same region, n and seed.
func Generate(region string, n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, uint64(len(region))*0x9e3779b97f4a7c15+hash(region)))
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"patient_id", "age", "sex", "bmi", "smoker", "sbp", "diabetes", "visits"})
	shift := RegionEffect[region]
	d := Diabetes
	for i := range n {
		age := 30 + rng.IntN(56)
		male := rng.IntN(2) == 1
		bmi := math.Min(50, math.Max(16, 26+0.03*float64(age-50)+4*rng.NormFloat64()))
		bmi = math.Round(bmi*10) / 10
		smoker := rng.Float64() < 0.25
		sbp := 110 + 0.5*float64(age) + 0.8*(bmi-25) + 5*b2f(smoker) + 12*rng.NormFloat64()
		eta := d.Intercept + d.Age*float64(age) + d.BMI*bmi + d.Male*b2f(male) + d.Smoker*b2f(smoker) + shift
		diabetes := rng.Float64() < 1/(1+math.Exp(-eta))
		visits := poisson(rng, math.Exp(-1.5+0.02*float64(age)+0.5*b2f(diabetes)))
		sex := "F"
		if male {
			sex = "M"
		}
		_ = w.Write([]string{
			strconv.Itoa(i + 1), strconv.Itoa(age), sex, strconv.FormatFloat(bmi, 'f', 1, 64),
			strconv.FormatBool(smoker), strconv.FormatFloat(math.Round(sbp), 'f', 0, 64),
			strconv.FormatBool(diabetes), strconv.Itoa(visits),
		})
	}
	w.Flush()
	return buf.Bytes()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// poisson draws by inversion; the means here are small.
func poisson(rng *rand.Rand, mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
