package analysis

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/policy"
)

// tableCache keeps the most recently used parsed datasets, by content
// digest: a GLM reads its dataset once, and researchers tend to ask
// several questions of the same data in a row.
type tableCache struct {
	mu    sync.Mutex
	max   int
	order []string // least recently used first
	byKey map[string]*tabular.Table
	load  sync.Mutex // one dataset parsed at a time: parsing is memory-bound
}

func newTableCache(max int) *tableCache {
	return &tableCache{max: max, byKey: map[string]*tabular.Table{}}
}

// get returns the parsed dataset with this digest, parsing it with read on
// a miss.
func (c *tableCache) get(sum string, read func() (*tabular.Table, error)) (*tabular.Table, error) {
	if t := c.lookup(sum); t != nil {
		return t, nil
	}
	c.load.Lock()
	defer c.load.Unlock()
	if t := c.lookup(sum); t != nil {
		return t, nil
	}
	t, err := read()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey[sum] = t
	c.order = append(c.order, sum)
	for len(c.order) > c.max {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	return t, nil
}

func (c *tableCache) lookup(sum string) *tabular.Table {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.byKey[sum]
	if ok {
		i := slices.Index(c.order, sum)
		c.order = append(slices.Delete(c.order, i, i+1), sum)
	}
	return t
}

// session is a GLM in progress at an owner: the design matrix of its rows,
// built once, and the iterations answered so far.
type session struct {
	id        string
	member    peer.ID
	analysis  string
	request   string // digest of the query
	dataset   Dataset
	family    stats.Family
	rules     stats.Rules
	limits    policy.DisclosureLimits
	bundle    string // the policy bundle that decided
	x, y      []float64
	p, rows   int
	iteration int // the last one answered
	lastUsed  time.Time
}

// sessions are the GLM sessions an owner holds, bounded in number overall
// and per member.
type sessions struct {
	mu        sync.Mutex
	max       int
	perMember int
	byID      map[string]*session
}

func newSessions(max, perMember int) *sessions {
	return &sessions{max: max, perMember: perMember, byID: map[string]*session{}}
}

// add registers a new session, or says why the owner holds no more.
func (ss *sessions) add(s *session) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byID) >= ss.max {
		return refusef(RefusalBusy, "the owner holds %d model fits already; try again when one has finished", ss.max)
	}
	n := 0
	for _, o := range ss.byID {
		if o.member == s.member {
			n++
		}
	}
	if n >= ss.perMember {
		return refusef(RefusalBusy, "your node has %d model fits open at this owner already; finish one first", n)
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	s.id = hex.EncodeToString(b[:])
	ss.byID[s.id] = s
	return nil
}

// next hands out the session for member's iteration, which must be the one
// after the last answered; the session is held (not found by others) until
// done is called.
func (ss *sessions) next(id string, member peer.ID, iteration int, now time.Time) (*session, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok || s.member != member {
		return nil, refusef(RefusalSession, "no model fit %q is open for your node here (it ended, expired after a pause, or the owner restarted)", id)
	}
	if iteration != s.iteration+1 {
		return nil, refusef(RefusalSession, "iteration %d asked, the next is %d", iteration, s.iteration+1)
	}
	if iteration > s.rules.MaxIterations {
		delete(ss.byID, id)
		return nil, refusef(RefusalDisclosure, "the owner's rules allow at most %d iterations", s.rules.MaxIterations)
	}
	s.iteration = iteration
	s.lastUsed = now
	return s, nil
}

func (ss *sessions) end(id string, member peer.ID) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.byID[id]; ok && s.member == member {
		delete(ss.byID, id)
	}
}

// expire ends the sessions idle since before cutoff.
func (ss *sessions) expire(cutoff time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, s := range ss.byID {
		if s.lastUsed.Before(cutoff) {
			delete(ss.byID, id)
		}
	}
}

// errNoDictionary is the refusal of a dataset published without a data
// dictionary: without one, no column has a type, a unit or an identifier
// flag, so nothing can be analysed safely.
func errNoDictionary(ref string) error {
	return refusef(RefusalBadQuery, "%s has no data dictionary; its owner publishes one (xborder dataset publish --dictionary) before it can be analysed", ref)
}
