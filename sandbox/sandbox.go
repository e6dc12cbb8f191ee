package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// wasiModule is the only module a sandboxed program may import from.
const wasiModule = wasi_snapshot_preview1.ModuleName

// programName is the module's argv[0].
const programName = "module"

// stderrExcerpt is how much of standard error an error message quotes.
const stderrExcerpt = 1 << 10

// Sandbox runs WASI preview-1 commands under the limits of its Config. It
// is safe for concurrent use; Close ends the runs in progress and frees
// everything.
type Sandbox struct {
	cfg       Config
	rt        wazero.Runtime
	fileCache wazero.CompilationCache // nil without CacheDir
	wasiFuncs map[string]bool
	modules   *moduleCache
	memory    atomic.Int64 // linear-memory bytes held by runs

	// closing is cancelled by Close, ending every compilation and run.
	closing context.Context
	cancel  context.CancelFunc

	mu      sync.Mutex
	closed  bool
	running int
	work    sync.WaitGroup
}

// New builds a sandbox: one wazero runtime (compiled code on amd64 and
// arm64, interpreted elsewhere) with WASI preview 1 as its only host
// module.
func New(cfg Config) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// No WithCloseOnContextDone: a run is stopped through the flag that
	// instrument compiles into the module, at a fraction of the cost (see
	// instrument). The memory limit is enforced by memoryGuard, which
	// knows when it refused; wazero's own page limit would refuse silently.
	rc := wazero.NewRuntimeConfig().
		// DWARF only names functions in a trap's stack: not worth parsing
		// an untrusted module's debug sections for.
		WithDebugInfoEnabled(false)
	var fileCache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: compilation cache in %q: %w", cfg.CacheDir, err)
		}
		fileCache = c
		rc = rc.WithCompilationCache(c)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		if fileCache != nil {
			_ = fileCache.Close(ctx)
		}
		return nil, fmt.Errorf("sandbox: WASI host module: %w", err)
	}
	funcs := map[string]bool{}
	for name := range rt.Module(wasiModule).ExportedFunctionDefinitions() {
		funcs[name] = true
	}
	closing, cancel := context.WithCancel(context.Background())
	return &Sandbox{
		cfg:       cfg,
		rt:        rt,
		fileCache: fileCache,
		wasiFuncs: funcs,
		modules:   newModuleCache(cfg.CacheEntries),
		closing:   closing,
		cancel:    cancel,
	}, nil
}

// Config is the configuration in force, defaults filled in.
func (s *Sandbox) Config() Config { return s.cfg }

// Close ends the compilations and runs in progress (they fail with
// ErrClosed), waits for them, and frees the runtime and its caches. It is
// idempotent.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.work.Wait()
	s.modules.close()
	ctx := context.Background()
	err := s.rt.Close(ctx)
	if s.fileCache != nil {
		err = errors.Join(err, s.fileCache.Close(ctx))
	}
	return err
}

// Stats is what a sandbox holds now.
type Stats struct {
	Running       int   // runs in progress
	MemoryBytes   int64 // linear memory held by those runs
	CachedModules int   // compiled modules in the in-memory cache
}

// Stats reports the sandbox's current use.
func (s *Sandbox) Stats() Stats {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	return Stats{Running: running, MemoryBytes: s.memory.Load(), CachedModules: s.modules.len()}
}

// begin registers a compilation or run, so that Close waits for it.
func (s *Sandbox) begin(isRun bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.work.Add(1)
	if isRun {
		s.running++
	}
	return nil
}

func (s *Sandbox) end(isRun bool) {
	if isRun {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}
	s.work.Done()
}

// Module is a compiled module, ready to run any number of times. Close it
// when done: the compiled code is freed once it is out of the cache and
// no handle holds it.
type Module struct {
	s           *Sandbox
	entry       *cacheEntry
	cached      bool
	compileTime time.Duration
	once        sync.Once
}

// Digest is the hex SHA-256 of the module's binary.
func (m *Module) Digest() string { return hex.EncodeToString(m.entry.digest[:]) }

// Close releases the handle. It is idempotent.
func (m *Module) Close() {
	m.once.Do(func() { m.s.modules.release(m.entry) })
}

