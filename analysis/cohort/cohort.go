// Package cohort generates synthetic patient cohorts from a stated model,
// deterministically, as CSV or Parquet, for the demo and the tests of
// federated analyses:
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

	"github.com/parquet-go/parquet-go"

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

// patient is one row of a cohort; its tags name the Parquet columns.
type patient struct {
	ID       int64   `parquet:"patient_id"`
	Age      int32   `parquet:"age"`
	Sex      string  `parquet:"sex"`
	BMI      float64 `parquet:"bmi"`
	Smoker   bool    `parquet:"smoker"`
	SBP      float64 `parquet:"sbp"`
	Diabetes bool    `parquet:"diabetes"`
	Visits   int64   `parquet:"visits"`
}

// patients draws n patients of region's cohort, the same for the same
// region, n and seed.
func patients(region string, n int, seed uint64) []patient {
	rng := rand.New(rand.NewPCG(seed, uint64(len(region))*0x9e3779b97f4a7c15+hash(region)))
	shift := RegionEffect[region]
	d := Diabetes
	out := make([]patient, n)
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
		out[i] = patient{ID: int64(i + 1), Age: int32(age), Sex: sex, BMI: bmi, Smoker: smoker, SBP: math.Round(sbp),
			Diabetes: diabetes, Visits: int64(visits)}
	}
	return out
}

// Generate writes n patients of region's cohort as CSV with a header,
// the same bytes for the same region, n and seed.
func Generate(region string, n int, seed uint64) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"patient_id", "age", "sex", "bmi", "smoker", "sbp", "diabetes", "visits"})
	for _, p := range patients(region, n, seed) {
		_ = w.Write([]string{
			strconv.FormatInt(p.ID, 10), strconv.Itoa(int(p.Age)), p.Sex, strconv.FormatFloat(p.BMI, 'f', 1, 64),
			strconv.FormatBool(p.Smoker), strconv.FormatFloat(p.SBP, 'f', 0, 64),
			strconv.FormatBool(p.Diabetes), strconv.FormatInt(p.Visits, 10),
		})
	}
	w.Flush()
	return buf.Bytes()
}

// ParquetRowGroupRows is the rows of a row group of GenerateParquet's
// files: small, so that a test's cohort spans several.
const ParquetRowGroupRows = 250

// GenerateParquet writes the patients Generate writes as a Parquet file:
// the same values, the same table once read with Dictionary.
func GenerateParquet(region string, n int, seed uint64) []byte {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[patient](&buf, parquet.MaxRowsPerRowGroup(ParquetRowGroupRows))
	// Writing to memory cannot fail; a schema error would be this
	// package's, and shows as a file the tests cannot read.
	_, _ = w.Write(patients(region, n, seed))
	_ = w.Close()
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
