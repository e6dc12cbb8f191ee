// Package testkit is what xborder's tests share: waiting for a condition
// within a deadline, and loopback ports for the nodes a test starts.
//
// Tests run on a loaded two-core machine, so they never sleep a fixed
// time and hope: they wait for the outcome they assert, and give up with
// a message naming it when the deadline passes.
package testkit

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/loopback"
)

// PolicyDecisionTimeout is every policy decision's deadline in a test
// node: generous, because a test asserts what a policy decides, not how
// fast, and the engine's defaults (100-500 ms) are overrun on a loaded
// two-core machine. Tests of the deadlines set their own.
const PolicyDecisionTimeout = 10 * time.Second

// Polling starts fast, so that a condition that holds at once costs little,
// and backs off so that a long wait does not spin on a loaded machine.
const (
	firstPause = 5 * time.Millisecond
	maxPause   = 200 * time.Millisecond
)

// Eventually waits until cond holds, failing t with what once within has
// passed.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	EventuallyNil(t, within, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("condition not met")

// EventuallyNil waits until f returns nil, failing t with what and f's
// last error once within has passed.
func EventuallyNil(t testing.TB, within time.Duration, what string, f func() error) {
	t.Helper()
	if err := Wait(within, f); err != nil {
		if errors.Is(err, errNotYet) {
			t.Fatalf("not within %v: %s", within, what)
		}
		t.Fatalf("not within %v: %s: %v", within, what, err)
	}
}

// Wait calls f until it returns nil or within has passed, and returns f's
// last error. It is for helpers that report the failure themselves.
func Wait(within time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	pause := firstPause
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
	}
}

// FreePort returns a loopback port free for TCP and, with udpToo, for UDP
// as well (a node listens on TCP and QUIC with one port number).
func FreePort(t testing.TB, udpToo bool) int {
	t.Helper()
	p, err := loopback.FreePort(udpToo)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Clock is a clock a test moves by hand, for code that judges expiry:
// the test moves it past an end instead of sleeping until then. Its zero
// value reads the wall clock; Advance adds to what it reads from then on.
// It keeps running between moves, so deadlines code computes from it
// (a stream's, a wait's) still lie ahead.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the wall clock moved by every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