// Compile validates and compiles a module, or finds it in the cache by its
// SHA-256. A module is refused if it is too large, invalid, imports
// anything but WASI preview-1 functions, is not a command (no _start), or
// asks for more initial memory than the limit.
func (s *Sandbox) Compile(ctx context.Context, bin []byte) (*Module, error) {
	if len(bin) > s.cfg.MaxModuleBytes {
		return nil, &LimitError{Limit: LimitModuleSize, Bytes: int64(s.cfg.MaxModuleBytes),
			Detail: fmt.Sprintf("%s module", byteSize(int64(len(bin))))}
	}
	if err := s.begin(false); err != nil {
		return nil, err
	}
	defer s.end(false)
	digest := sha256.Sum256(bin)
	e, found, err := s.modules.acquire(digest)
	if err != nil {
		return nil, err
	}
	m := &Module{s: s, entry: e, cached: found}
	if found {
		select {
		case <-e.ready:
		case <-ctx.Done():
			m.Close()
			return nil, fmt.Errorf("sandbox: waiting for the module's compilation: %w", context.Cause(ctx))
		case <-s.closing.Done():
			m.Close()
			return nil, ErrClosed
		}
	} else {
		ctx, stop := s.bind(ctx)
		ctx = experimental.WithCompilationWorkers(ctx, s.cfg.CompileWorkers)
		start := time.Now()
		compiled, err := s.compile(ctx, bin, hex.EncodeToString(digest[:]))
		took := time.Since(start)
		stop()
		if err != nil && s.closing.Err() != nil {
			err = ErrClosed
		}
		s.modules.fill(e, compiled, took, err)
		m.compileTime = took
	}
	if e.err != nil {
		m.Close()
		return nil, e.err
	}
	return m, nil
}

// bind derives a context that Close also cancels.
func (s *Sandbox) bind(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.closing, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(nil) }
}

func (s *Sandbox) compile(ctx context.Context, bin []byte, digest string) (wazero.CompiledModule, error) {
	decodable, err := checkShape(bin)
	if err != nil {
		return nil, &ModuleError{Kind: KindInvalid, Digest: digest, Detail: err.Error(), Err: err}
	}
	stoppable, err := instrument(decodable)
	if err != nil {
		return nil, &ModuleError{Kind: KindInvalid, Digest: digest, Detail: err.Error(), Err: err}
	}
	compiled, err := s.rt.CompileModule(ctx, stoppable)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sandbox: compiling module %s: %w", shortDigest(digest), context.Cause(ctx))
		}
		return nil, &ModuleError{Kind: KindInvalid, Digest: digest, Detail: err.Error(), Err: err}
	}
	if err := s.check(compiled, stoppable, digest); err != nil {
		_ = compiled.Close(context.Background())
		return nil, err
	}
	return compiled, nil
}

// check refuses what the runtime would accept but the sandbox does not.
func (s *Sandbox) check(c wazero.CompiledModule, bin []byte, digest string) error {
	var forbidden []string
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != wasiModule {
			forbidden = append(forbidden, fmt.Sprintf("function %s.%s", mod, name))
		} else if !s.wasiFuncs[name] {
			forbidden = append(forbidden, fmt.Sprintf("function %s.%s (not a WASI preview-1 function)", mod, name))
		}
	}
	for _, m := range c.ImportedMemories() {
		mod, name, _ := m.Import()
		forbidden = append(forbidden, fmt.Sprintf("memory %s.%s", mod, name))
	}
	if len(forbidden) > 0 {
		sort.Strings(forbidden)
		const most = 10
		detail := strings.Join(forbidden[:min(len(forbidden), most)], ", ")
		if len(forbidden) > most {
			detail += fmt.Sprintf(" and %d more", len(forbidden)-most)
		}
		return &ModuleError{Kind: KindForbiddenImport, Digest: digest, Detail: detail}
	}
	if _, ok := c.ExportedFunctions()["_start"]; !ok {
		return &ModuleError{Kind: KindNotCommand, Digest: digest, Detail: "it exports no _start function"}
	}
	pages, err := declaredMemoryPages(bin)
	if err != nil {
		return &ModuleError{Kind: KindInvalid, Digest: digest, Detail: "memory section: " + err.Error()}
	}
	if pages > s.cfg.memoryLimitPages() {
		return &LimitError{Limit: LimitMemory, Bytes: s.limitBytes(),
			Detail: fmt.Sprintf("the module asks for %s of initial memory", byteSize(int64(pages)*PageSize))}
	}
	return nil
}

