package stats

import (
	"encoding/json"
	"math"
	"testing"
)

func TestACorrelationMatrixKeepsItsUndefinedEntriesThroughJSON(t *testing.T) {
	m := CorMatrix{Names: []string{"a", "b"}, R: [][]float64{{1, math.NaN()}, {math.NaN(), 1}}, N: [][]int{{9, 9}, {9, 9}}}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back CorMatrix
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.R[0][1]) || back.R[0][0] != 1 || back.N[1][0] != 9 || back.Names[1] != "b" {
		t.Fatalf("%s read back as %+v", raw, back)
	}
}
