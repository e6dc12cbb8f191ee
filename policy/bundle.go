package policy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/xborder/xborder/policy/irvm"
)

// File is one file of a bundle.
type File struct {
	Path   string `json:"path"` // relative to the policy directory
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Bundle is a compiled policy directory with a prepared query per
// decision point. It is immutable; a reload builds a new one.
type Bundle struct {
	Dir      string
	Hash     string
	Files    []File
	LoadedAt time.Time

	compiler  *ast.Compiler
	store     storage.Store
	queries   map[Point]rego.PreparedEvalQuery
	modules   map[string][]byte // the Rego sources, for the planner
	documents map[string]any    // the data files
	// Decisions run from OPA's plan of the decision points (package irvm)
	// once Plan has made it; until then, for a policy the plan cannot run,
	// and for every evaluation the plan fails, the prepared topdown queries
	// take them.
	planOnce sync.Once
	planned  atomic.Pointer[planned]
	// recent, set by the engine before the bundle decides, keeps the
	// inputs of the last decisions the plan is checked on.
	recent *recentInputs
}

// planned is the outcome of Plan: the program and the entrypoint of each
// point it runs, or why there is none.
type planned struct {
	program *irvm.Program
	points  map[Point]string
	err     string
}

// Evaluator says what takes the bundle's decisions: "plan", "planning" (the
// plan is being made; topdown decides meanwhile) or "topdown: " and why
// the plan cannot.
func (b *Bundle) Evaluator() string {
	p := b.planned.Load()
	switch {
	case p == nil:
		return "planning"
	case p.err != "":
		return "topdown: " + p.err
	}
	return "plan"
}

// Defines reports whether the bundle defines decision point p (only an
// optional point may be missing).
func (b *Bundle) Defines(p Point) bool {
	_, ok := b.queries[p]
	return ok
}
