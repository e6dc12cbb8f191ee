package consensus

import "errors"

// Errors a caller may branch on.
var (
	ErrNoLeader = errors.New("the registry has no leader (a majority of voters is unreachable)")
	ErrClosed   = errors.New("the registry is closed")
	// ErrOutcomeUnknown: the command reached the leader (or its queue) but
	// no answer came back in time. It may still be committed, until the
	// leader's staleness bound (StaleAfter) has passed: read the registry
	// before submitting it again.
	ErrOutcomeUnknown = errors.New("the command reached the leader, but whether it was committed is unknown")
	// ErrStale: the leader refused a command signed more than StaleAfter
	// ago; it was not applied.
	ErrStale = errors.New("the leader refused a stale command")
)

// ErrCatchingUp is wrapped by Current while the replica is older than it
// was when the node last stopped.
var ErrCatchingUp = errors.New("the registry replica is catching up after a restart")

// StaleError is the leader's refusal of a stale command (errors.Is
// ErrStale). Reason says how stale; it crosses the forwarding wire on its
// own, and the follower's StaleError carries it back.
type StaleError struct {
	Reason string
}

func (e *StaleError) Error() string {
	if e.Reason == "" {
		return ErrStale.Error()
	}
	return ErrStale.Error() + ": " + e.Reason
}

func (e *StaleError) Is(target error) bool { return target == ErrStale }
