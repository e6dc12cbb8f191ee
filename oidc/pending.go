package oidc

import (
	"sync"
	"time"
)

// login is one sign-in under way: what the callback must match.
type login struct {
	nonce    string
	verifier string // the PKCE code verifier
	expires  time.Time
}

// ledger holds the logins under way and the states and nonces already
// used, each bounded: a state is taken once, a nonce accepted once.
type ledger struct {
	mu      sync.Mutex
	max     int
	pending map[string]login
	// usedStates and usedNonces remember, until they expire, what was
	// used, so that a replay is named as such.
	usedStates map[string]time.Time
	usedNonces map[string]time.Time
}

func newLedger(max int) *ledger {
	return &ledger{max: max, pending: map[string]login{},
		usedStates: map[string]time.Time{}, usedNonces: map[string]time.Time{}}
}

// add records a new login; false when the table is full of live ones.
func (l *ledger) add(state string, lg login, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) >= l.max {
		for s, p := range l.pending {
			if !now.Before(p.expires) {
				delete(l.pending, s)
			}
		}
		if len(l.pending) >= l.max {
			return false
		}
	}
	l.pending[state] = lg
	return true
}

// take removes and returns a state's login; the error says whether the
// state was replayed or is unknown (never issued, or expired).
func (l *ledger) take(state string, now time.Time) (login, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg, ok := l.pending[state]
	if !ok {
		if exp, used := l.usedStates[state]; used && now.Before(exp) {
			return login{}, ErrStateReplayed
		}
		return login{}, ErrStateUnknown
	}
	delete(l.pending, state)
	remember(l.usedStates, state, lg.expires, now, l.max)
	if !now.Before(lg.expires) {
		return login{}, ErrStateUnknown
	}
	return lg, nil
}

// useNonce marks a nonce used until its token expires; false if it was.
func (l *ledger) useNonce(nonce string, until, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if exp, used := l.usedNonces[nonce]; used && now.Before(exp) {
		return false
	}
	remember(l.usedNonces, nonce, until, now, l.max)
	return true
}

// nonceUsed reports whether a nonce is one of this party's sign-ins'
// (used, its token not expired yet).
func (l *ledger) nonceUsed(nonce string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	exp, used := l.usedNonces[nonce]
	return used && now.Before(exp)
}

// remember adds k to a bounded set: expired entries go first, then, if
// still full, the one that expires soonest (a replay of it would also need
// a state this node issued with that nonce, which it never issues twice).
func remember(m map[string]time.Time, k string, until, now time.Time, max int) {
	if len(m) >= max {
		var soonest string
		var at time.Time
		for x, exp := range m {
			if !now.Before(exp) {
				delete(m, x)
				continue
			}
			if soonest == "" || exp.Before(at) {
				soonest, at = x, exp
			}
		}
		if len(m) >= max {
			delete(m, soonest)
		}
	}
	m[k] = until
}
