package policy

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// What one evaluation allocates besides the rules themselves is kept out of
// the hot path: metrics are not collected, the result is handed over as
// OPA's own term instead of being converted to Go maps and slices, and the
// cache of rule values of one evaluation is reused by the next one (emptied
// in between: nothing carries over from one decision to the next).

var noMetrics = metrics.NoOp()

// keepTerm hands the result term over as it is; decode reads it.
func keepTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

// ruleCache is OPA's per-evaluation cache of rule values, as a flat table
// keyed by the hash of the rule's reference instead of a tree of maps, so
// that it can be emptied and reused without allocating.
type ruleCache struct {
	frames []frame
	depth  int
}

type frame struct {
	byHash map[uint64]cached
	other  []cached // references whose hash another one already took
}

type cached struct {
	ref       ast.Ref
	value     *ast.Term
	undefined bool
}

var _ topdown.VirtualCache = (*ruleCache)(nil)

var ruleCaches = sync.Pool{New: func() any { return &ruleCache{frames: []frame{newFrame()}} }}

func newFrame() frame { return frame{byHash: make(map[uint64]cached, 64)} }

func getRuleCache() *ruleCache { return ruleCaches.Get().(*ruleCache) }

// putRuleCache empties the cache and returns it to the pool.
func putRuleCache(c *ruleCache) {
	for i := range c.frames {
		c.frames[i].reset()
	}
	c.depth = 0
	ruleCaches.Put(c)
}

func (f *frame) reset() {
	clear(f.byHash)
	clear(f.other)
	f.other = f.other[:0]
}

func (c *ruleCache) Push() {
	c.depth++
	if c.depth == len(c.frames) {
		c.frames = append(c.frames, newFrame())
	}
}

func (c *ruleCache) Pop() {
	c.frames[c.depth].reset()
	c.depth--
}

func refHash(ref ast.Ref) uint64 {
	h := uint64(14695981039346656037)
	for _, t := range ref {
		h = (h ^ uint64(t.Hash())) * 1099511628211
	}
	return h
}

func (c *ruleCache) Get(ref ast.Ref) (*ast.Term, bool) {
	f := &c.frames[c.depth]
	if e, ok := f.byHash[refHash(ref)]; ok {
		if e.ref.Equal(ref) {
			return e.value, e.undefined
		}
		for _, e := range f.other {
			if e.ref.Equal(ref) {
				return e.value, e.undefined
			}
		}
	}
	return nil, false
}

func (c *ruleCache) Put(ref ast.Ref, value *ast.Term) {
	f := &c.frames[c.depth]
	h := refHash(ref)
	e, ok := f.byHash[h]
	switch {
	case !ok:
		// The caller may reuse the slice it passes: keep a copy.
		f.byHash[h] = cached{ref: append(ast.Ref(nil), ref...), value: value, undefined: value == nil}
	case e.ref.Equal(ref):
		e.value, e.undefined = value, value == nil
		f.byHash[h] = e
	default:
		for i := range f.other {
			if f.other[i].ref.Equal(ref) {
				f.other[i].value, f.other[i].undefined = value, value == nil
				return
			}
		}
		f.other = append(f.other, cached{ref: append(ast.Ref(nil), ref...), value: value, undefined: value == nil})
	}
}

func (c *ruleCache) Keys() []ast.Ref {
	f := &c.frames[c.depth]
	var out []ast.Ref
	for _, e := range f.byHash {
		if !e.undefined {
			out = append(out, e.ref)
		}
	}
	for _, e := range f.other {
		if !e.undefined {
			out = append(out, e.ref)
		}
	}
	return out
}
