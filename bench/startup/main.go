// Command startup measures, side by side in one run, what an xborder node
// costs on top of the bare go-libp2p host it is built on:
//
//   - the size of both stripped, statically linked binaries;
//   - start-to-ready: for the node, from exec of `xborder run` until
//     GET /readyz answers 200; for the bare host (bench/barehost), from
//     exec until it prints "ready" once libp2p.New has returned;
//   - the resident memory (VmRSS) of each process after it has idled for
//     a while (-idle);
//   - the time a five-node loopback federation (`xborder demo --once`)
//     takes to form a full mesh, read from its --json progress.
//
// Why: a partner region runs its node next to other services, often on a
// small VM, so the node must stay close to the cost of libp2p itself. The
// goals are idle RSS ≤ 1.5× and start-to-ready ≤ 3× the bare host, and a
// full five-node mesh within 2 s. Ratios against a baseline measured in
// the same run, with node and bare runs alternated, cancel out most of the
// machine's noise (CPU frequency, page cache, other load) that absolute
// figures from separate runs would carry.
//
// The goals are informational: the command exits 0 whether they are met or
// not, and 1 only when a measurement fails.
//
// Usage (from the module root):
//
//	go run ./bench/startup [-runs 5] [-idle 3s] [-mesh-runs 3] [-bin bin/xborder]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/xborder/xborder/internal/loopback"
)

// Goals the ratios are checked against.
const (
	goalRSSRatio   = 1.5
	goalReadyRatio = 3.0
	goalMeshMS     = 2000
)

const (
	// pollInterval is how often /readyz is polled: short enough that the
	// node's figure is at most ~2 ms late, long enough not to steal a core
	// from the process being timed on a 2-core machine.
	pollInterval = 2 * time.Millisecond
	// readyTimeout bounds start-up; both programs normally take well under
	// a second, so hitting it means something is broken.
	readyTimeout = 30 * time.Second
	// stopTimeout is how long a process gets to exit after SIGTERM; the
	// node's own shutdown_timeout defaults to 10 s.
	stopTimeout = 15 * time.Second
	// meshTimeout bounds one `xborder demo --once`, which itself waits up
	// to 60 s for the mesh and then stops five nodes.
	meshTimeout = 3 * time.Minute
)

