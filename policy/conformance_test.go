package policy

import (
	"context"
	"strings"
	"testing"
)

// Two policies whose plan once allowed what topdown denies (OPA's
// conformance suite, run in package irvm, covers the classes): each is
// decided by the bundle's plan, and must deny as topdown does.
func TestPlanDeniesAsTopdown(t *testing.T) {
	cases := []struct {
		name, api, dataFile, data string
		input                     map[string]any
	}{
		{
			name: "walk finds a value anywhere in the input",
			api: `package xborder.api

default allow := false

allow if {
	input.method == "GET"
	not blocked
}

blocked if {
	walk(input, [_, v])
	v == "/admin"
}
`,
			input: map[string]any{"method": "GET", "path": "/admin", "user": map[string]any{"role": "viewer"}},
		},
		{
			name: "a number key finds the data key that is its text",
			api: `package xborder.api

default allow := false

allow if {
	input.method == "GET"
	not blocked
}

blocked if data.data.closed[2]
`,
			dataFile: "closed.json", data: `{"closed": {"2": true}}`,
			input: map[string]any{"method": "GET"},
		},
		{
			name: "a number from the input finds the data key that is its text",
			api: `package xborder.api

default allow := false

allow if {
	input.method == "GET"
	not blocked
}

blocked if data.data.closed[input.day]
`,
			dataFile: "closed.json", data: `{"closed": {"5": true}}`,
			input: map[string]any{"method": "GET", "day": 5},
		},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, "../policies")
			write(t, dir, "api.rego", c.api)
			if c.dataFile != "" {
				write(t, dir, "data/"+c.dataFile, c.data)
			}
			b, err := Load(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			topdown, err := b.boolean(ctx, APIAllow, c.input)
			if err != nil {
				t.Fatal(err)
			}
			if topdown {
				t.Fatal("topdown allows; the case is meant to deny")
			}
			b.Plan(ctx)
			if ev := b.Evaluator(); ev != "plan" {
				t.Fatalf("the plan does not decide: %s", ev)
			}
			allow, err := b.boolean(ctx, APIAllow, c.input)
			if err != nil {
				t.Fatal(err)
			}
			if allow {
				t.Fatal("the plan allows what topdown denies")
			}
		})
	}
}

// Under `with data... as`, topdown looks a computed key up plainly (5
// finds no key "5"), while a function the body calls cannot tell which data
// it was given: such a policy is left to topdown, and decides as topdown.
func TestComputedDataKeysUnderWithAreLeftToTopdown(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "../policies")
	write(t, dir, "api.rego", `package xborder.api

default allow := false

allow if {
	input.method == "GET"
	not open_day
}

day_open(k) := data.data.closed[k]

open_day if day_open(input.day) with data.data.closed as {"5": true}
`)
	write(t, dir, "data/closed.json", `{"closed": {}}`)
	b, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"method": "GET", "day": 5}
	want, err := b.boolean(ctx, APIAllow, in)
	if err != nil {
		t.Fatal(err)
	}
	b.Plan(ctx)
	if ev := b.Evaluator(); !strings.HasPrefix(ev, "topdown: ") || !strings.Contains(ev, "with") {
		t.Fatalf("evaluator %q, want topdown because of with and computed data keys", ev)
	}
	if got, err := b.boolean(ctx, APIAllow, in); err != nil || got != want || !want {
		t.Fatalf("decision %v (%v), topdown %v", got, err, want)
	}
}
