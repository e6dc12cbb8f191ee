package sandbox

import (
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryGuard backs one run's linear memory and enforces the memory limit
// itself, rather than through wazero's per-runtime page limit: wazero
// refuses a memory.grow past its limit without telling anyone, while a
// refusal here is recorded, so that the run's failure can be reported as
// the memory limit rather than as whatever the module did next.
type memoryGuard struct {
	limit uint64
	// live is the sandbox's count of linear-memory bytes held by runs.
	live *atomic.Int64

	refused  atomic.Bool
	peak     atomic.Uint64
	refusedN atomic.Uint64 // the size the module asked for when refused

	mu       sync.Mutex
	memories []*guardedMemory
}

// Allocate implements experimental.MemoryAllocator.
func (g *memoryGuard) Allocate(_, _ uint64) experimental.LinearMemory {
	m := &guardedMemory{guard: g}
	g.mu.Lock()
	g.memories = append(g.memories, m)
	g.mu.Unlock()
	return m
}

// release frees what the run's memories still hold once the run is over:
// wazero does not call Free for a memory whose module failed to
// instantiate.
func (g *memoryGuard) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.memories {
		m.Free()
	}
	g.memories = nil
}

type guardedMemory struct {
	guard    *memoryGuard
	buf      []byte
	freeOnce sync.Once
}

// Reallocate grows the memory to size bytes, or returns nil past the
// limit (memory.grow then returns -1 to the module). Capacity doubles, as
// append's does, so that a module growing a page at a time is not copied
// each time.
func (m *guardedMemory) Reallocate(size uint64) []byte {
	g := m.guard
	if size > g.limit {
		g.refused.Store(true)
		g.refusedN.Store(size)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
	} else {
		newCap := max(size, 2*uint64(cap(m.buf)))
		newCap = min(newCap, g.limit)
		buf := make([]byte, size, newCap)
		copy(buf, m.buf)
		g.live.Add(int64(cap(buf)) - int64(cap(m.buf)))
		m.buf = buf
	}
	if size > g.peak.Load() {
		g.peak.Store(size)
	}
	return m.buf
}

// Free implements experimental.LinearMemory; wazero calls it when the
// module is closed.
func (m *guardedMemory) Free() {
	m.freeOnce.Do(func() {
		m.guard.live.Add(-int64(cap(m.buf)))
		m.buf = nil
	})
}
