package evaluation

import (
	"errors"
	"regexp"
	"strconv"
	"testing"

	"github.com/xborder/xborder/analysis/stats"
)

// A refusal is read by the researcher who asked: it must not state the
// small count it refuses to release, or the refusal would be the release.
func TestRefusalsNeverStateTheSmallCountTheyWithhold(t *testing.T) {
	strict := stats.DefaultRules
	strict.MinSubsetRows = 20
	for _, tc := range []struct {
		name     string
		pos, neg int
		rules    stats.Rules
		rule     string
		withheld []int // counts the message must not state
	}{
		{"three positives", 3, 40, stats.DefaultRules, stats.RuleMinCellCount, []int{3, 43}},
		{"one negative", 40, 1, stats.DefaultRules, stats.RuleMinCellCount, []int{1, 41}},
		{"no positives", 0, 30, stats.DefaultRules, stats.RuleMinCellCount, []int{0, 30}},
		{"twelve rows", 6, 6, strict, stats.RuleMinSubsetRows, []int{6, 12}},
		{"four rows", 2, 2, stats.DefaultRules, stats.RuleMinSubsetRows, []int{2, 4}},
	} {
		var scores []float64
		var labels []bool
		for i := range tc.pos + tc.neg {
			scores = append(scores, float64(i%100)/100)
			labels = append(labels, i < tc.pos)
		}
		_, err := Evaluate(scores, labels, Request{Thresholds: []float64{0.5}}, tc.rules)
		var de *stats.DisclosureError
		if !errors.As(err, &de) || de.Rule != tc.rule {
			t.Fatalf("%s: %v, want a DisclosureError on %s", tc.name, err, tc.rule)
		}
		for _, n := range tc.withheld {
			if regexp.MustCompile(`\b` + strconv.Itoa(n) + `\b`).MatchString(err.Error()) {
				t.Errorf("%s: the refusal states %d: %q", tc.name, n, err)
			}
		}
	}
}
