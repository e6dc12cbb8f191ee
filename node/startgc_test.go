package node

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's target without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// Starts raise the collector's target and the last one to end restores
// it, however they overlap; an operator's GOGC above the start's target,
// or off, is left alone.
func TestStartGCRaisesAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	debug.SetGCPercent(100)
	a := startGC()
	if p := gcPercent(); p != startGCPercent {
		t.Fatalf("during a start: GOGC %d, want %d", p, startGCPercent)
	}
	b := startGC() // a second node starts before the first is done
	a()
	if p := gcPercent(); p != startGCPercent {
		t.Fatalf("one of two starts done: GOGC %d, want %d still", p, startGCPercent)
	}
	b()
	if p := gcPercent(); p != 100 {
		t.Fatalf("after both starts: GOGC %d, want 100 again", p)
	}

	for _, operator := range []int{800, -1} {
		debug.SetGCPercent(operator)
		done := startGC()
		if p := gcPercent(); p != operator {
			t.Fatalf("operator's GOGC %d: %d during a start", operator, p)
		}
		done()
		if p := gcPercent(); p != operator {
			t.Fatalf("operator's GOGC %d: %d after a start", operator, p)
		}
	}
}
