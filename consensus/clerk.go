package consensus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/xborder/xborder/policy"
)

// Clerk is the registry as this member's users reach it (the local API,
// the web console): a write is admitted by this member's policy with its
// decision on record (admission.go), signed, proposed, its outcome
// recorded, and waited for until the local replica shows it; a read
// comes with the applied index it reflects. (Registry.Submit is the bare
// write path without admission, for what the node itself commits: audit
// anchors and policy hashes.)
type Clerk struct {
	reg      *Registry
	applied  AppliedWaiter
	policy   Policy
	rec      Recorder
	checkRef func(string) error
	self     policy.Node
	wait     time.Duration
	log      *slog.Logger

	lagMu    sync.Mutex
	lagErr   error // the last write not applied here in time
	lagIndex uint64
	lagSince time.Time
}

// AppliedWaiter is the local replica as a write waits for it to apply a
// command: the *Registry itself, or in tests one that holds back what it
// applied.
type AppliedWaiter interface {
	WaitApplied(ctx context.Context, index uint64) error
	AppliedIndex() uint64
}

// ClerkConfig says who this member is to its policies.
type ClerkConfig struct {
	// Self is this member as the registry policy's input.member: name,
	// peer ID, country and organisation.
	Self policy.Node
}

// Validate checks that the member is named.
func (c ClerkConfig) Validate() error {
	if c.Self.Node == "" || c.Self.PeerID == "" {
		return errors.New("clerk: self: the member's name and peer ID are needed")
	}
	return nil
}

// ClerkDeps are the Clerk's collaborators.
type ClerkDeps struct {
	// Registry is the local replica writes go through and reads come
	// from; its ApplyWait bounds the wait for a write to show here.
	Registry *Registry
	// Applied, when set, replaces Registry as what a write waits for.
	Applied AppliedWaiter
	// Policy decides whether a command may be proposed.
	Policy Policy
	// Recorder keeps the decisions and outcomes on the audit trail.
	Recorder Recorder
	// RefChecker, when set, refuses a dataset reference (OWNER/ID) that a
	// project command names before any policy is asked; its error is
	// returned as is.
	RefChecker func(ref string) error
	// Log gets a write committed but not applied here in time.
	Log *slog.Logger
}

