package sandbox

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// virtualClock is the only time a module sees: it stands still at the
// node's time and moves only when the module sleeps, by as long as it
// asked. Sleeps return at once, so a module cannot hold a run open by
// sleeping, and its output does not depend on when or how fast it ran.
type virtualClock struct {
	start   time.Time
	elapsed atomic.Int64 // nanoseconds slept
}

func (c *virtualClock) walltime() (sec int64, nsec int32) {
	t := c.start.Add(time.Duration(c.elapsed.Load()))
	return t.Unix(), int32(t.Nanosecond())
}

// monotonicOrigin is where the monotonic clock starts: fixed, so that
// elapsed times are the sleeps, and not zero, which Go's runtime takes for
// a broken clock.
const monotonicOrigin = int64(time.Second)

func (c *virtualClock) nanotime() int64 { return monotonicOrigin + c.elapsed.Load() }

func (c *virtualClock) nanosleep(ns int64) {
	if ns > 0 {
		c.elapsed.Add(ns)
	}
}

// seededRand is the module's only source of randomness.
func seededRand(seed [32]byte) *rand.ChaCha8 { return rand.NewChaCha8(seed) }
