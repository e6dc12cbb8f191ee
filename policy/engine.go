package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Info describes the active bundle and the last failed reload, if any.
type Info struct {
	Dir      string    `json:"dir"`
	Hash     string    `json:"hash"`
	LoadedAt time.Time `json:"loaded_at"`
	Files    []File    `json:"files"`
	// Evaluator is "plan" when decisions run from OPA's plan of the policy
	// (package irvm), "planning" for the moment after a load when topdown
	// takes them while the plan is made, "topdown: <why>" when it takes
	// them all.
	Evaluator string `json:"evaluator"`
	// EvaluatorConfigured is the operator's policy.evaluator: "plan" or
	// "topdown" (then Evaluator is "topdown: policy.evaluator is topdown").
	EvaluatorConfigured string    `json:"evaluator_configured"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
}

type reloadFailure struct {
	err string
	at  time.Time
}

// Engine decides with the active bundle and swaps it atomically on reload.
// A reload that fails keeps the last good bundle.
type Engine struct {
	dir       string
	log       *slog.Logger
	evaluator string // EvaluatorPlan or EvaluatorTopdown

	active  atomic.Pointer[Bundle]
	failure atomic.Pointer[reloadFailure]
	reload  sync.Mutex // one reload at a time
	// recent keeps the inputs of the last decisions, in memory only, for
	// checking each new plan against topdown.
	recent *recentInputs

	// OnReload, when set before Watch, is called after every successful
	// reload with the new bundle's info; OnRefused after every refused one.
	OnReload  func(Info)
	OnRefused func(error)
	// OnTimeout, when set before the first decision, is called with the
	// decision point of every decision that overran its deadline.
	OnTimeout func(Point)

	deadlines atomic.Pointer[Deadlines]

	planAfter <-chan struct{} // see WithPlanAfter; nil once the first plan has started
	onPlanned func(Info)      // see WithOnPlanned
	closing   chan struct{}   // closed by Close: a held plan is not made

	cancel context.CancelFunc // stops Watch
	wg     sync.WaitGroup     // Watch and background planning
	once   sync.Once
}

// NewEngine loads the policy directory; the first load must succeed.
func NewEngine(ctx context.Context, dir string, log *slog.Logger, opts ...Option) (*Engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{dir: dir, log: log, evaluator: EvaluatorPlan, closing: make(chan struct{})}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	b, err := Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	e.recent = newRecentInputs()
	b.recent = e.recent
	d := DefaultDeadlines()
	e.deadlines.Store(&d)
	e.active.Store(b)
	e.plan(b)
	return e, nil
}

// Reload compiles the directory again. On success the new bundle decides
// from now on; on failure the error is returned and recorded, and the last
// good bundle stays active.
func (e *Engine) Reload(ctx context.Context) (Info, error) {
	e.reload.Lock()
	defer e.reload.Unlock()
	b, err := Load(ctx, e.dir)
	if err != nil {
		e.failure.Store(&reloadFailure{err: err.Error(), at: time.Now().UTC()})
		e.log.Error("policy reload refused; the last good policy stays active",
			"err", err, "active_hash", e.active.Load().Hash)
		if e.OnRefused != nil {
			e.OnRefused(err)
		}
		return e.Info(), err
	}
	b.recent = e.recent
	old := e.active.Swap(b)
	e.failure.Store(nil)
	e.plan(b)
	if old.Hash != b.Hash {
		e.log.Info("policy reloaded", "hash", b.Hash, "previous_hash", old.Hash, "files", len(b.Files))
	}
	if e.OnReload != nil {
		e.OnReload(e.Info())
	}
	return e.Info(), nil
}

// plan makes the bundle's plan in the background (Close waits for it) and
// warns when the decisions cannot run from it: they are still taken, by
// topdown, only more slowly. With policy.evaluator topdown it plans nothing.
func (e *Engine) plan(b *Bundle) {
	if e.evaluator == EvaluatorTopdown {
		b.topdownOnly(forcedTopdown)
		return
	}
	// Only the first plan waits for planAfter; plan runs under the reload
	// lock or from NewEngine, so planAfter needs no lock of its own.
	after := e.planAfter
	e.planAfter = nil
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if after != nil {
			select {
			case <-after:
			case <-e.closing:
				return
			}
			if e.active.Load() != b {
				return // reloaded meanwhile: the new bundle's plan is under way
			}
		}
		b.Plan(context.Background())
		if ev := b.Evaluator(); ev != "plan" {
			e.log.Warn("policy decisions evaluated by topdown, not from the plan", "hash", b.Hash, "why", ev)
		}
		if e.onPlanned != nil {
			e.onPlanned(e.Info())
		}
	}()
}

// SetDeadlines replaces the deadlines of the decisions taken from now on.
func (e *Engine) SetDeadlines(d Deadlines) error {
	if err := d.Validate(); err != nil {
		return err
	}
	d = d.clone()
	e.deadlines.Store(&d)
	return nil
}

// Deadlines returns the deadlines in force.
func (e *Engine) Deadlines() Deadlines { return e.deadlines.Load().clone() }

// decide takes a decision of the active bundle under the point's deadline;
// one that overruns is a denial that names TimeoutRule and says why,
// returned with the *TimeoutError.
func (e *Engine) decide(ctx context.Context, b *Bundle, p Point, in any) (Decision, error) {
	d, err := bounded(e, ctx, p, func(ctx context.Context) (Decision, error) { return b.decide(ctx, p, in) })
	if terr := (*TimeoutError)(nil); errors.As(err, &terr) {
		d = Decision{Bundle: b.Hash, Rules: []string{TimeoutRule}, Reasons: []string{terr.Error()}, Obligations: []string{}}
	}
	return d, err
}

// boolean answers a boolean decision point under its deadline; false when
// it overruns.
func (e *Engine) boolean(ctx context.Context, p Point, in any) (bool, error) {
	b := e.active.Load()
	return bounded(e, ctx, p, func(ctx context.Context) (bool, error) { return b.boolean(ctx, p, in) })
}

// Info returns the active bundle's description.
func (e *Engine) Info() Info {
	b := e.active.Load()
	i := Info{Dir: b.Dir, Hash: b.Hash, LoadedAt: b.LoadedAt, Files: b.Files,
		Evaluator: b.Evaluator(), EvaluatorConfigured: e.evaluator}
	if f := e.failure.Load(); f != nil {
		i.LastError, i.LastErrorAt = f.err, f.at
	}
	return i
}

// Bundle returns the active bundle.
func (e *Engine) Bundle() *Bundle { return e.active.Load() }

// Exchange decides a dataset or model request.
func (e *Engine) Exchange(ctx context.Context, in ExchangeInput) (Decision, error) {
	return e.decide(ctx, e.active.Load(), ExchangeDecision, in)
}

// Agreement decides whether this partner signs a proposed agreement.
func (e *Engine) Agreement(ctx context.Context, in AgreementInput) (Decision, error) {
	return e.decide(ctx, e.active.Load(), AgreementDecision, in)
}

// Registry decides whether a registry command may be proposed.
func (e *Engine) Registry(ctx context.Context, in RegistryInput) (Decision, error) {
	return e.decide(ctx, e.active.Load(), RegistryDecision, in)
}

// Membership decides this partner's vote on a candidate.
func (e *Engine) Membership(ctx context.Context, in MembershipInput) (Decision, error) {
	return e.decide(ctx, e.active.Load(), MembershipDecision, in)
}

// Audit decides whether a partner may verify this node's audit trail with
// the detail it asks for. A policy without data.xborder.audit.decision
// (written before the point existed) discloses nothing and says so.
func (e *Engine) Audit(ctx context.Context, in AuditInput) (Decision, error) {
	b := e.active.Load()
	if !b.Defines(AuditDecision) {
		return Decision{Bundle: b.Hash, Rules: []string{"no_audit_policy"}, Reasons: []string{
			"This node's policy has no data.xborder.audit.decision rule, so it discloses nothing of its audit trail; its legal team adds one (see docs/policies.md)."},
			Obligations: []string{}}, nil
	}
	return e.decide(ctx, b, AuditDecision, in)
}

// CatalogueVisible decides whether a partner may see a catalogue entry.
func (e *Engine) CatalogueVisible(ctx context.Context, in CatalogueInput) (bool, error) {
	return e.boolean(ctx, CatalogueVisible, in)
}

// APIAllow decides whether a local user may call an API endpoint.
func (e *Engine) APIAllow(ctx context.Context, in APIInput) (bool, error) {
	return e.boolean(ctx, APIAllow, in)
}

// ErrNoRolePolicy is returned by APIRole when the active policy has no
// data.xborder.api.role rule (written before the point existed): nobody
// signed in through an identity provider gets a role. It wraps
// ErrNoDecision, so a caller that treats that as a denial refuses.
var ErrNoRolePolicy = fmt.Errorf("this node's policy has no data.xborder.api.role rule, so an identity from an identity provider gets no role; its legal team adds one (see docs/policies.md): %w", ErrNoDecision)

// APIRole decides which role an identity from an identity provider has at
// this node: "researcher", "operator", "auditor", "legal", or "" for none.
// The caller then decides each call with APIAllow under that role.
func (e *Engine) APIRole(ctx context.Context, in APIRoleInput) (string, error) {
	b := e.active.Load()
	if !b.Defines(APIRole) {
		return "", ErrNoRolePolicy
	}
	return bounded(e, ctx, APIRole, func(ctx context.Context) (string, error) { return b.str(ctx, APIRole, in) })
}

// APIRoleReasons says, in sentences, why an identity gets no role
// (data.xborder.api.role_reasons, optional): nil when the policy says
// nothing or cannot say. It explains a refusal; it never decides one.
func (e *Engine) APIRoleReasons(ctx context.Context, in APIRoleInput) []string {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil
	}
	input, err := ParseInput(raw)
	if err != nil {
		return nil
	}
	r, err := e.Eval(ctx, "data.xborder.api.role_reasons", input, ExplainOff)
	if err != nil || !r.Defined {
		return nil
	}
	list, _ := r.Value.([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Eval evaluates an ad-hoc query against the active bundle, for the
// decision playground: what would the policy in force answer to this input?
func (e *Engine) Eval(ctx context.Context, query string, input map[string]any, explain Explain) (EvalResult, error) {
	b := e.active.Load()
	// An ad-hoc query (the playground, POST /v1/policy/eval) is bounded
	// like a decision: a runaway query must not hold the node.
	limit := e.deadlines.Load().Default
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	r, err := evalWith(ctx, b.compiler, b.store, query, input, explain)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return r, fmt.Errorf("the query took longer than %d ms: %w", limit.Milliseconds(), err)
	}
	return r, err
}

// Close stops the watcher and waits for it. It is idempotent.
func (e *Engine) Close() error {
	e.once.Do(func() {
		close(e.closing)
		if e.cancel != nil {
			e.cancel()
		}
		e.wg.Wait()
	})
	return nil
}
