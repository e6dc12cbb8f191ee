package sandbox_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/xborder/xborder/sandbox"
)

// recursionModule has no loop: _start calls f(60), and f(n) calls
// f(n-1) twice, 2^60 calls in all, never deeper than 61 frames.
func recursionModule() []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, content []byte) {
		out = append(out, id)
		out = append(out, uleb(uint64(len(content)))...)
		out = append(out, content...)
	}
	section(1, []byte{2, 0x60, 0, 0, 0x60, 1, 0x7f, 0})                  // () -> (), (i32) -> ()
	section(3, []byte{2, 0, 1})                                          // _start, f
	section(7, append(append([]byte{1}, name("_start")...), 0x00, 0x00)) // _start
	start := []byte{0, 0x41, 60, 0x10, 1, 0x0b}
	// if local 0 { f(local 0 - 1); f(local 0 - 1) }
	f := []byte{0, 0x20, 0, 0x04, 0x40,
		0x20, 0, 0x41, 1, 0x6b, 0x10, 1,
		0x20, 0, 0x41, 1, 0x6b, 0x10, 1,
		0x0b, 0x0b}
	code := []byte{2}
	code = append(append(code, uleb(uint64(len(start)))...), start...)
	code = append(append(code, uleb(uint64(len(f)))...), f...)
	section(10, code)
	return out
}

// A module that works without a loop (calls only) is stopped at its wall
// time too: checks sit at function entries as well as loop heads.
func TestRecursionWithoutLoopsIsStopped(t *testing.T) {
	s := newSandbox(t, sandbox.Config{WallTime: 300 * time.Millisecond})
	_, err := s.Run(context.Background(), recursionModule(), sandbox.Input{})
	var le *sandbox.LimitError
	if !errors.As(err, &le) || le.Limit != sandbox.LimitWallTime {
		t.Fatalf("got %v, want the wall-time limit", err)
	}
}

// While a module loops, the rest of the process goes on: a garbage
// collection, which stops the world, completes. Compiled code that never
// returned to Go would hold it (and every goroutine) until the run ends.
func TestRunDoesNotHoldTheWorld(t *testing.T) {
	s := newSandbox(t, sandbox.Config{WallTime: time.Minute})
	for _, bin := range [][]byte{module(t, "loop"), recursionModule()} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := s.Run(ctx, bin, sandbox.Input{})
			done <- err
		}()
		waitRunning(t, s, done)
		gc := make(chan struct{})
		go func() {
			for range 5 {
				runtime.GC()
			}
			close(gc)
		}()
		select {
		case <-gc:
		case <-time.After(30 * time.Second):
			t.Fatal("garbage collection did not complete while a module ran")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want the caller's cancellation", err)
		}
	}
}

func TestInstrumentationRefusals(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	hello := helloModule("hi\n")
	withStart := append(append([]byte(nil), hello...), 8, 1, 0) // start: function 0 (the import)
	reserved := wasmSpec{memPages: 1, exportName: "xborder.stop"}.build()
	for _, tc := range []struct {
		name string
		bin  []byte
	}{
		{"start section", withStart},
		{"reserved export", reserved},
		// An opcode of a feature the runtime does not enable (tail calls).
		{"return_call", wasmSpec{memPages: 1, body: []byte{0x12, 0}}.build()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Run(context.Background(), tc.bin, sandbox.Input{})
			var me *sandbox.ModuleError
			if !errors.As(err, &me) || me.Kind != sandbox.KindInvalid {
				t.Fatalf("got %v, want an invalid module", err)
			}
			t.Log(err)
		})
	}
}
