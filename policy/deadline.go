package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Deadlines bound how long one decision may take, by decision point. A
// decision that overruns is a denial (a *TimeoutError), its evaluation is
// stopped, and the engine's OnTimeout hook is told.
type Deadlines struct {
	// Default bounds every decision point without its own entry in Points.
	Default time.Duration
	Points  map[Point]time.Duration
}

// The default deadlines. A decision takes tens of microseconds (see
// BENCHMARKS.md), so these are a safety net against a runaway policy, four
// orders of magnitude above a normal decision, not a budget. data.xborder.
// api.allow stands in front of every API call and catalogue.visible is
// asked once per entry of a listing: their bound keeps a request well under
// a second. The other points decide requests that already wait on the
// network (an exchange, a vote, an agreement), which can afford twice as
// much.
const (
	DefaultDecisionTimeout = 500 * time.Millisecond
	DefaultFastTimeout     = 250 * time.Millisecond
)

// MaxDecisionTimeout is the longest deadline a node accepts.
const MaxDecisionTimeout = time.Minute

// DefaultDeadlines returns the deadlines a node uses unless configured.
func DefaultDeadlines() Deadlines {
	return Deadlines{Default: DefaultDecisionTimeout, Points: map[Point]time.Duration{
		APIAllow:         DefaultFastTimeout,
		APIRole:          DefaultFastTimeout,
		CatalogueVisible: DefaultFastTimeout,
	}}
}

// For returns the deadline of decision point p.
func (d Deadlines) For(p Point) time.Duration {
	if t, ok := d.Points[p]; ok {
		return t
	}
	return d.Default
}

// Validate checks that every deadline is positive and at most
// MaxDecisionTimeout and names a decision point.
func (d Deadlines) Validate() error {
	var errs []error
	check := func(what string, t time.Duration) {
		if t <= 0 || t > MaxDecisionTimeout {
			errs = append(errs, fmt.Errorf("%s: %v must be positive and at most %v", what, t, MaxDecisionTimeout))
		}
	}
	check("default decision timeout", d.Default)
	for p, t := range d.Points {
		if _, ok := pointNames[p]; !ok {
			errs = append(errs, fmt.Errorf("%s is not a decision point", p))
			continue
		}
		check(string(p), t)
	}
	return errors.Join(errs...)
}

var pointNames = func() map[Point]bool {
	m := make(map[Point]bool, len(Points))
	for _, p := range Points {
		m[p] = true
	}
	return m
}()

// clone copies the per-point map so that the engine's copy cannot change.
func (d Deadlines) clone() Deadlines {
	d.Points = maps.Clone(d.Points)
	return d
}

// TimeoutError is a decision that took longer than its deadline: the
// request is denied. Callers treat it as any other decision error (fail
// closed); the message is the reason a requester reads.
type TimeoutError struct {
	Point Point
	Limit time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the policy took longer than %d ms to decide %s", e.Limit.Milliseconds(), e.Point)
}

// TimeoutRule is the rule a timed-out decision names.
const TimeoutRule = "policy_timeout"

// bounded runs one evaluation of point p under its deadline. It turns an
// overrun into a *TimeoutError and reports it; when the caller's own
// context ended first, its error is returned as it is.
func bounded[T any](e *Engine, ctx context.Context, p Point, eval func(context.Context) (T, error)) (T, error) {
	limit := e.deadlines.Load().For(p)
	dctx := newLazyDeadline(ctx, time.Now().Add(limit))
	v, err := eval(dctx)
	dctx.release()
	if err != nil && ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
		terr := &TimeoutError{Point: p, Limit: limit}
		e.log.Warn("policy decision took too long; denied", "point", string(p), "limit", limit, "err", err)
		if e.OnTimeout != nil {
			e.OnTimeout(p)
		}
		return v, terr
	}
	return v, err
}

// lazyDeadline is a context that ends at a deadline, with a timer only for
// those who wait on it. The planned program only polls Err, every so many
// steps, which then costs a clock read; a timer (context.WithDeadline) is
// made the first time Done is called, by topdown's cancellation watcher.
// Most decisions never make one: a timer per decision cost about 3 µs, a
// twentieth of the decision (BENCHMARKS.md).
type lazyDeadline struct {
	context.Context // the caller's
	deadline        time.Time

	once   sync.Once
	timed  context.Context // made by the first Done
	cancel context.CancelFunc
}

func newLazyDeadline(parent context.Context, deadline time.Time) *lazyDeadline {
	return &lazyDeadline{Context: parent, deadline: deadline}
}

func (c *lazyDeadline) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *lazyDeadline) Done() <-chan struct{} {
	c.once.Do(func() { c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline) })
	if c.timed == nil {
		return released // asked after the evaluation ended
	}
	return c.timed.Done()
}

// released is the Done channel of a deadline whose evaluation has ended.
var released = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

func (c *lazyDeadline) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// release stops the timer, if one was made.
func (c *lazyDeadline) release() {
	c.once.Do(func() {}) // no timer from now on
	if c.cancel != nil {
		c.cancel()
	}
}
