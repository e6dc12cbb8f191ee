package node

import "time"

// WithClock sets the clock by which the node judges validity in time: an
// agreement's status, a request's or a grant's expiry, the time a policy
// decides at (default: time.Now). Tests move it past an expiry instead of
// waiting for it. What the registry applies stays dated by its commands,
// never by this clock.
func WithClock(now func() time.Time) Option { return func(n *Node) { n.clock = now } }

// now is the node's clock.
func (n *Node) now() time.Time {
	if n.clock != nil {
		return n.clock()
	}
	return time.Now()
}
