package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/xborder/xborder/sandbox"
)

// BenchmarkStart: what starting a module costs, first compiled and then
// from the cache (instantiation and run of a module that prints one line).
func BenchmarkStart(b *testing.B) {
	bin := module(b, "trivial")
	b.Run("compile", func(b *testing.B) {
		for b.Loop() {
			s, err := sandbox.New(sandbox.Config{})
			if err != nil {
				b.Fatal(err)
			}
			m, err := s.Compile(context.Background(), bin)
			if err != nil {
				b.Fatal(err)
			}
			m.Close()
			s.Close()
		}
	})
	s := newSandbox(b, sandbox.Config{})
	m, err := s.Compile(context.Background(), bin)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.Run("cached", func(b *testing.B) {
		var inst, run time.Duration
		for b.Loop() {
			out, err := s.RunModule(context.Background(), m, sandbox.Input{})
			if err != nil || string(out.Stdout) != "ok\n" {
				b.Fatalf("%q %v", out.Stdout, err)
			}
			inst += out.Timings.Instantiate
			run += out.Timings.Run
		}
		b.ReportMetric(float64(inst.Microseconds())/float64(b.N)/1000, "instantiate-ms/op")
		b.ReportMetric(float64(run.Microseconds())/float64(b.N)/1000, "run-ms/op")
	})
	b.Run("cached-by-bytes", func(b *testing.B) { // the digest of the binary, then the cache
		for b.Loop() {
			out, err := s.Run(context.Background(), bin, sandbox.Input{})
			if err != nil || !out.Cached {
				b.Fatalf("cached %v, %v", out.Cached, err)
			}
		}
	})
}

const summaryRows = 1_000_000

var (
	summaryOnce sync.Once
	summaryCSV  []byte
	summaryF64  []byte
)

// summaryData is a million rows (id, age, value) as CSV, and the value
// column alone as little-endian float64s.
func summaryData() (csv, f64 []byte) {
	summaryOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		var buf bytes.Buffer
		buf.WriteString("id,age,value\n")
		for i := range summaryRows {
			v := 100 + 15*r.NormFloat64()
			line := fmt.Sprintf("%d,%d,%.4f\n", i, 18+r.IntN(80), v)
			buf.WriteString(line)
			v, _ = strconv.ParseFloat(line[strings.LastIndexByte(line, ',')+1:len(line)-1], 64)
			summaryF64 = binary.LittleEndian.AppendUint64(summaryF64, math.Float64bits(v))
		}
		summaryCSV = buf.Bytes()
	})
	return summaryCSV, summaryF64
}

// BenchmarkSummaryNativeVsSandboxed: the count, mean and standard
// deviation of a column of a million rows, by the same code run natively
// and as a sandboxed wasip1 module reading the rows from its /data view;
// each iteration runs both, and the ratio is reported. "csv" parses the
// rows as text, "f64" reads the column as binary float64s.
func BenchmarkSummaryNativeVsSandboxed(b *testing.B) {
	csv, f64 := summaryData()
	b.Run("csv", func(b *testing.B) {
		benchmarkSummary(b, "summary", "input.csv", csv, summarize)
	})
	b.Run("f64", func(b *testing.B) {
		benchmarkSummary(b, "summarybin", "input.f64", f64, summarizeBinary)
	})
}

