package sandbox

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by a Sandbox that was closed, and by the runs the
// close ended.
var ErrClosed = errors.New("sandbox: closed")

// Limit names a bound a run broke.
type Limit string

// The limits of a run.
const (
	LimitMemory     Limit = "memory"
	LimitWallTime   Limit = "wall_time"
	LimitOutput     Limit = "output"
	LimitModuleSize Limit = "module_size"
)

// LimitError is a run stopped, or a module refused, because it needed more
// than the sandbox gives.
type LimitError struct {
	Limit Limit
	// Bytes is the bound of a memory, output or module size limit.
	Bytes int64
	// WallTime is the bound of a wall-time limit.
	WallTime time.Duration
	// Detail says what the module did, when the sandbox knows.
	Detail string
}

func (e *LimitError) Error() string {
	var msg string
	switch e.Limit {
	case LimitMemory:
		msg = fmt.Sprintf("the module needed more memory than its limit of %s", byteSize(e.Bytes))
	case LimitWallTime:
		msg = fmt.Sprintf("the module ran longer than its limit of %v", e.WallTime)
	case LimitOutput:
		msg = fmt.Sprintf("the module wrote more than its output limit of %s", byteSize(e.Bytes))
	case LimitModuleSize:
		msg = fmt.Sprintf("the module is larger than the limit of %s", byteSize(e.Bytes))
	default:
		msg = fmt.Sprintf("the module broke its %s limit", e.Limit)
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return "sandbox: " + msg
}

// ModuleErrorKind says what was wrong with a module or its run.
type ModuleErrorKind string

// The ways a module fails on its own account.
const (
	// KindInvalid: not a WebAssembly module the runtime accepts.
	KindInvalid ModuleErrorKind = "invalid"
	// KindForbiddenImport: the module imports something the sandbox does
	// not give (anything but a wasi_snapshot_preview1 function).
	KindForbiddenImport ModuleErrorKind = "forbidden_import"
	// KindNotCommand: the module does not export _start and its memory as a
	// WASI command must.
	KindNotCommand ModuleErrorKind = "not_a_command"
	// KindInstantiate: the module could not be set up (linking, its start
	// function or data segments failed).
	KindInstantiate ModuleErrorKind = "instantiate"
	// KindExit: the module exited with a non-zero code.
	KindExit ModuleErrorKind = "exit"
	// KindTrap: the module hit a WebAssembly trap (unreachable, an access
	// out of bounds, a division by zero, a stack overflow...).
	KindTrap ModuleErrorKind = "trap"
)

// ModuleError is a module refused, or a run that failed because of what
// the module did.
type ModuleError struct {
	Kind ModuleErrorKind
	// Digest is the module's SHA-256, in hex.
	Digest string
	// ExitCode is the module's exit code (KindExit).
	ExitCode uint32
	// Detail says what was found: the forbidden imports, the runtime's
	// message, the trap.
	Detail string
	// Stderr is the end of what the module wrote to standard error, for
	// diagnostics (KindExit, KindTrap).
	Stderr string
	// Err is the runtime's error, when there is one.
	Err error
}

func (e *ModuleError) Error() string {
	var msg string
	switch e.Kind {
	case KindInvalid:
		msg = "is not a valid WebAssembly module: " + e.Detail
	case KindForbiddenImport:
		msg = "imports what the sandbox does not give (only wasi_snapshot_preview1 functions): " + e.Detail
	case KindNotCommand:
		msg = "is not a WASI command: " + e.Detail
	case KindInstantiate:
		msg = "could not be instantiated: " + e.Detail
	case KindExit:
		msg = fmt.Sprintf("exited with code %d", e.ExitCode)
	case KindTrap:
		msg = "stopped on a trap: " + e.Detail
	default:
		msg = string(e.Kind) + ": " + e.Detail
	}
	if e.Stderr != "" {
		msg += "; its standard error ends: " + e.Stderr
	}
	return fmt.Sprintf("sandbox: module %s %s", shortDigest(e.Digest), msg)
}

func (e *ModuleError) Unwrap() error { return e.Err }

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