// NewClerk returns the registry's front for this member's users.
func NewClerk(cfg ClerkConfig, deps ClerkDeps) (*Clerk, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Registry == nil || deps.Policy == nil || deps.Recorder == nil {
		return nil, errors.New("clerk: a registry, a policy and a recorder are needed")
	}
	c := &Clerk{reg: deps.Registry, applied: deps.Applied, policy: deps.Policy, rec: deps.Recorder,
		checkRef: deps.RefChecker, self: cfg.Self, wait: deps.Registry.cfg.ApplyWait, log: deps.Log}
	if c.applied == nil {
		c.applied = deps.Registry
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Submit has a command admitted (admission.go), signed as this member
// and committed; it returns once the local replica has applied it, so
// that this member reads its own write (a revocation stops this node's
// own grants as soon as Submit returns). A denial is a
// *policy.DeniedError, the FSM's refusal a *RejectedError; a command
// committed but not applied here within ApplyWait returns its index and
// a *NotAppliedError, and Lagging reports it until the replica has
// caught up.
func (c *Clerk) Submit(ctx context.Context, op string, args any) (uint64, error) {
	if err := c.admit(ctx, op, args); err != nil {
		return 0, err
	}
	idx, err := c.reg.Submit(ctx, op, args)
	details := map[string]any{"op": op, "args_sha256": digest(args), "index": idx}
	if err != nil {
		details["error"] = err.Error()
	}
	// The command is committed: a failure to record the submission is
	// the recorder's to report (the node logs it and is not ready); the
	// decision is on record.
	_ = c.rec.Record(AuditSubmit, op, details)
	if err != nil || idx == 0 {
		return idx, err
	}
	return idx, c.waitApplied(ctx, idx)
}

// waitApplied waits, within ctx and ApplyWait, until the local replica
// has applied index, even when the leader committed the command before
// this follower applied it.
func (c *Clerk) waitApplied(ctx context.Context, index uint64) error {
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	err := c.applied.WaitApplied(wctx, index)
	var na *NotAppliedError
	switch {
	case err == nil:
		c.observe(nil, 0)
	case errors.As(err, &na) && ctx.Err() == nil:
		c.log.Warn("registry write committed but not applied here in time", "index", index, "applied", na.Applied)
		c.observe(err, na.Index)
	}
	return err
}

// observe keeps the last write's outcome: a write applied in time clears
// a lag, one that was not starts it (or keeps its start).
func (c *Clerk) observe(err error, index uint64) {
	c.lagMu.Lock()
	defer c.lagMu.Unlock()
	switch {
	case err == nil:
		c.lagErr, c.lagIndex, c.lagSince = nil, 0, time.Time{}
	case c.lagErr == nil:
		c.lagErr, c.lagIndex, c.lagSince = err, index, time.Now()
	default:
		c.lagErr, c.lagIndex = err, index
	}
}

// Lagging returns the last write committed but not applied here in time
// (a *NotAppliedError) and since when writes lag, until the replica has
// applied it; a zero time and nil otherwise. The node is not ready
// meanwhile.
func (c *Clerk) Lagging() (time.Time, error) {
	c.lagMu.Lock()
	defer c.lagMu.Unlock()
	if c.lagErr != nil && c.applied.AppliedIndex() >= c.lagIndex {
		c.lagErr, c.lagIndex, c.lagSince = nil, 0, time.Time{}
	}
	return c.lagSince, c.lagErr
}

// Projects lists the joint projects from the local replica, by ID, with
// the applied index they reflect at least.
func (c *Clerk) Projects(context.Context) ([]Project, uint64, error) {
	idx := c.reg.AppliedIndex()
	ps, err := c.reg.Projects()
	return ps, idx, err
}

// Project returns one project (or an error wrapping ErrNotFound) with
// the applied index it reflects at least.
func (c *Clerk) Project(_ context.Context, id string) (Project, uint64, error) {
	idx := c.reg.AppliedIndex()
	p, err := c.reg.Project(id)
	return p, idx, err
}

// Modules lists the modules of a project ("" for every project) with the
// applied index they reflect at least.
func (c *Clerk) Modules(_ context.Context, project string) ([]Module, uint64, error) {
	idx := c.reg.AppliedIndex()
	ms, err := c.reg.Modules(project)
	return ms, idx, err
}

// Module returns one module of a project (or an error wrapping
// ErrNotFound) with the applied index it reflects at least.
func (c *Clerk) Module(_ context.Context, project, sha256 string) (Module, uint64, error) {
	idx := c.reg.AppliedIndex()
	m, err := c.reg.Module(project, sha256)
	return m, idx, err
}

// Evaluations lists the committed evaluations of a model ("" for every
// model) with the applied index they reflect at least.
func (c *Clerk) Evaluations(_ context.Context, model string) ([]Evaluation, uint64, error) {
	idx := c.reg.AppliedIndex()
	es, err := c.reg.Evaluations(model)
	return es, idx, err
}

// Members lists the members and the open membership proposals with the
// applied index they reflect at least.
func (c *Clerk) Members(context.Context) ([]Member, []Proposal, uint64, error) {
	idx := c.reg.AppliedIndex()
	ms, err := c.reg.Members()
	if err != nil {
		return nil, nil, 0, err
	}
	ps, err := c.reg.Proposals()
	return ms, ps, idx, err
}

// DeclaredPolicies lists every member with the policy bundle it last
// declared in the registry (GET /v1/policy/peers).
func (c *Clerk) DeclaredPolicies(context.Context) ([]DeclaredPolicy, error) {
	return c.reg.DeclaredPolicies()
}

// WaitApplied returns once the local replica has applied index, or with
// an error when ctx ends or the registry closes first: what a blocking
// read (?index=N) waits on.
func (c *Clerk) WaitApplied(ctx context.Context, index uint64) error {
	return c.applied.WaitApplied(ctx, index)
}
