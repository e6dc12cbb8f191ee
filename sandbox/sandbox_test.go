package sandbox_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/sandbox"
)

// newSandbox is a sandbox closed with the test, sharing the process's
// compiled-code cache.
func newSandbox(t testing.TB, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	cfg.CacheDir = cacheDir
	s, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

const testCSV = "id,age,value\n1,34,1.5\n2,51,2.5\n3,28,4\n"

func csvView(t testing.TB, content string) *sandbox.Input {
	t.Helper()
	view, err := sandbox.FileView("input.csv", strings.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	return &sandbox.Input{Data: view}
}

func TestEchoSeesExactlyItsInput(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	bin := module(t, "echo")
	in := csvView(t, testCSV)
	in.Stdin = []byte(`{"dataset":"cohort-2024"}`)
	in.Args = []string{"--column", "value"}

	out, err := s.Run(context.Background(), bin, *in)
	if err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, out.Stderr)
	}
	var got struct {
		Request string
		Args    []string
		Env     []string
		Rows    int
		Sum     float64
	}
	if err := json.Unmarshal(out.Stdout, &got); err != nil {
		t.Fatalf("stdout %q: %v", out.Stdout, err)
	}
	if got.Request != string(in.Stdin) || got.Rows != 3 || got.Sum != 8 || len(got.Env) != 0 {
		t.Errorf("the module saw %+v", got)
	}
	if strings.Join(got.Args, " ") != "module --column value" {
		t.Errorf("args %q", got.Args)
	}
	sum := sha256.Sum256(bin)
	if out.Digest != hex.EncodeToString(sum[:]) || out.ExitCode != 0 {
		t.Errorf("digest %s exit %d", out.Digest, out.ExitCode)
	}
	if out.Cached || out.Timings.Compile == 0 || out.Timings.Instantiate == 0 || out.Timings.Run == 0 {
		t.Errorf("first run: cached %v, timings %+v", out.Cached, out.Timings)
	}

	again, err := s.Run(context.Background(), bin, *in)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cached || again.Timings.Compile != 0 || !bytes.Equal(again.Stdout, out.Stdout) {
		t.Errorf("second run: cached %v, compile %v, same output %v", again.Cached, again.Timings.Compile, bytes.Equal(again.Stdout, out.Stdout))
	}
	if st := s.Stats(); st.Running != 0 || st.MemoryBytes != 0 || st.CachedModules != 1 {
		t.Errorf("after the runs: %+v", st)
	}
}

func TestNoNetwork(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	bin := module(t, "sockets")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	for _, tc := range []struct {
		name string
		in   sandbox.Input
	}{
		{"no files", sandbox.Input{}},
		// With a view mounted, descriptor 3 is its directory: still no socket.
		{"with a view", *csvView(t, testCSV)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Args = []string{l.Addr().String()}
			out, err := s.Run(context.Background(), bin, tc.in)
			var me *sandbox.ModuleError
			if !errors.As(err, &me) || me.Kind != sandbox.KindExit || me.ExitCode != 1 || out.ExitCode != 1 {
				t.Fatalf("got %v (stdout %q), want the module's exit 1", err, out.Stdout)
			}
			if !strings.Contains(me.Stderr, "dial:") || !strings.Contains(me.Stderr, "listen:") {
				t.Errorf("the error does not quote the module's report: %q", me.Stderr)
			}
			t.Logf("the module reported: %s", out.Stderr)
		})
	}
	// Anything that reached the listener would wait in its backlog.
	l.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
	if c, err := l.Accept(); err == nil {
		c.Close()
		t.Fatal("a connection reached the host's listener")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("accept: %v", err)
	}
}

