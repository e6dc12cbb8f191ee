package consensus

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the registry's raft and its writes. The node's config file
// sets every field but Dir under `registry:`, with the snake_case names
// Validate uses (heartbeat_timeout, ...).
type Config struct {
	// Dir holds raft/ (log store, snapshots) and registry.db (the state):
	// the node's data dir, not a setting of its own.
	Dir string
	// Timeouts for a cross-border network: members are tens of
	// milliseconds apart, so half a second of silence means trouble.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is the number of log entries between snapshots.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs are kept after a snapshot, so that a member that was
	// briefly away catches up from the log rather than a whole snapshot.
	TrailingLogs uint64
	// ApplyTimeout bounds one Submit: reaching a leader and having the
	// command committed.
	ApplyTimeout time.Duration
	// ApplyWait bounds how long a Clerk's write then waits for the local
	// replica to apply it before saying it is committed but not applied
	// here.
	ApplyWait time.Duration
	// MaxBatch bounds how many concurrent commands share one log entry.
	MaxBatch int
}

// DefaultConfig returns the registry configuration for a data dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                dir,
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		SnapshotThreshold:  1024,
		SnapshotInterval:   2 * time.Minute,
		TrailingLogs:       10240,
		ApplyTimeout:       10 * time.Second,
		ApplyWait:          5 * time.Second,
		MaxBatch:           512,
	}
}

// minTimeout is raft's floor for its heartbeat, election, lease and
// snapshot-interval timers.
const minTimeout = 5 * time.Millisecond

// Validate checks the fields against raft's rules and against each other.
// It joins one error per problem (errors.Join), each starting with its
// field's name.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Dir == "" {
		bad("dir: the registry directory is empty")
	}
	if c.HeartbeatTimeout < minTimeout {
		bad("heartbeat_timeout: %v is shorter than %v", c.HeartbeatTimeout, minTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		// raft refuses it: a follower would call elections between two
		// heartbeats of a healthy leader.
		bad("election_timeout: %v is shorter than heartbeat_timeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout < minTimeout {
		bad("leader_lease_timeout: %v is shorter than %v", c.LeaderLeaseTimeout, minTimeout)
	} else if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		bad("leader_lease_timeout: %v is longer than heartbeat_timeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.CommitTimeout < time.Millisecond {
		bad("commit_timeout: %v is shorter than 1ms", c.CommitTimeout)
	} else if c.CommitTimeout >= c.HeartbeatTimeout {
		// Followers learn the commit index at most this late: beyond a
		// heartbeat they would apply later than a leader change is noticed.
		bad("commit_timeout: %v is not shorter than heartbeat_timeout %v", c.CommitTimeout, c.HeartbeatTimeout)
	}
	if c.SnapshotThreshold < 1 {
		bad("snapshot_threshold: must be at least 1")
	}
	if c.SnapshotInterval < minTimeout {
		bad("snapshot_interval: %v is shorter than %v", c.SnapshotInterval, minTimeout)
	}
	if c.TrailingLogs < 1 {
		bad("trailing_logs: must be at least 1")
	}
	if c.ApplyTimeout <= 0 {
		bad("apply_timeout: must be positive")
	} else if c.ApplyTimeout >= StaleAfter {
		// The leader refuses a command signed longer ago than
		// StaleAfter: retrying it beyond that cannot succeed.
		bad("apply_timeout: %v is not shorter than %v, after which the leader refuses a command as stale", c.ApplyTimeout, StaleAfter)
	} else if c.ApplyTimeout < c.ElectionTimeout {
		// A write must survive the election that follows a leader's loss.
		bad("apply_timeout: %v is shorter than election_timeout %v", c.ApplyTimeout, c.ElectionTimeout)
	}
	if c.ApplyWait <= 0 {
		bad("apply_wait: must be positive")
	}
	if c.MaxBatch < 1 {
		bad("max_batch: must be at least 1")
	}
	return errors.Join(errs...)
}
