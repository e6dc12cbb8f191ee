package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/policy"
	"github.com/xborder/xborder/sandbox"
)

var testLimits = policy.DisclosureLimits{MinCellCount: 5, MinSubsetRows: 5, MaxParamsShare: 0.33, MaxFactorLevels: 40, MaxIterations: 25}

func cohortSchema(tb testing.TB) *Schema {
	tb.Helper()
	raw, err := os.ReadFile("../examples/cohort-describe/schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ParseSchema(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// cohortNames are the names a cohort view's strings may take.
func cohortNames() []string {
	var out []string
	for _, c := range cohort.Dictionary().Columns {
		if c.Identifier {
			continue
		}
		out = append(out, c.Name)
		out = append(out, c.Levels...)
	}
	return append(out, "true", "false")
}

func TestParseSchemaRefusesWhatCouldCarryRows(t *testing.T) {
	for name, raw := range map[string]string{
		"not an object":       `{"type":"list","max_items":3,"items":{"type":"object","fields":{"a":{"type":"count"}}}}`,
		"list of numbers":     `{"type":"object","fields":{"v":{"type":"list","max_items":10,"items":{"type":"number"}}}}`,
		"list without bound":  `{"type":"object","fields":{"v":{"type":"list","items":{"type":"object","fields":{"a":{"type":"count"}}}}}}`,
		"list without items":  `{"type":"object","fields":{"v":{"type":"list","max_items":2}}}`,
		"free text":           `{"type":"object","fields":{"v":{"type":"string"}}}`,
		"unknown key":         `{"type":"object","fields":{"v":{"type":"count","pattern":".*"}}}`,
		"leaf with fields":    `{"type":"object","fields":{"v":{"type":"count","fields":{"a":{"type":"count"}}}}}`,
		"empty object":        `{"type":"object","fields":{}}`,
		"bad field name":      `{"type":"object","fields":{"a b":{"type":"count"}}}`,
		"null field":          `{"type":"object","fields":{"a":null}}`,
		"two documents":       `{"type":"object","fields":{"a":{"type":"count"}}} {}`,
		"too deep":            strings.Repeat(`{"type":"object","fields":{"a":`, 9) + `{"type":"count"}` + strings.Repeat(`}}`, 9),
		"object with items":   `{"type":"object","fields":{"a":{"type":"count"}},"max_items":3}`,
		"list with fields":    `{"type":"object","fields":{"v":{"type":"list","max_items":2,"fields":{"a":{"type":"count"}},"items":{"type":"object","fields":{"a":{"type":"count"}}}}}}`,
		"too many list items": `{"type":"object","fields":{"v":{"type":"list","max_items":10001,"items":{"type":"object","fields":{"a":{"type":"count"}}}}}}`,
	} {
		var se *SchemaError
		if _, err := ParseSchema([]byte(raw)); !errors.As(err, &se) {
			t.Errorf("%s: err = %v, want a *SchemaError", name, err)
		}
	}
}

func TestCohortDescribeOutputPassesItsSchema(t *testing.T) {
	data := cohort.Generate("fr-grandest", 500, 1)
	fsys, _ := sandbox.FileView(viewFile, bytes.NewReader(data), int64(len(data)))
	sb := testSandbox(t, sandbox.Config{})
	out, err := sb.Run(context.Background(), wasm(t, "cohort-describe"), sandbox.Input{Data: fsys})
	if err != nil {
		t.Fatal(err)
	}
	s := cohortSchema(t)
	view := OutputView{Names: append(cohortNames(), "patient_id"), Rows: 500, Limits: testLimits}
	released, suppressed, err := s.Check(out.Stdout, view)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.Stdout)
	}
	if len(suppressed) != 0 || !bytes.Contains(released, []byte(`"rows":500`)) {
		t.Fatalf("released %s, suppressed %v", released, suppressed)
	}
	var doc map[string]any
	_ = json.Unmarshal(out.Stdout, &doc)
	edit := func(f func(doc map[string]any)) []byte {
		var d map[string]any
		_ = json.Unmarshal(out.Stdout, &d)
		f(d)
		raw, _ := json.Marshal(d)
		return raw
	}
	numeric := func(d map[string]any) []any { return d["numeric"].([]any) }
	refused := map[string][]byte{
		// A column of per-person values: one item per row.
		"a column of values": edit(func(d map[string]any) {
			var items []any
			for i := range 500 {
				items = append(items, map[string]any{"column": "age", "count": 10, "missing": 0, "mean": 30 + i%50, "sd": nil})
			}
			d["numeric"] = items
		}),
		"an extra field": edit(func(d map[string]any) { d["ages"] = []int{31, 45} }),
		"free text":      edit(func(d map[string]any) { numeric(d)[0].(map[string]any)["column"] = "Jeanne Dupont, 12 rue Haute" }),
		"a level invented": edit(func(d map[string]any) {
			d["categorical"].([]any)[0].(map[string]any)["levels"] = map[string]int{"F": 250, "X-ray 1234": 250}
		}),
		"a count as text":  edit(func(d map[string]any) { d["rows"] = "500" }),
		"a count too big":  edit(func(d map[string]any) { d["rows"] = 501 }),
		"a fraction count": edit(func(d map[string]any) { d["rows"] = 499.5 }),
		"a missing field":  edit(func(d map[string]any) { delete(d, "rows") }),
		"two documents":    append(append([]byte{}, out.Stdout...), []byte(`{}`)...),
		"not JSON":         []byte("rows=500"),
		"an infinite mean": []byte(strings.Replace(string(out.Stdout), `"mean":`, `"mean":1e999,"x":`, 1)),
	}
	for name, raw := range refused {
		var oe *OutputError
		if _, _, err := s.Check(raw, view); !errors.As(err, &oe) {
			t.Errorf("%s: err = %v, want an *OutputError", name, err)
		}
	}
	// Over few rows, the same output is more figures than allowed.
	// (29 figures; at a share of 0.02, 500 rows allow 10.)
	small := view
	small.Limits.MaxParamsShare = 0.02
	var oe *OutputError
	if _, _, err := s.Check(out.Stdout, small); !errors.As(err, &oe) || !strings.Contains(oe.Problem, "max_params_share") {
		t.Fatalf("err = %v", err)
	}
	// A small count is withheld, not released.
	smallCount := edit(func(d map[string]any) { numeric(d)[0].(map[string]any)["missing"] = 3 })
	released, suppressed, err = s.Check(smallCount, view)
	if err != nil || len(suppressed) != 1 || suppressed[0].Path != "$.numeric[0].missing" || !bytes.Contains(released, []byte(`"missing":null`)) {
		t.Fatalf("released %s, suppressed %v, err %v", released, suppressed, err)
	}
	// Digits beyond a float64's are not carried.
	precise := []byte(strings.Replace(string(out.Stdout), `"mean":`, `"mean":57.10000000000000000123456789,"x":`, 1))
	if _, _, err := s.Check(precise, view); err == nil {
		t.Fatal("an unknown field x passed")
	}
}

