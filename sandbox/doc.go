// Package sandbox runs an untrusted WebAssembly program — a WASI
// preview-1 command, such as an approved analysis compiled with
// GOOS=wasip1 GOARCH=wasm — under hard limits, with nothing of the host
// but what the node hands it: standard input, one read-only view of data
// at /data, arguments, a clock and a random seed. It is built on wazero
// (pure Go: the compiler on amd64 and arm64, the interpreter elsewhere).
//
// What a module gets, exactly:
//
//   - stdin: the bytes of Input.Stdin (for example the request as JSON);
//   - files: Input.Data mounted read-only at /data (FileView makes a view of
//     a single file); no other path exists, and nothing can be created,
//     written, renamed or removed;
//   - args: "module" then Input.Args; no environment variables;
//   - time: a clock that stands still at Input.Time, and moves only when
//     the module sleeps (a sleep returns at once and advances the clock by
//     its length); the host's clock is never read;
//   - randomness: a ChaCha8 stream from Input.Seed; the host's randomness
//     is never read;
//   - imports: the functions of wasi_snapshot_preview1 and nothing else. A
//     module importing anything else ("env" host functions, memories,
//     tables) is refused before it runs. There is no network: preview 1
//     has no way to open a socket, and sock_accept finds no pre-opened
//     socket.
//
// Limits (Config): linear memory, wall time (of instantiation and run),
// standard output (writing past it ends the run), the size of the module.
// Standard error is kept up to a bound for diagnostics and truncated past
// it. A run that breaks a limit fails with *LimitError; a module that is
// invalid, refused, traps or exits non-zero fails with *ModuleError.
//
// # Caveats
//
//   - The limits are per run: N runs at once may hold N times the memory
//     limit. The caller bounds how many run at once.
//   - A memory limit is reported only when the module failed after the
//     sandbox refused to grow its memory; a module that copes with a
//     refused memory.grow and exits 0 has simply succeeded.
//   - Compilation is not bounded by the wall time but by the caller's
//     context and MaxModuleBytes; compiled modules are cached (by SHA-256)
//     in memory and, with Config.CacheDir, on disk, so the cost is paid
//     once per module.
//   - A module's structure is checked before wazero decodes it (shape.go):
//     wazero v1.12 allocates a vector from its declared length, and a
//     module of a few bytes could make the process abort for want of
//     memory. Custom sections (names, debug information) are dropped.
//   - A module is rewritten before it is compiled (instrument.go): a
//     counter at every function entry and loop head yields to Go every
//     few thousand checks, where the run is stopped if its wall time is
//     over (or its caller or Close ended it) and where Go's scheduler can
//     preempt it. A module with a start section, or exporting
//     "xborder.stop", or using instructions beyond WebAssembly 2.0, is
//     refused.
//   - Speed: a Go-compiled module runs about 8-11x slower than the same
//     Go code natively, almost all of it Go's wasm code under wazero (a C
//     module of the same loop: about 2x); the checks cost 10-20%
//     (BENCHMARKS.md, "Sandboxed modules").
//   - Determinism is the module's: the sandbox gives it the same inputs,
//     clock and randomness every time, so a deterministic program gives the
//     same output; a program that loops on the clock without sleeping runs
//     until its wall time is over.
package sandbox