// demoEvent is the part of a line of `xborder demo --json` the benchmark
// reads: the "mesh" step's ok line carries, in elapsed_ms, the time from
// the start of the five processes to the full mesh.
type demoEvent struct {
	Step      string  `json:"step"`
	Status    string  `json:"status"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

func main() { os.Exit(run()) }

type options struct {
	runs, warmup, meshRuns int
	idle                   time.Duration
	bin                    string
}

func run() int {
	var o options
	flag.IntVar(&o.runs, "runs", 5, "measured start-ups of each program (node and bare host alternate)")
	flag.IntVar(&o.warmup, "warmup", 1, "unrecorded start-ups of each program before the measured ones")
	flag.DurationVar(&o.idle, "idle", 3*time.Second, "how long each process idles after ready before its RSS is read")
	flag.IntVar(&o.meshRuns, "mesh-runs", 3, "runs of `xborder demo --once` for the five-node mesh time (0 skips it)")
	flag.StringVar(&o.bin, "bin", "", "use this xborder binary instead of building a stripped one from ./cmd/xborder")
	flag.Parse()
	if flag.NArg() > 0 || o.runs < 1 || o.warmup < 0 || o.meshRuns < 0 || o.idle < 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/startup [-runs N>=1] [-warmup N] [-idle 3s] [-mesh-runs N] [-bin PATH]")
		return 2
	}

	// Ctrl-C or SIGTERM cancels the context; every wait below selects on
	// it, so the deferred clean-up still kills children and removes the
	// temp dir.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "xborder-bench-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: create temp dir: %v\n", err)
		return 1
	}
	// Children first: a node still running would keep writing into the
	// data dir being removed.
	defer func() {
		killAll()
		os.RemoveAll(work)
	}()

	if err := bench(ctx, o, work); err != nil {
		fmt.Fprintf(os.Stderr, "\nbench: FAILED: %v\n", err)
		return 1
	}
	return 0
}

// sample is one start-up of one program.
type sample struct {
	ready time.Duration
	// Bytes, read after idling: VmRSS, split into anonymous memory (heap,
	// stacks) and file-backed pages (mostly the binary's code and data),
	// because a bigger binary alone raises the file-backed part; and the
	// peak VmHWM.
	mem memory
}

func bench(ctx context.Context, o options, work string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("xborder start-up benchmark: %d runs each (alternated, after %d warm-up), idle %v, %d mesh runs\n",
		o.runs, o.warmup, o.idle, o.meshRuns)
	fmt.Printf("machine: %s/%s, %d CPUs, %s, %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())

	nodeBin := o.bin
	sizeLabel := "stripped binary"
	if nodeBin == "" {
		nodeBin = filepath.Join(work, "xborder")
		if err := buildStripped(ctx, root, "./cmd/xborder", nodeBin); err != nil {
			return err
		}
	} else {
		if nodeBin, err = filepath.Abs(nodeBin); err != nil {
			return err
		}
		// A binary passed with -bin is measured as it is; it may carry
		// symbols, which would make the size comparison unfair.
		sizeLabel = "binary (node's as given by -bin)"
	}
	bareBin := filepath.Join(work, "barehost")
	if err := buildStripped(ctx, root, "./bench/barehost", bareBin); err != nil {
		return err
	}
	nodeSize, err := fileSize(nodeBin)
	if err != nil {
		return err
	}
	bareSize, err := fileSize(bareBin)
	if err != nil {
		return err
	}

	// Warm-up runs are not recorded: the first start of each binary pays
	// for one-off costs (page-cache misses, first use of the loopback
	// ports, DNS/config lookups) that a running service never sees twice.
	for i := range o.warmup {
		if _, err := measureNode(ctx, nodeBin, work, fmt.Sprintf("warmup-%d", i), 0); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if _, err := measureBare(ctx, bareBin, 0); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	// Alternate node and bare runs so that drift on the machine (thermal
	// throttling, a background job) affects both series alike.
	var nodeRuns, bareRuns []sample
	for i := range o.runs {
		n, err := measureNode(ctx, nodeBin, work, strconv.Itoa(i), o.idle)
		if err != nil {
			return err
		}
		nodeRuns = append(nodeRuns, n)
		b, err := measureBare(ctx, bareBin, o.idle)
		if err != nil {
			return err
		}
		bareRuns = append(bareRuns, b)
		fmt.Printf("  run %d/%d: node %6.1f ms %6.1f MiB | bare %6.1f ms %6.1f MiB\n", i+1, o.runs,
			ms(n.ready), mib(n.mem.rss), ms(b.ready), mib(b.mem.rss))
	}

	var meshes []time.Duration
	for i := range o.meshRuns {
		d, err := measureMesh(ctx, nodeBin, work, i)
		if err != nil {
			return err
		}
		meshes = append(meshes, d)
		fmt.Printf("  mesh %d/%d: %d ms\n", i+1, o.meshRuns, d.Milliseconds())
	}
	fmt.Println()

	report(os.Stdout, nodeSize, bareSize, sizeLabel, nodeRuns, bareRuns, meshes)
	return nil
}

// report prints the table and one PASS/OVER line per goal.
func report(w io.Writer, nodeSize, bareSize int64, sizeLabel string, nodeRuns, bareRuns []sample, meshes []time.Duration) {
	ready := func(s []sample) []float64 { return mapf(s, func(x sample) float64 { return ms(x.ready) }) }
	memf := func(s []sample, f func(memory) int64) float64 {
		return median(mapf(s, func(x sample) float64 { return mib(f(x.mem)) }))
	}
	rss := func(m memory) int64 { return m.rss }
	anon := func(m memory) int64 { return m.anon }
	file := func(m memory) int64 { return m.file }
	hwm := func(m memory) int64 { return m.hwm }

	nReadyMed, bReadyMed := median(ready(nodeRuns)), median(ready(bareRuns))
	nReadyMin, bReadyMin := slices.Min(ready(nodeRuns)), slices.Min(ready(bareRuns))
	nRSS, bRSS := memf(nodeRuns, rss), memf(bareRuns, rss)
	nAnon, bAnon := memf(nodeRuns, anon), memf(bareRuns, anon)
	nFile, bFile := memf(nodeRuns, file), memf(bareRuns, file)
	nHWM, bHWM := memf(nodeRuns, hwm), memf(bareRuns, hwm)
	readyRatio, rssRatio := nReadyMed/bReadyMed, nRSS/bRSS

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tXBORDER NODE\tBARE HOST\tRATIO\tGOAL\t")
	fmt.Fprintf(tw, "%s\t%.1f MB\t%.1f MB\t%.2f×\t–\t\n", sizeLabel,
		float64(nodeSize)/1e6, float64(bareSize)/1e6, float64(nodeSize)/float64(bareSize))
	fmt.Fprintf(tw, "start-to-ready, median\t%.1f ms\t%.1f ms\t%.2f×\t≤ %.1f×\t\n", nReadyMed, bReadyMed, readyRatio, goalReadyRatio)
	fmt.Fprintf(tw, "start-to-ready, min\t%.1f ms\t%.1f ms\t%.2f×\t–\t\n", nReadyMin, bReadyMin, nReadyMin/bReadyMin)
	fmt.Fprintf(tw, "idle RSS, median\t%.1f MiB\t%.1f MiB\t%.2f×\t≤ %.1f×\t\n", nRSS, bRSS, rssRatio, goalRSSRatio)
	fmt.Fprintf(tw, "  anonymous (heap, stacks)\t%.1f MiB\t%.1f MiB\t%.2f×\t–\t\n", nAnon, bAnon, nAnon/bAnon)
	fmt.Fprintf(tw, "  file-backed (binary)\t%.1f MiB\t%.1f MiB\t%.2f×\t–\t\n", nFile, bFile, nFile/bFile)
	fmt.Fprintf(tw, "peak RSS (VmHWM), median\t%.1f MiB\t%.1f MiB\t%.2f×\t–\t\n", nHWM, bHWM, nHWM/bHWM)
	var meshMed float64
	if len(meshes) > 0 {
		m := mapf(meshes, func(d time.Duration) float64 { return float64(d.Milliseconds()) })
		meshMed = median(m)
		fmt.Fprintf(tw, "five-node full mesh, median\t%.0f ms\t–\t–\t≤ %d ms\t\n", meshMed, goalMeshMS)
		fmt.Fprintf(tw, "five-node full mesh, min\t%.0f ms\t–\t–\t–\t\n", slices.Min(m))
	}
	tw.Flush()
	fmt.Fprintln(w)

	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "OVER"
	}
	fmt.Fprintf(w, "%s  idle RSS: node %.2f× bare host (goal ≤ %.1f×)\n", verdict(rssRatio <= goalRSSRatio), rssRatio, goalRSSRatio)
	fmt.Fprintf(w, "%s  start-to-ready: node %.2f× bare host (goal ≤ %.1f×)\n", verdict(readyRatio <= goalReadyRatio), readyRatio, goalReadyRatio)
	if len(meshes) > 0 {
		fmt.Fprintf(w, "%s  five-node full mesh: %.0f ms (goal ≤ %d ms)\n", verdict(meshMed <= goalMeshMS), meshMed, goalMeshMS)
	}
}

// measureNode prepares a fresh single-member federation in its own data
// dir (so no run reuses another's peerstore or ports), then times
// `xborder run` from exec until /readyz answers 200.
func measureNode(ctx context.Context, bin, work, label string, idle time.Duration) (sample, error) {
	dir := filepath.Join(work, "node-"+label)
	p2p, err := loopback.FreePort(true)
	if err != nil {
		return sample{}, fmt.Errorf("node %s: %w", label, err)
	}
	apiPort, err := loopback.FreePort(false)
	if err != nil {
		return sample{}, fmt.Errorf("node %s: %w", label, err)
	}
	listen := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d,/ip4/127.0.0.1/udp/%d/quic-v1", p2p, p2p)
	api := fmt.Sprintf("127.0.0.1:%d", apiPort)
	if _, err := runCmd(ctx, "node "+label+": xborder init", bin, "--data", dir, "init",
		"--name", "fr-grandest", "--country", "FR", "--org", "Bench", "--listen", listen, "--api", api); err != nil {
		return sample{}, err
	}
	card, err := runCmd(ctx, "node "+label+": xborder identity", bin, "--data", dir, "identity", "--json")
	if err != nil {
		return sample{}, err
	}
	cardPath := filepath.Join(dir, "card.json")
	if err := os.WriteFile(cardPath, card, 0o644); err != nil {
		return sample{}, fmt.Errorf("node %s: write identity card: %w", label, err)
	}
	gen := filepath.Join(dir, "gen.json")
	if _, err := runCmd(ctx, "node "+label+": xborder genesis", bin, "genesis", "--federation", "bench", "--out", gen, cardPath); err != nil {
		return sample{}, err
	}

	step := "node " + label + ": xborder run"
	// Flags of `run` take string values, hence "false" as its own argument.
	p, err := startProc(step, nil, bin, "--data", dir, "run", "--genesis", gen, "--discovery-mdns", "false")
	if err != nil {
		return sample{}, err
	}
	defer p.kill()
	// A client of its own with a short timeout: a connection refused
	// returns at once, and a node that accepted but hangs is caught
	// without waiting for the default (no) timeout.
	client := &http.Client{Timeout: time.Second}
	url := "http://" + api + "/readyz"
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-ctx.Done():
			return sample{}, fmt.Errorf("%s: %w", step, ctx.Err())
		case <-p.done:
			return sample{}, p.failure("exited before /readyz answered 200")
		case <-deadline.C:
			return sample{}, p.failure(fmt.Sprintf("/readyz did not answer 200 within %v", readyTimeout))
		case <-time.After(pollInterval):
		}
	}
	return p.finish(ctx, time.Since(p.started), idle)
}

// measureBare times bench/barehost from exec until it prints "ready".
func measureBare(ctx context.Context, bin string, idle time.Duration) (sample, error) {
	port, err := loopback.FreePort(true)
	if err != nil {
		return sample{}, fmt.Errorf("bare host: %w", err)
	}
	// An *os.File as stdout lets the child write straight into the pipe,
	// with no copying goroutine in between adding latency or racing Wait.
	r, w, err := os.Pipe()
	if err != nil {
		return sample{}, fmt.Errorf("bare host: pipe: %w", err)
	}
	defer r.Close()
	p, err := startProc("bare host", w, bin, "-port", strconv.Itoa(port))
	w.Close() // the child holds its own copy; ours would keep EOF from ever arriving
	if err != nil {
		return sample{}, err
	}
	defer p.kill()
	readyAt := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == "ready" {
				readyAt <- time.Now()
			}
		}
		// Draining to EOF keeps the child from blocking on a full pipe.
	}()
	select {
	case at := <-readyAt:
		return p.finish(ctx, at.Sub(p.started), idle)
	case <-ctx.Done():
		return sample{}, fmt.Errorf("bare host: %w", ctx.Err())
	case <-p.done:
		return sample{}, p.failure("exited before printing ready")
	case <-time.After(readyTimeout):
		return sample{}, p.failure(fmt.Sprintf("did not print ready within %v", readyTimeout))
	}
}

// measureMesh runs `xborder demo --once --json` and returns the mesh time
// it reports.
func measureMesh(ctx context.Context, bin, work string, i int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, meshTimeout)
	defer cancel()
	step := fmt.Sprintf("mesh run %d: xborder demo --once --json", i+1)
	out, err := runCmd(ctx, step, bin, "demo", "--once", "--json", "--dir", filepath.Join(work, fmt.Sprintf("demo-%d", i)))
	if err != nil {
		return 0, err
	}
	return meshTime(out)
}

// meshTime finds the "mesh" step's ok line in the demo's JSON progress.
func meshTime(out []byte) (time.Duration, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e demoEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return 0, fmt.Errorf("the demo's progress: %q: %w", sc.Text(), err)
		}
		if e.Step == "mesh" && e.Status == "ok" {
			return time.Duration(e.ElapsedMS * float64(time.Millisecond)), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("the demo's progress: %w", err)
	}
	return 0, fmt.Errorf("no ok line for the mesh step in the demo's progress:\n%s", tailLines(out, 20))
}

// proc is a long-running child process being measured.
type proc struct {
	step    string
	cmd     *exec.Cmd
	stderr  *tailBuffer
	started time.Time
	done    chan struct{} // closed once Wait has returned; err is then set
	err     error
}

var (
	liveMu sync.Mutex
	live   = map[*proc]bool{}
)

// startProc starts bin in its own process group, so that killing it also
// reaches anything it spawned, and records the exec time.
func startProc(step string, stdout *os.File, bin string, args ...string) (*proc, error) {
	p := &proc{step: step, stderr: &tailBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = stdout // nil discards
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	liveMu.Lock()
	defer liveMu.Unlock()
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start: %w", step, err)
	}
	live[p] = true
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// finish lets a ready process idle, reads its memory, and stops it with
// SIGTERM, requiring a clean exit: a process that cannot shut down cleanly
// is broken, and its figures should not be trusted.
func (p *proc) finish(ctx context.Context, ready time.Duration, idle time.Duration) (sample, error) {
	select {
	case <-ctx.Done():
		return sample{}, fmt.Errorf("%s: %w", p.step, ctx.Err())
	case <-p.done:
		return sample{}, p.failure("exited while idling")
	case <-time.After(idle):
	}
	mem, err := readMemory(p.cmd.Process.Pid)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", p.step, err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return sample{}, p.failure("did not exit cleanly after SIGTERM")
		}
	case <-time.After(stopTimeout):
		return sample{}, p.failure(fmt.Sprintf("did not exit within %v of SIGTERM", stopTimeout))
	case <-ctx.Done():
		return sample{}, fmt.Errorf("%s: %w", p.step, ctx.Err())
	}
	return sample{ready: ready, mem: mem}, nil
}

// failure describes why a process failed, with the tail of its stderr.
func (p *proc) failure(what string) error {
	status := "still running"
	select {
	case <-p.done:
		status = fmt.Sprintf("exit: %v", p.err)
		if p.err == nil {
			status = "exit status 0"
		}
	default:
	}
	return fmt.Errorf("%s: %s (%s); stderr tail:\n%s", p.step, what, status, p.stderr.tail(20))
}

// kill SIGKILLs the process group unless it is already gone, and waits.
func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	liveMu.Lock()
	delete(live, p)
	liveMu.Unlock()
}

// killAll is the last line of defence on any exit path: no child outlives
// the benchmark.
func killAll() {
	liveMu.Lock()
	ps := make([]*proc, 0, len(live))
	for p := range live {
		ps = append(ps, p)
	}
	liveMu.Unlock()
	for _, p := range ps {
		p.kill()
	}
}

// runCmd runs a short command to completion and returns its stdout; on
// failure the error names the step and carries the stderr tail.
func runCmd(ctx context.Context, step, bin string, args ...string) ([]byte, error) {
	return runCmdIn(ctx, step, "", nil, bin, args...)
}

func runCmdIn(ctx context.Context, step, dir string, env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout bytes.Buffer
	stderr := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// Own process group, and on cancellation SIGTERM first: `xborder demo`
	// stops its five nodes cleanly on SIGTERM, which SIGKILL would orphan.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopTimeout
	err := cmd.Run()
	if cmd.Process != nil {
		// Reap anything the command left behind in its group (nothing,
		// when it exited cleanly); ESRCH is the normal answer.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("%s: %v; stderr tail:\n%s", step, err, stderr.tail(20))
	}
	return stdout.Bytes(), nil
}

// buildStripped builds a static, stripped binary, as shipped, so that the
// sizes compare what operators would deploy.
func buildStripped(ctx context.Context, root, pkg, out string) error {
	fmt.Printf("building %s (CGO_ENABLED=0, -trimpath, -ldflags \"-s -w\")\n", pkg)
	_, err := runCmdIn(ctx, "build "+pkg, root, []string{"CGO_ENABLED=0"},
		"go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	return err
}

// moduleRoot finds the directory of go.mod, so the command works from any
// directory inside the module.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := runCmd(ctx, "go env GOMOD", "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the xborder module: run from the repository (go run ./bench/startup)")
	}
	return filepath.Dir(gomod), nil
}

// memory is a process's resident memory, in bytes.
type memory struct {
	rss, anon, file, hwm int64 // VmRSS, RssAnon, RssFile, VmHWM
}

// readMemory reads a process's resident memory from /proc/PID/status.
func readMemory(pid int) (memory, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("read RSS: %w", err)
	}
	field := func(name string) (int64, error) {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("read RSS: %s: %q: %w", name, line, err)
				}
				return kb << 10, nil
			}
		}
		return 0, fmt.Errorf("read RSS: no %s in /proc/%d/status", name, pid)
	}
	var m memory
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"VmRSS", &m.rss}, {"RssAnon", &m.anon}, {"RssFile", &m.file}, {"VmHWM", &m.hwm}} {
		if *f.dst, err = field(f.name); err != nil {
			return memory{}, err
		}
	}
	return m, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("binary size: %w", err)
	}
	return fi.Size(), nil
}

// cpuModel names the CPU, so that a report says what it was measured on.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// tailBuffer keeps the last 16 KiB written to it: enough for an error
// report, bounded however much a child logs.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 16 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) tail(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tailLines(t.buf, n)
}

func tailLines(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "  (empty)"
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + string(bytes.Join(lines, []byte("\n  ")))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mapf[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mib(b int64) float64        { return float64(b) / (1 << 20) }