// limitBytes is the memory limit in whole pages, as enforced.
func (s *Sandbox) limitBytes() int64 { return int64(s.cfg.memoryLimitPages()) * PageSize }

// Input is everything a run gives the module.
type Input struct {
	// Stdin is the module's standard input.
	Stdin []byte
	// Data, if not nil, is mounted read-only at DataDir (see FileView).
	Data fs.FS
	// Args follow argv[0] ("module").
	Args []string
	// Time is the module's wall clock, which stands still but for its
	// sleeps. The zero value is the Unix epoch.
	Time time.Time
	// Seed seeds the module's only source of randomness.
	Seed [32]byte
	// OutputLimit, when positive, replaces Config.OutputLimit for this run;
	// it may not exceed Config.MaxOutputLimit.
	OutputLimit int
}

// Output is what a run produced.
type Output struct {
	Stdout []byte
	// Stderr is kept up to Config.StderrLimit; StderrTruncated says some
	// was dropped.
	Stderr          []byte
	StderrTruncated bool
	ExitCode        uint32
	// Digest is the hex SHA-256 of the module that ran.
	Digest string
	// Cached: the compiled module came from the in-memory cache.
	Cached bool
	// MemoryPeakBytes is the largest the module's linear memory grew.
	MemoryPeakBytes uint64
	Timings         Timings
}

// Timings are the phases of a run. Compile is what compiling the module
// took (zero when it came from the cache).
type Timings struct {
	Compile, Instantiate, Run time.Duration
}

// Run compiles the module (or finds it in the cache) and runs it once.
func (s *Sandbox) Run(ctx context.Context, bin []byte, in Input) (Output, error) {
	m, err := s.Compile(ctx, bin)
	if err != nil {
		return Output{Digest: digestOf(bin)}, err
	}
	defer m.Close()
	return s.RunModule(ctx, m, in)
}

func digestOf(bin []byte) string {
	d := sha256.Sum256(bin)
	return hex.EncodeToString(d[:])
}