func TestFilesAreReadOnlyAndConfined(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	bin := module(t, "files")

	// A directory of the host, given as an fs.FS whose files can be written:
	// the sandbox must still give only reading.
	dir := t.TempDir()
	path := filepath.Join(dir, "input.csv")
	if err := os.WriteFile(path, []byte(testCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   sandbox.Input
	}{
		{"file view", *csvView(t, testCSV)},
		{"os.DirFS", sandbox.Input{Data: os.DirFS(dir)}},
		{"no files", sandbox.Input{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.Run(context.Background(), bin, tc.in)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.Stderr)
			}
			lines := strings.Split(strings.TrimSpace(string(out.Stdout)), "\n")
			if len(lines) != 10 {
				t.Fatalf("stdout: %q", out.Stdout)
			}
			for _, line := range lines {
				if strings.HasSuffix(line, ": ok") {
					t.Errorf("the module could %s", strings.TrimSuffix(line, ": ok"))
				}
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || string(content) != testCSV {
		t.Errorf("the host directory changed: %d entries, content %q", len(entries), content)
	}
}

func TestWallTimeLimit(t *testing.T) {
	s := newSandbox(t, sandbox.Config{WallTime: 500 * time.Millisecond})
	bin := module(t, "loop")
	_, err := s.Run(context.Background(), bin, sandbox.Input{})
	var le *sandbox.LimitError
	if !errors.As(err, &le) || le.Limit != sandbox.LimitWallTime || le.WallTime != 500*time.Millisecond {
		t.Fatalf("got %v, want the wall-time limit", err)
	}
	t.Log(err)
	if st := s.Stats(); st.Running != 0 || st.MemoryBytes != 0 {
		t.Errorf("after the run: %+v", st)
	}
}

func TestMemoryLimit(t *testing.T) {
	const limit = 64 << 20
	s := newSandbox(t, sandbox.Config{MemoryLimitBytes: limit})
	out, err := s.Run(context.Background(), module(t, "alloc"), sandbox.Input{})
	var le *sandbox.LimitError
	if !errors.As(err, &le) || le.Limit != sandbox.LimitMemory || le.Bytes != limit {
		t.Fatalf("got %v, want the memory limit\nstderr: %s", err, out.Stderr)
	}
	t.Log(err)
	if out.MemoryPeakBytes > limit || out.MemoryPeakBytes < limit/2 {
		t.Errorf("peak memory %d", out.MemoryPeakBytes)
	}
	if st := s.Stats(); st.MemoryBytes != 0 {
		t.Errorf("memory still held after the run: %+v", st)
	}
}

func TestOutputLimit(t *testing.T) {
	const limit = 64 << 10
	s := newSandbox(t, sandbox.Config{OutputLimit: limit})
	out, err := s.Run(context.Background(), module(t, "flood"), sandbox.Input{})
	var le *sandbox.LimitError
	if !errors.As(err, &le) || le.Limit != sandbox.LimitOutput || le.Bytes != limit {
		t.Fatalf("got %v, want the output limit", err)
	}
	t.Log(err)
	if len(out.Stdout) != limit {
		t.Errorf("kept %d bytes of output", len(out.Stdout))
	}
}

func TestAPerRunOutputLimitWithinTheConfiguredBound(t *testing.T) {
	s := newSandbox(t, sandbox.Config{OutputLimit: 16 << 10, MaxOutputLimit: 256 << 10})
	for _, limit := range []int{8 << 10, 128 << 10} {
		out, err := s.Run(context.Background(), module(t, "flood"), sandbox.Input{OutputLimit: limit})
		var le *sandbox.LimitError
		if !errors.As(err, &le) || le.Limit != sandbox.LimitOutput || le.Bytes != int64(limit) || len(out.Stdout) != limit {
			t.Fatalf("limit %d: got %v with %d bytes, want the output limit", limit, err, len(out.Stdout))
		}
	}
	_, err := s.Run(context.Background(), module(t, "flood"), sandbox.Input{OutputLimit: 512 << 10})
	if err == nil || !strings.Contains(err.Error(), "more than the 256 KiB allowed") {
		t.Fatalf("err = %v", err)
	}
}

func TestClockAndRandomnessAreTheNodes(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	bin := module(t, "clock")
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	in := sandbox.Input{Time: at, Seed: [32]byte{1, 2, 3}}

	first, err := s.Run(context.Background(), bin, in)
	if err != nil {
		t.Fatalf("%v\n%s", err, first.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(first.Stdout)), "\n")
	if len(lines) != 4 {
		t.Fatalf("stdout %q", first.Stdout)
	}
	if want := "now " + itoa(at.UnixNano()); lines[0] != want {
		t.Errorf("the module's clock: %q, want %q", lines[0], want)
	}
	if lines[1] != "slept 1h0m0s" {
		t.Errorf("after sleeping an hour: %q", lines[1])
	}
	if first.Timings.Run > 10*time.Minute {
		t.Errorf("the sleep took real time: %v", first.Timings.Run)
	}
	second, err := s.Run(context.Background(), bin, in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Stdout, second.Stdout) {
		t.Errorf("two runs differ:\n%s\n%s", first.Stdout, second.Stdout)
	}
	in.Seed[0] = 9
	other, err := s.Run(context.Background(), bin, in)
	if err != nil {
		t.Fatal(err)
	}
	otherLines := strings.Split(strings.TrimSpace(string(other.Stdout)), "\n")
	if otherLines[0] != lines[0] || otherLines[2] == lines[2] || otherLines[3] == lines[3] {
		t.Errorf("another seed, same time:\n%s\n%s", first.Stdout, other.Stdout)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestRefusedModules(t *testing.T) {
	s := newSandbox(t, sandbox.Config{MemoryLimitBytes: 16 << 20, MaxModuleBytes: 8 << 20})
	unknownWASI := wasmSpec{imports: []wasmImport{{"wasi_snapshot_preview1", "sock_open", 0}}, memPages: 1, body: []byte{0x10, 0}}.build()
	for _, tc := range []struct {
		name  string
		bin   []byte
		kind  sandbox.ModuleErrorKind
		limit sandbox.Limit
	}{
		{"env import", envImportModule(), sandbox.KindForbiddenImport, ""},
		{"unknown WASI function", unknownWASI, sandbox.KindForbiddenImport, ""},
		{"not WebAssembly", []byte("#!/bin/sh\nrm -rf /\n"), sandbox.KindInvalid, ""},
		{"empty", nil, sandbox.KindInvalid, ""},
		{"no _start", wasmSpec{memPages: 1, exportName: "main"}.build(), sandbox.KindNotCommand, ""},
		{"trap", trapModule(), sandbox.KindTrap, ""},
		// Four billion parameters in five bytes: wazero would allocate them
		// before reading them, and the process would abort.
		{"vector bomb", []byte("\x00asm\x01\x00\x00\x00\x01\x07\x01\x60\xff\xff\xff\xff\x0f"), sandbox.KindInvalid, ""},
		{"four billion locals", wasmSpec{memPages: 1}.withLocals(0xffffffff).build(), sandbox.KindInvalid, ""},
		{"initial memory over the limit", wasmSpec{memPages: 1 << 15}.build(), "", sandbox.LimitMemory},
		{"too large", make([]byte, 9<<20), "", sandbox.LimitModuleSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Run(context.Background(), tc.bin, sandbox.Input{})
			var me *sandbox.ModuleError
			var le *sandbox.LimitError
			switch {
			case tc.kind != "" && (!errors.As(err, &me) || me.Kind != tc.kind):
				t.Fatalf("got %v, want a %s module error", err, tc.kind)
			case tc.limit != "" && (!errors.As(err, &le) || le.Limit != tc.limit):
				t.Fatalf("got %v, want the %s limit", err, tc.limit)
			}
			t.Log(err)
		})
	}
	var me *sandbox.ModuleError
	if _, err := s.Run(context.Background(), envImportModule(), sandbox.Input{}); !errors.As(err, &me) || me.Detail != "function env.f" {
		t.Errorf("the refusal does not name the import: %v", err)
	}
	out, err := s.Run(context.Background(), helloModule("hi\n"), sandbox.Input{})
	if err != nil || string(out.Stdout) != "hi\n" {
		t.Errorf("the hand-made module: %q, %v", out.Stdout, err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	s := newSandbox(t, sandbox.Config{CacheEntries: 2})
	ctx := context.Background()
	held, err := s.Compile(ctx, helloModule("a\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, text := range []string{"b\n", "c\n"} {
		out, err := s.Run(ctx, helloModule(text), sandbox.Input{})
		if err != nil || out.Cached {
			t.Fatalf("%q: cached %v, %v", text, out.Cached, err)
		}
	}
	if n := s.Stats().CachedModules; n != 2 {
		t.Errorf("%d modules cached, want 2", n)
	}
	// "a" left the cache, but its handle still runs.
	out, err := s.RunModule(ctx, held, sandbox.Input{})
	if err != nil || string(out.Stdout) != "a\n" {
		t.Errorf("evicted but held: %q, %v", out.Stdout, err)
	}
	out, err = s.Run(ctx, helloModule("a\n"), sandbox.Input{})
	if err != nil || out.Cached {
		t.Errorf("evicted module: cached %v, %v", out.Cached, err)
	}
	out, err = s.Run(ctx, helloModule("a\n"), sandbox.Input{})
	if err != nil || !out.Cached {
		t.Errorf("recompiled module: cached %v, %v", out.Cached, err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	m, err := s.Compile(context.Background(), module(t, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			in := csvView(t, testCSV)
			in.Stdin = []byte{byte('a' + i)}
			out, err := s.RunModule(context.Background(), m, *in)
			if err == nil && !bytes.Contains(out.Stdout, []byte(`"request":"`+string(rune('a'+i))+`"`)) {
				err = errors.New("wrong output: " + string(out.Stdout))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestCallerCancels(t *testing.T) {
	s := newSandbox(t, sandbox.Config{WallTime: time.Minute})
	bin := module(t, "loop")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, bin, sandbox.Input{})
		done <- err
	}()
	waitRunning(t, s, done)
	cancel()
	err := <-done
	var le *sandbox.LimitError
	if !errors.Is(err, context.Canceled) || errors.As(err, &le) {
		t.Fatalf("got %v, want the caller's cancellation", err)
	}
}

// waitRunning waits until s has a run in progress, failing if the run
// started in the background ends first.
func waitRunning(t *testing.T, s *sandbox.Sandbox, done chan error) {
	t.Helper()
	testkit.Eventually(t, time.Minute, "the run starts", func() bool {
		select {
		case err := <-done:
			t.Fatalf("the run ended before it was stopped: %v", err)
		default:
		}
		return s.Stats().Running == 1
	})
}

func TestCloseEndsRuns(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{WallTime: time.Minute, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	bin := module(t, "loop")
	done := make(chan error, 1)
	go func() {
		_, err := s.Run(context.Background(), bin, sandbox.Input{})
		done <- err
	}()
	waitRunning(t, s, done)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, sandbox.ErrClosed) {
		t.Fatalf("the run ended with %v, want ErrClosed", err)
	}
	if _, err := s.Run(context.Background(), helloModule("x"), sandbox.Input{}); !errors.Is(err, sandbox.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestFileCacheDir(t *testing.T) {
	dir := t.TempDir()
	bin := helloModule("ok\n")
	for i := range 2 {
		s, err := sandbox.New(sandbox.Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(context.Background(), bin, sandbox.Input{})
		s.Close()
		if err != nil || string(out.Stdout) != "ok\n" {
			t.Fatalf("run %d: %q %v", i, out.Stdout, err)
		}
		t.Logf("run %d: compile %v", i, out.Timings.Compile)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
		t.Errorf("nothing cached on disk: %v", err)
	}
}

func TestFileViewNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "/etc/passwd", "../x"} {
		if _, err := sandbox.FileView(name, strings.NewReader(""), 0); err == nil {
			t.Errorf("FileView(%q) accepted", name)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []sandbox.Config{
		{MemoryLimitBytes: 1000},
		{MemoryLimitBytes: 5 << 30},
		{WallTime: -1},
		{OutputLimit: -1},
	} {
		if _, err := sandbox.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
