package policy

import (
	"context"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/xborder/xborder/policy/irvm"
)

// Plan has OPA's planner plan every decision point and prepares the plans
// to run; from then on they take the decisions. It takes a few hundred
// milliseconds, so the engine runs it in the background after a load:
// topdown decides meanwhile. A policy the planner or irvm cannot handle is
// still a good policy: its decisions stay with topdown, as Evaluator says.
// Plan runs once per bundle; later calls wait for the first.
func (b *Bundle) Plan(ctx context.Context) {
	b.planOnce.Do(func() {
		// The bundle's tests are read now: they are not part of its hash,
		// but the plan is checked on them (see dualeval.go).
		tests, testsHash, err := testSources(b.Dir)
		if err != nil {
			tests, testsHash = nil, "unreadable"
		}
		e := plans.entry(b.Hash + " " + testsHash)
		// The plan is shared through the cache: one caller's cancellation
		// must not become every bundle's failure.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		defer cancel()
		e.once.Do(func() { e.planned = b.makePlan(ctx, tests) })
		pl := e.planned
		if pl.err == "" {
			// The last real decisions are this engine's own: they are
			// checked for every bundle, cached plan or not.
			if d, same := b.checkRecent(ctx, pl); !same {
				pl = &planned{err: d.Error()}
			}
		}
		b.planned.Store(pl)
	})
}

// topdownOnly has topdown take every decision of the bundle, for the
// reason given, which Evaluator reports; Plan then plans nothing.
func (b *Bundle) topdownOnly(why string) {
	b.planOnce.Do(func() { b.planned.Store(&planned{err: why}) })
}

// plans keeps the plans of the last few bundles by hash, so that the nodes
// of one process (a test's whole federation) plan the same bundle once,
// and a reload back to a bundle seen before does not plan it again. A
// program is safe for concurrent use, and the hash covers every file.
var plans = planCache{max: 8}

type planCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*planEntry
	order   []string // oldest first
}

type planEntry struct {
	once    sync.Once
	planned *planned
}

func (c *planCache) entry(hash string) *planEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[hash]; ok {
		return e
	}
	if c.entries == nil {
		c.entries = map[string]*planEntry{}
	}
	if len(c.order) == c.max {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	e := &planEntry{}
	c.entries[hash] = e
	c.order = append(c.order, hash)
	return e
}

// makePlan plans every decision point of the bundle and refuses the plan
// unless it decides as topdown does on the inputs of the bundle's tests.
func (b *Bundle) makePlan(ctx context.Context, tests map[string][]byte) *planned {
	out := b.planProgram(ctx)
	if out.err != "" {
		return out
	}
	_, diffs, err := b.checkTests(ctx, out, tests)
	switch {
	case len(diffs) > 0:
		return &planned{err: diffs[0].Error()}
	case err != nil:
		// Unchecked is refused: topdown is the reference.
		return &planned{err: "the plan is not checked against the tests: " + err.Error()}
	}
	return out
}

// planProgram plans every decision point of the bundle.
func (b *Bundle) planProgram(ctx context.Context) *planned {
	var points []Point // those the bundle defines
	var entrypoints []string
	for _, p := range Points {
		if _, ok := b.queries[p]; ok {
			points = append(points, p)
			entrypoints = append(entrypoints, p.entrypoint())
		}
	}
	out := &planned{}
	pol, err := irvm.Plan(ctx, b.modules, entrypoints...)
	if err == nil {
		var data ast.Value
		data, err = ast.InterfaceToValue(b.documents)
		if err == nil {
			out.program, err = irvm.Compile(pol, data)
		}
	}
	if err != nil {
		out.err = err.Error()
		return out
	}
	out.points = make(map[Point]string, len(points))
	for i, p := range points {
		out.points[p] = entrypoints[i]
	}
	return out
}

// entrypoint is the point as the planner names it: data.xborder.api.allow
// is xborder/api/allow.
func (p Point) entrypoint() string {
	return strings.ReplaceAll(strings.TrimPrefix(string(p), "data."), ".", "/")
}
