package sandbox

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// moduleCache keeps the most recently used compiled modules, keyed by the
// SHA-256 of their binary. An entry is compiled once, however many
// callers ask for it at the same time, and closed only when it has left
// the cache and no Module handle holds it, so that eviction never pulls
// code from under a run.
type moduleCache struct {
	max int

	mu      sync.Mutex
	entries map[[32]byte]*cacheEntry
	lru     *list.List // of *cacheEntry, most recent first
	closed  bool
}

type cacheEntry struct {
	digest [32]byte
	ready  chan struct{} // closed when compiled or failed

	// Set before ready is closed.
	compiled    wazero.CompiledModule
	err         error
	compileTime time.Duration

	// Guarded by moduleCache.mu.
	refs int // handles, plus one while in the cache
	elem *list.Element
}

func newModuleCache(max int) *moduleCache {
	return &moduleCache{max: max, entries: map[[32]byte]*cacheEntry{}, lru: list.New()}
}

// acquire returns digest's entry with a reference the caller must
// release, and whether it was already there; a new entry must be filled
// by the caller (fill).
func (c *moduleCache) acquire(digest [32]byte) (e *cacheEntry, found bool, err error) {
	var evicted []*cacheEntry
	defer func() { closeAll(evicted) }() // out of the lock
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false, ErrClosed
	}
	if e, ok := c.entries[digest]; ok {
		e.refs++
		c.lru.MoveToFront(e.elem)
		return e, true, nil
	}
	e = &cacheEntry{digest: digest, ready: make(chan struct{}), refs: 2}
	e.elem = c.lru.PushFront(e)
	c.entries[digest] = e
	for c.lru.Len() > c.max {
		old := c.lru.Back().Value.(*cacheEntry)
		c.removeLocked(old)
		if old.refs == 0 {
			evicted = append(evicted, old)
		}
	}
	return e, false, nil
}

// closeAll closes entries no one holds: their compilation is over, since
// the compiling caller holds a reference until it is.
func closeAll(es []*cacheEntry) {
	for _, e := range es {
		if e.compiled != nil {
			_ = e.compiled.Close(context.Background())
		}
	}
}

// fill completes a new entry; an entry that failed leaves the cache, so
// that the next caller tries again.
func (c *moduleCache) fill(e *cacheEntry, compiled wazero.CompiledModule, took time.Duration, err error) {
	e.compiled, e.compileTime, e.err = compiled, took, err
	close(e.ready)
	if err != nil {
		c.mu.Lock()
		if e.elem != nil {
			c.removeLocked(e)
		}
		c.mu.Unlock()
	}
}

// removeLocked takes e out of the cache and drops the cache's reference.
func (c *moduleCache) removeLocked(e *cacheEntry) {
	c.lru.Remove(e.elem)
	e.elem = nil
	delete(c.entries, e.digest)
	e.refs--
}

// release drops a handle's reference, closing the compiled module when it
// was the last one and the entry has left the cache.
func (c *moduleCache) release(e *cacheEntry) {
	c.mu.Lock()
	e.refs--
	last := e.refs == 0 && !c.closed
	c.mu.Unlock()
	if last {
		<-e.ready
		if e.compiled != nil {
			_ = e.compiled.Close(context.Background())
		}
	}
}

func (c *moduleCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// close empties the cache; the runtime's Close frees the compiled code.
func (c *moduleCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.entries = map[[32]byte]*cacheEntry{}
	c.lru.Init()
}
