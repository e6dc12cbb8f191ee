package sandbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xborder/xborder/sandbox"
)

// FuzzRun feeds arbitrary bytes to the sandbox as a module: it must never
// panic, and must either refuse or stop them with a typed error, or run
// them within every limit, and hold nothing afterwards.
func FuzzRun(f *testing.F) {
	cfg := sandbox.Config{
		MemoryLimitBytes: 32 << 20,
		WallTime:         time.Second,
		OutputLimit:      16 << 10,
		StderrLimit:      4 << 10,
		CacheEntries:     4,
	}
	s := newSandbox(f, cfg)
	hello := helloModule("hello\n")
	for _, seed := range [][]byte{
		hello,
		hello[:len(hello)/2],
		append(append([]byte{}, hello[:20]...), 0xff, 0xff, 0xff, 0xff, 0x0f),
		envImportModule(),
		trapModule(),
		wasmSpec{memPages: 1 << 16}.build(),
		wasmSpec{memPages: 1, body: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}}.build(), // loop br 0: forever
		wasmSpec{memPages: 1, body: []byte{0x41, 0x01, 0x40, 0x00, 0x1a}}.build(), // memory.grow 1
		module(f, "trivial"),
		nil,
		[]byte("\x00asm\x01\x00\x00\x00"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := s.Run(context.Background(), bin, sandbox.Input{Stdin: []byte("{}")})
		var le *sandbox.LimitError
		var me *sandbox.ModuleError
		switch {
		case err == nil:
		case errors.As(err, &le), errors.As(err, &me):
		default:
			t.Fatalf("untyped error: %v", err)
		}
		if len(out.Stdout) > cfg.OutputLimit || len(out.Stderr) > cfg.StderrLimit || out.MemoryPeakBytes > uint64(cfg.MemoryLimitBytes) {
			t.Fatalf("over a limit: %d bytes out, %d err, %d memory", len(out.Stdout), len(out.Stderr), out.MemoryPeakBytes)
		}
		if st := s.Stats(); st.Running != 0 || st.MemoryBytes != 0 {
			t.Fatalf("held after the run: %+v", st)
		}
	})
}