func FuzzModuleOutput(f *testing.F) {
	raw, err := os.ReadFile("../examples/cohort-describe/schema.json")
	if err != nil {
		f.Fatal(err)
	}
	s, err := ParseSchema(raw)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"rows":500,"numeric":[{"column":"age","count":498,"missing":2,"mean":57.1,"sd":16.2}],"categorical":[{"column":"sex","count":500,"missing":0,"levels":{"F":251,"M":249}}]}`), 500)
	f.Add([]byte(`{"rows":3,"numeric":[],"categorical":[{"column":"sex","count":3,"missing":0,"levels":{"F":2,"M":1}}]}`), 10)
	f.Add([]byte(`{"rows":5,"numeric":[{"column":"age","count":1e3,"missing":-1,"mean":"x","sd":null}],"categorical":null}`), 5)
	f.Add([]byte(`{"rows":0,"numeric":[],"categorical":[],"x":[1,2,3]}`), 100)
	names := cohortNames()
	view := OutputView{Names: names, Limits: testLimits}
	f.Fuzz(func(t *testing.T, out []byte, rows int) {
		view.Rows = max(rows, 0) % 1_000_000
		released, suppressed, err := s.Check(out, view)
		if err != nil {
			var oe *OutputError
			if !errors.As(err, &oe) {
				t.Fatalf("not an *OutputError: %v", err)
			}
			return
		}
		// What is released without withholding passes again unchanged;
		// it holds no string but names.
		if len(suppressed) == 0 {
			again, more, err := s.Check(released, view)
			if err != nil || len(more) != 0 || !bytes.Equal(again, released) {
				t.Fatalf("released %s does not check again: %v %v", released, err, more)
			}
		}
		var doc any
		if err := json.Unmarshal(released, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if !strings.Contains(strings.Join(names, "\x00")+"\x00", x+"\x00") {
					t.Fatalf("free text %q released", x)
				}
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(doc)
		for _, sp := range suppressed {
			if sp.Reason == "" || sp.Path == "" {
				t.Fatalf("suppression %+v", sp)
			}
		}
	})
}
