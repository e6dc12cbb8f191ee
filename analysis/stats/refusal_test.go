package stats

import (
	"errors"
	"regexp"
	"testing"
)

// A refusal is read by the researcher who asked: it must not tell the
// small count it refuses to release, or the refusal would be the release.
// Every input below holds three people (or one person in a category); no
// refusal may name the number 3 or 1 as a count.
func TestRefusalsNeverStateTheSmallCountTheyWithhold(t *testing.T) {
	rules := DefaultRules
	three := []float64{1, 2, 3}
	small := regexp.MustCompile(`\b(1|2|3|4)\b rows?|\b(1|2|3|4)\b values?|in \b(1|2|3|4)\b`)
	check := func(what string, err error) {
		t.Helper()
		var de *DisclosureError
		if !errors.As(err, &de) {
			t.Fatalf("%s: %v, want a DisclosureError", what, err)
		}
		if small.MatchString(err.Error()) {
			t.Errorf("%s states the count: %q", what, err)
		}
	}
	_, err := Summarise(three, rules)
	check("summary", err)
	_, err = Histogram(three, []float64{0, 10}, rules)
	check("histogram", err)
	_, err = Correlation([][]float64{three, three}, []string{"a", "b"}, rules)
	check("correlation", err)
	_, err = CrossTab([]int32{0, 1, 0}, []string{"a", "b"}, nil, nil, rules)
	check("table", err)
	_, err = MeansBy(three, []int32{0, 1, 0}, []string{"a", "b"}, rules)
	check("means", err)
	// A glm over 30 rows where one person has the indicator set.
	n, p := 30, 3
	x, y := make([]float64, n*p), make([]float64, n)
	for i := range n {
		x[i*p], x[i*p+1] = 1, float64(i)
		if i == 7 {
			x[i*p+2] = 1
		}
		y[i] = float64(i % 2)
	}
	_, err = IRLSPartial(Binomial, x, y, p, nil, rules)
	check("glm indicator", err)
	_, err = IRLSPartial(Binomial, x[:3*p], y[:3], p, nil, rules)
	check("glm rows", err)
}