func benchmarkSummary(b *testing.B, name, file string, data []byte, native func(io.Reader) (int, float64, float64, error)) {
	s := newSandbox(b, sandbox.Config{})
	m, err := s.Compile(context.Background(), module(b, name))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	view, err := sandbox.FileView(file, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	var nativeTime, sandboxed, run time.Duration
	for b.Loop() {
		start := time.Now()
		n, mean, sd, err := native(bytes.NewReader(data))
		nativeTime += time.Since(start)
		if err != nil || n != summaryRows {
			b.Fatal(n, err)
		}
		start = time.Now()
		out, err := s.RunModule(context.Background(), m, sandbox.Input{Data: view})
		sandboxed += time.Since(start)
		run += out.Timings.Run
		if err != nil {
			b.Fatalf("%v\n%s", err, out.Stderr)
		}
		if want := fmt.Sprintf("%d %.9g %.9g\n", n, mean, sd); string(out.Stdout) != want {
			b.Fatalf("sandboxed %q, native %q", out.Stdout, want)
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
	b.ReportMetric(per(nativeTime), "native-ms/op")
	b.ReportMetric(per(sandboxed), "sandboxed-ms/op")
	b.ReportMetric(per(run), "sandboxed-run-ms/op")
	b.ReportMetric(float64(sandboxed)/float64(nativeTime), "x-native")
}

// summarize is testdata/src/summary's function, line for line.
func summarize(r io.Reader) (n int, mean, sd float64, err error) {
	sc := bufio.NewScanner(bufio.NewReaderSize(r, 1<<16))
	sc.Scan() // header
	var m2 float64
	for sc.Scan() {
		line := sc.Bytes()
		v, err := strconv.ParseFloat(string(line[bytes.LastIndexByte(line, ',')+1:]), 64)
		if err != nil {
			return 0, 0, 0, err
		}
		n++
		d := v - mean
		mean += d / float64(n)
		m2 += d * (v - mean)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	if n > 1 {
		sd = math.Sqrt(m2 / float64(n-1))
	}
	return n, mean, sd, nil
}

// summarizeBinary is testdata/src/summarybin's function, line for line.
func summarizeBinary(r io.Reader) (n int, mean, sd float64, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var m2 float64
	var b [8]byte
	for {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, 0, 0, err
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
		n++
		d := v - mean
		mean += d / float64(n)
		m2 += d * (v - mean)
	}
	if n > 1 {
		sd = math.Sqrt(m2 / float64(n-1))
	}
	return n, mean, sd, nil
}

// BenchmarkTerminationChecks: what making a run stoppable costs. It runs
// the summary modules on bare wazero runtimes with WithCloseOnContextDone
// ("wazero-checks": an exit to Go at every loop head, which Go's wasm code
// has in every function) and without any check ("none": such a run could
// not be stopped, nor preempted by Go's scheduler), and in the sandbox
// ("sandbox": the instrumented module, see instrument.go), all in the same
// run; "x-none" is each one's time over the unchecked one's.
func BenchmarkTerminationChecks(b *testing.B) {
	csv, f64 := summaryData()
	for _, tc := range []struct {
		name, module, file string
		data               []byte
	}{
		{"csv", "summary", "input.csv", csv},
		{"f64", "summarybin", "input.f64", f64},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			bin := module(b, tc.module)
			view, err := sandbox.FileView(tc.file, bytes.NewReader(tc.data), int64(len(tc.data)))
			if err != nil {
				b.Fatal(err)
			}
			bare := func(checks bool) func() {
				rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(checks))
				b.Cleanup(func() { rt.Close(ctx) })
				wasi_snapshot_preview1.MustInstantiate(ctx, rt)
				compiled, err := rt.CompileModule(ctx, bin)
				if err != nil {
					b.Fatal(err)
				}
				return func() {
					var out bytes.Buffer
					cfg := wazero.NewModuleConfig().WithName("").WithStdout(&out).
						WithFSConfig(wazero.NewFSConfig().WithFSMount(view, sandbox.DataDir))
					mod, err := rt.InstantiateModule(ctx, compiled, cfg)
					if err != nil || out.Len() == 0 {
						b.Fatal(err)
					}
					mod.Close(ctx)
				}
			}
			s := newSandbox(b, sandbox.Config{})
			m, err := s.Compile(ctx, bin)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			variants := []struct {
				name string
				run  func()
				took time.Duration
			}{
				{name: "none", run: bare(false)},
				{name: "wazero-checks", run: bare(true)},
				{name: "sandbox", run: func() {
					if _, err := s.RunModule(ctx, m, sandbox.Input{Data: view}); err != nil {
						b.Fatal(err)
					}
				}},
			}
			for b.Loop() {
				for i := range variants {
					start := time.Now()
					variants[i].run()
					variants[i].took += time.Since(start)
				}
			}
			for _, v := range variants {
				b.ReportMetric(float64(v.took.Microseconds())/float64(b.N)/1000, v.name+"-ms/op")
				if v.name != "none" {
					b.ReportMetric(float64(v.took)/float64(variants[0].took), v.name+"-x-none")
				}
			}
		})
	}
}

// BenchmarkSummaryC: the same summaries written in C (testdata/c), built
// with clang for wasm32-wasi and natively, each iteration running the
// native program (as a process, on the rows in a temporary file) and the
// sandboxed module (on its /data view). What separates the sandbox's cost
// from Go's wasm code: C's wasm keeps its loops and registers. It is
// skipped where clang has no wasm32-wasi target (on Debian: apt-get
// install clang lld wasi-libc libclang-rt-14-dev-wasm32).
func BenchmarkSummaryC(b *testing.B) {
	csv, f64 := summaryData()
	for _, tc := range []struct {
		name, file string
		data       []byte
	}{
		{"summary", "input.csv", csv},
		{"summarybin", "input.f64", f64},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join("testdata", "c", tc.name+".c")
			wasm, native := filepath.Join(dir, tc.name+".wasm"), filepath.Join(dir, tc.name)
			if out, err := exec.Command("clang", "--target=wasm32-wasi", "-O2", "-o", wasm, src).CombinedOutput(); err != nil {
				b.Skipf("no C compiler for wasm32-wasi: %v\n%s", err, out)
			}
			if out, err := exec.Command("clang", "-O2", "-o", native, src, "-lm").CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			bin, err := os.ReadFile(wasm)
			if err != nil {
				b.Fatal(err)
			}
			input := filepath.Join(dir, tc.file)
			if err := os.WriteFile(input, tc.data, 0o600); err != nil {
				b.Fatal(err)
			}
			s := newSandbox(b, sandbox.Config{})
			m, err := s.Compile(context.Background(), bin)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			view, err := sandbox.FileView(tc.file, bytes.NewReader(tc.data), int64(len(tc.data)))
			if err != nil {
				b.Fatal(err)
			}
			var nativeTime, sandboxed time.Duration
			for b.Loop() {
				start := time.Now()
				want, err := exec.Command(native, input).Output()
				nativeTime += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				start = time.Now()
				out, err := s.RunModule(context.Background(), m, sandbox.Input{Data: view})
				sandboxed += time.Since(start)
				if err != nil {
					b.Fatalf("%v\n%s", err, out.Stderr)
				}
				if string(out.Stdout) != string(want) {
					b.Fatalf("sandboxed %q, native %q", out.Stdout, want)
				}
			}
			per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) / 1000 }
			b.ReportMetric(per(nativeTime), "native-ms/op")
			b.ReportMetric(per(sandboxed), "sandboxed-ms/op")
			b.ReportMetric(float64(sandboxed)/float64(nativeTime), "x-native")
		})
	}
}
