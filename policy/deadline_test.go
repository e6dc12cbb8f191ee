package policy

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// slowPolicy is the minimal bundle whose api.allow and exchange.decision
// loop for hours (10^10 iterations) when asked by the "slow" role or for
// the "slow" purpose.
func slowPolicy(t *testing.T) string {
	t.Helper()
	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "slow.rego", `package xborder.api

allow if {
	input.user.role == "slow"
	count([1 |
		some x in numbers.range(1, 100000)
		some y in numbers.range(1, 100000)
		x == y + 100000
	]) > 0
}
`)
	write(t, dir, "slow_exchange.rego", `package xborder.exchange

decision := {"allow": true, "reasons": [], "rules": ["slow"], "obligations": [], "max_validity_s": 0} if {
	input.purpose == "slow"
	count([1 |
		some x in numbers.range(1, 100000)
		some y in numbers.range(1, 100000)
		x == y + 100000
	]) > 0
}
`)
	return dir
}

// slowEngine loads the slow policy with the given evaluator: "plan"
// (package irvm) or "topdown".
func slowEngine(t *testing.T, evaluator string) *Engine {
	t.Helper()
	ctx := context.Background()
	e, err := NewEngine(ctx, slowPolicy(t), nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	e.Bundle().Plan(ctx)
	if evaluator == "topdown" {
		e.Bundle().planned.Store(&planned{err: "the test asks for topdown"})
	}
	if ev := e.Info().Evaluator; (ev == "plan") != (evaluator == "plan") {
		t.Fatalf("evaluator %q, want %s", ev, evaluator)
	}
	return e
}

// within runs f and fails the test if it has not returned in a time far
// beyond any deadline of the test but far below the hours the slow policy
// would run for.
func within[T any](t *testing.T, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("the evaluation did not stop")
		panic("unreachable")
	}
}

func TestSlowDecisionIsDeniedAtItsDeadline(t *testing.T) {
	for _, ev := range []string{"plan", "topdown"} {
		t.Run(ev, func(t *testing.T) {
			e := slowEngine(t, ev)
			var timeouts atomic.Int32
			var last atomic.Value
			e.OnTimeout = func(p Point) { timeouts.Add(1); last.Store(p) }
			limit := 100 * time.Millisecond
			if err := e.SetDeadlines(Deadlines{Default: limit}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "operator"}}); !ok || err != nil {
				t.Fatalf("a quick decision: %v, %v", ok, err)
			}

			type answer struct {
				ok  bool
				err error
			}
			a := within(t, func() answer {
				ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "slow"}, Method: "GET", Path: "/v1/status/x"})
				return answer{ok, err}
			})
			var terr *TimeoutError
			if a.ok || !errors.As(a.err, &terr) || terr.Point != APIAllow || terr.Limit != limit {
				t.Fatalf("slow api.allow: %v, %v; want a denial by *TimeoutError", a.ok, a.err)
			}
			if want := "the policy took longer than 100 ms to decide data.xborder.api.allow"; a.err.Error() != want {
				t.Fatalf("reason %q, want %q", a.err, want)
			}

			d := within(t, func() answer {
				d, err := e.Exchange(ctx, openData("slow"))
				if d.Allow || len(d.Rules) != 1 || d.Rules[0] != TimeoutRule || len(d.Reasons) != 1 || d.Bundle != e.Info().Hash {
					t.Errorf("slow exchange decision %+v, want a denial naming %s", d, TimeoutRule)
				}
				return answer{d.Allow, err}
			})
			if !errors.As(d.err, &terr) || terr.Point != ExchangeDecision {
				t.Fatalf("slow exchange: %v, want *TimeoutError", d.err)
			}
			if n := timeouts.Load(); n != 2 || last.Load() != ExchangeDecision {
				t.Fatalf("OnTimeout called %d times, last for %v; want 2, exchange", n, last.Load())
			}
		})
	}
}

func TestCancelledDecisionStops(t *testing.T) {
	for _, ev := range []string{"plan", "topdown"} {
		t.Run(ev, func(t *testing.T) {
			e := slowEngine(t, ev)
			var timeouts atomic.Int32
			e.OnTimeout = func(Point) { timeouts.Add(1) }
			if err := e.SetDeadlines(Deadlines{Default: MaxDecisionTimeout}); err != nil {
				t.Fatal(err)
			}
			// The caller gives up (a client that went away) long before
			// the deadline: the evaluation stops with it.
			ctx, cancel := context.WithCancel(context.Background())
			stop := time.AfterFunc(50*time.Millisecond, cancel)
			defer stop.Stop()
			err := within(t, func() error {
				_, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "slow"}})
				return err
			})
			var terr *TimeoutError
			if !errors.Is(err, context.Canceled) || errors.As(err, &terr) {
				t.Fatalf("cancelled api.allow: %v, want context.Canceled", err)
			}
			if timeouts.Load() != 0 {
				t.Fatal("a caller's cancellation was counted as a policy timeout")
			}
		})
	}
}

func TestDeadlinesValidate(t *testing.T) {
	if err := DefaultDeadlines().Validate(); err != nil {
		t.Fatal(err)
	}
	d := DefaultDeadlines()
	if d.For(APIAllow) != DefaultFastTimeout || d.For(ExchangeDecision) != DefaultDecisionTimeout {
		t.Fatalf("defaults %+v", d)
	}
	for _, bad := range []Deadlines{
		{},
		{Default: 2 * MaxDecisionTimeout},
		{Default: time.Second, Points: map[Point]time.Duration{"data.xborder.nope": time.Second}},
		{Default: time.Second, Points: map[Point]time.Duration{APIAllow: -1}},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
