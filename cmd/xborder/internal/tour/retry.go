package tour

import (
	"context"
	"errors"
	"time"
)

// Backoff spaces Retry's attempts: Initial after the first, doubling up
// to Max.
type Backoff struct {
	Initial, Max time.Duration
}

// DefaultBackoff suits waits of a fraction of a second to seconds.
var DefaultBackoff = Backoff{Initial: 10 * time.Millisecond, Max: 250 * time.Millisecond}

// ErrGaveUp is returned by Retry when within elapsed before try was done.
var ErrGaveUp = errors.New("gave up waiting")

// Retry calls try until it reports done, returns an error (which Retry
// returns), ctx ends (ctx's error) or within elapses (ErrGaveUp),
// sleeping by b between attempts.
//
// It is for the conditions a node does not signal through its API: a
// registry without its first leader yet (503), peers still connecting, a
// partner's catalogue still syncing, a transfer still running. Anything
// the registry applies is waited for with a blocking read (?index=N)
// instead.
func Retry(ctx context.Context, within time.Duration, b Backoff, try func() (done bool, err error)) error {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	pause := b.Initial
	for {
		done, err := try()
		if err != nil || done {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-deadline.C:
			t.Stop()
			return ErrGaveUp
		case <-t.C:
		}
		pause = min(2*pause, b.Max)
	}
}