// RunModule runs a compiled module once with in. The error is a
// *LimitError, a *ModuleError, ErrClosed, or the caller's context's cause
// when it ended the run; Output holds what the module wrote even then.
func (s *Sandbox) RunModule(ctx context.Context, m *Module, in Input) (Output, error) {
	out := Output{Digest: m.Digest(), Cached: m.cached, Timings: Timings{Compile: m.compileTime}}
	if m.s != s {
		return out, errors.New("sandbox: the module was compiled by another sandbox")
	}
	for i, a := range in.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return out, fmt.Errorf("sandbox: argument %d contains a NUL byte", i+1)
		}
	}
	stdoutLimit := s.cfg.OutputLimit
	if in.OutputLimit > 0 {
		if in.OutputLimit > s.cfg.MaxOutputLimit {
			return out, fmt.Errorf("sandbox: output limit %s asked for a run, more than the %s allowed", byteSize(int64(in.OutputLimit)), byteSize(int64(s.cfg.MaxOutputLimit)))
		}
		stdoutLimit = in.OutputLimit
	}
	if err := s.begin(true); err != nil {
		return out, err
	}
	defer s.end(true)

	ctx, stop := s.bind(ctx)
	defer stop()
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	wallLimit := &LimitError{Limit: LimitWallTime, WallTime: s.cfg.WallTime}
	ctx, cancelTimer := context.WithTimeoutCause(ctx, s.cfg.WallTime, wallLimit)
	defer cancelTimer()

	guard := &memoryGuard{limit: uint64(s.limitBytes()), live: &s.memory}
	defer guard.release() // after the module's Close, deferred below
	ctx = experimental.WithMemoryAllocator(ctx, guard)
	outputLimit := &LimitError{Limit: LimitOutput, Bytes: int64(stdoutLimit)}
	stdout := &limitedOutput{limit: stdoutLimit, exceeded: func() { cancelRun(outputLimit) }}
	stderr := &truncatedOutput{limit: s.cfg.StderrLimit}
	clock := &virtualClock{start: in.Time}
	if in.Time.IsZero() {
		clock.start = time.Unix(0, 0)
	}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _start is called below, timed apart
		WithArgs(append([]string{programName}, in.Args...)...).
		WithStdin(bytes.NewReader(in.Stdin)).
		WithStdout(stdout).
		WithStderr(stderr).
		WithWalltime(clock.walltime, sys.ClockResolution(time.Microsecond)).
		WithNanotime(clock.nanotime, sys.ClockResolution(time.Microsecond)).
		WithNanosleep(clock.nanosleep).
		WithRandSource(seededRand(in.Seed))
	if in.Data != nil {
		// ReadFS refuses opening for writing, and every change to the tree,
		// whatever the fs.FS's files allow (os.DirFS's have Write methods,
		// which AdaptFS alone would use).
		view := &sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: in.Data}}
		cfg = cfg.WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(view, DataDir))
	}

	finish := func(err error, phase ModuleErrorKind) (Output, error) {
		out.Stdout, out.Stderr, out.StderrTruncated = stdout.buf, stderr.buf, stderr.truncated
		out.MemoryPeakBytes = guard.peak.Load()
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			out.ExitCode = exit.ExitCode()
		}
		if stdout.over { // the run was ended for it, whatever it returned
			return out, outputLimit
		}
		return out, s.classify(ctx, err, phase, guard, stderr.buf, out.Digest)
	}

	start := time.Now()
	mod, err := s.rt.InstantiateModule(ctx, m.entry.compiled, cfg)
	out.Timings.Instantiate = time.Since(start)
	if err != nil {
		return finish(err, KindInstantiate)
	}
	flag, ok := mod.ExportedGlobal(stopExport).(api.MutableGlobal)
	if !ok { // instrument exports it: a run that could not be stopped is not begun
		_ = mod.Close(context.Background())
		return out, fmt.Errorf("sandbox: module %s has no stop flag", shortDigest(out.Digest))
	}
	defer stopper(ctx, mod, flag)()
	start = time.Now()
	_, err = mod.ExportedFunction("_start").Call(ctx)
	out.Timings.Run = time.Since(start)
	return finish(err, KindTrap)
}

// stopper sets the module's stop flag (see instrument) when ctx is done,
// which makes it trap at its next call or loop iteration; the returned
// function ends that watch and closes the module, never while the flag is
// being set.
func stopper(ctx context.Context, mod api.Module, flag api.MutableGlobal) (closeModule func()) {
	var mu sync.Mutex
	closed := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			flag.Set(1)
		}
	})
	return func() {
		stop()
		mu.Lock()
		closed = true
		mu.Unlock()
		_ = mod.Close(context.Background())
	}
}

// classify turns how a run ended into the error a caller is given. A run
// that ended well is a success even if its deadline passed just after; a
// run that did not, while its context was done, was stopped for the
// context's reason; a failure after a refused memory.grow is the memory
// limit.
func (s *Sandbox) classify(ctx context.Context, err error, phase ModuleErrorKind, guard *memoryGuard, stderr []byte, digest string) error {
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	if err == nil || (isExit && exit.ExitCode() == 0) {
		return nil
	}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		var limit *LimitError
		switch {
		case errors.As(cause, &limit):
			return limit
		case errors.Is(cause, ErrClosed):
			return ErrClosed
		default:
			return fmt.Errorf("sandbox: run of module %s ended by its caller: %w", shortDigest(digest), cause)
		}
	}
	if guard.refused.Load() {
		return &LimitError{Limit: LimitMemory, Bytes: int64(guard.limit),
			Detail: fmt.Sprintf("it asked to grow its memory to %s", byteSize(int64(guard.refusedN.Load())))}
	}
	excerpt := tail(stderr, stderrExcerpt)
	if isExit {
		return &ModuleError{Kind: KindExit, Digest: digest, ExitCode: exit.ExitCode(), Stderr: excerpt, Err: err}
	}
	return &ModuleError{Kind: phase, Digest: digest, Detail: firstLine(err.Error()), Stderr: excerpt, Err: err}
}

// firstLine drops the stack trace wazero appends to a trap's message.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
