// Command stranger measures what a stranger costs the members of a
// federation: the CPU of each member process, as a share of one core,
// while the federation idles (the baseline, measured in the same run) and
// while a stranger dials every member.
//
// The stranger is an xborder node of another federation whose genesis
// lists every member with its real addresses, so it keeps dialling them,
// as a misconfigured region or a candidate waiting for its vote does. Each
// of its attempts costs a member a TLS handshake before the membership
// gater refuses it; before the stranger backed off and the members dropped
// a refused endpoint before the handshake, that was about 135 handshakes a
// second and a fifth of a core per member on the probe's machine. The goal
// is an added cost below 1 % of a core per member.
//
// Members and stranger are `xborder run` processes on loopback, so the CPU
// of each member (utime + stime from /proc/PID/stat) is its own. The
// figures are informational: the command exits 0 whether the goal is met or
// not, and 1 only when a measurement fails.
//
// Usage (from the module root):
//
//	go run ./bench/stranger [-members 3] [-window 30s] [-settle 10s] [-bin bin/xborder]
package main

import (
	"bufio"
	"bytes"
	"context"
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xborder/xborder/internal/loopback"
)

// goalAddedCPU is the most a stranger may add to a member, in % of a core.
const goalAddedCPU = 1.0

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 on every Linux architecture Go supports.
const clockTicks = 100

// readyTimeout bounds a node's start and the mesh's formation.
const readyTimeout = 60 * time.Second

func main() { os.Exit(run()) }

type options struct {
	members        int
	window, settle time.Duration
	bin            string
}

func run() int {
	var o options
	flag.IntVar(&o.members, "members", 3, "members of the federation the stranger dials")
	flag.DurationVar(&o.window, "window", 30*time.Second, "how long the CPU is measured, idle and with the stranger")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "how long the federation idles after its mesh forms, before the baseline")
	flag.StringVar(&o.bin, "bin", "", "use this xborder binary instead of building one from ./cmd/xborder")
	flag.Parse()
	if flag.NArg() > 0 || o.members < 1 || o.window <= 0 || o.settle < 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/stranger [-members N>=1] [-window 30s] [-settle 10s] [-bin PATH]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	work, err := os.MkdirTemp("", "xborder-stranger-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			waitOrKill(p, 15*time.Second)
		}
		os.RemoveAll(work)
	}()
	if err := bench(ctx, o, work, &procs); err != nil {
		fmt.Fprintf(os.Stderr, "\nbench: FAILED: %v\n", err)
		return 1
	}
	return 0
}

// node is one xborder process of the bench.
type node struct {
	name, dir, api string
	cmd            *exec.Cmd
}

func bench(ctx context.Context, o options, work string, procs *[]*exec.Cmd) error {
	bin := o.bin
	if bin == "" {
		root, err := moduleRoot(ctx)
		if err != nil {
			return err
		}
		bin = filepath.Join(work, "xborder")
		fmt.Println("building ./cmd/xborder (CGO_ENABLED=0, -trimpath)")
		if _, err := runCmd(ctx, root, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-o", bin, "./cmd/xborder"); err != nil {
			return err
		}
	} else if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	fmt.Printf("stranger benchmark: %d members, windows of %v after %v of settling\n", o.members, o.window, o.settle)
	fmt.Printf("machine: %s/%s, %d CPUs, %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())

	var members []*node
	var dirs []string
	for i := range o.members {
		n, err := initNode(ctx, bin, work, fmt.Sprintf("member-%d", i+1))
		if err != nil {
			return err
		}
		members, dirs = append(members, n), append(dirs, n.dir)
	}
	gen := filepath.Join(work, "federation.json")
	if _, err := runCmd(ctx, "", nil, bin, append([]string{"genesis", "--federation", "bench", "--out", gen}, dirs...)...); err != nil {
		return err
	}
	for _, n := range members {
		if err := start(ctx, bin, n, gen, procs); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, "every member sees the others", func() bool {
		for _, n := range members {
			if v, _ := metric(n, "xborder_peers_connected", ""); v != float64(o.members-1) {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	if err := sleep(ctx, o.settle); err != nil {
		return err
	}

	fmt.Printf("measuring the idle federation for %v\n", o.window)
	idle, err := cpuShares(ctx, members, o.window)
	if err != nil {
		return err
	}

	stranger, err := initNode(ctx, bin, work, "xx-stranger")
	if err != nil {
		return err
	}
	sgen := filepath.Join(work, "intruders.json")
	if _, err := runCmd(ctx, "", nil, bin, append([]string{"genesis", "--federation", "intruders", "--out", sgen, stranger.dir}, dirs...)...); err != nil {
		return err
	}
	before := rejections(members)
	if err := start(ctx, bin, stranger, sgen, procs); err != nil {
		return err
	}
	fmt.Printf("measuring the members for %v from the stranger's start\n\n", o.window)
	with, err := cpuShares(ctx, members, o.window)
	if err != nil {
		return err
	}
	after := rejections(members)

	fmt.Printf("%-10s %12s %15s %12s %7s %13s %13s\n", "member", "idle % core", "stranger % core", "added", "ratio", "handshakes/s", "dropped/s")
	worst := 0.0
	for i, n := range members {
		added := with[i] - idle[i]
		worst = max(worst, added)
		secured := (after[i].secured - before[i].secured) / o.window.Seconds()
		dropped := (after[i].accept - before[i].accept) / o.window.Seconds()
		fmt.Printf("%-10s %12.2f %15.2f %12.2f %6.2f× %13.1f %13.1f\n", n.name, idle[i], with[i], added, ratio(with[i], idle[i]), secured, dropped)
	}
	verdict := "pass"
	if worst >= goalAddedCPU {
		verdict = "over"
	}
	fmt.Printf("\nworst added CPU per member: %.2f %% of a core (goal < %.0f %%): %s\n", worst, goalAddedCPU, verdict)
	return nil
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// initNode creates a data dir with `xborder init` on free loopback ports.
func initNode(ctx context.Context, bin, work, name string) (*node, error) {
	p2p, err := loopback.FreePort(true)
	if err != nil {
		return nil, err
	}
	apiPort, err := loopback.FreePort(false)
	if err != nil {
		return nil, err
	}
	n := &node{name: name, dir: filepath.Join(work, name), api: fmt.Sprintf("127.0.0.1:%d", apiPort)}
	listen := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d,/ip4/127.0.0.1/udp/%d/quic-v1", p2p, p2p)
	_, err = runCmd(ctx, "", nil, bin, "--data", n.dir, "init", "--name", name, "--country", "FR", "--org", "Bench",
		"--listen", listen, "--api", n.api)
	return n, err
}

// start runs a node and waits for /readyz.
func start(ctx context.Context, bin string, n *node, gen string, procs *[]*exec.Cmd) error {
	n.cmd = exec.Command(bin, "--data", n.dir, "run", "--genesis", gen, "--discovery-mdns", "false", "--log-level", "error")
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	*procs = append(*procs, n.cmd)
	client := &http.Client{Timeout: time.Second}
	return waitFor(ctx, n.name+" answers /readyz", func() bool {
		resp, err := client.Get("http://" + n.api + "/readyz")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// cpuShares measures each node's CPU over the window, in % of one core.
func cpuShares(ctx context.Context, nodes []*node, window time.Duration) ([]float64, error) {
	start := make([]float64, len(nodes))
	for i, n := range nodes {
		t, err := cpuSeconds(n.cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		start[i] = t
	}
	began := time.Now()
	if err := sleep(ctx, window); err != nil {
		return nil, err
	}
	elapsed := time.Since(began).Seconds()
	out := make([]float64, len(nodes))
	for i, n := range nodes {
		t, err := cpuSeconds(n.cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		out[i] = 100 * (t - start[i]) / elapsed
	}
	return out, nil
}

// cpuSeconds is a process's user and system CPU time so far.
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis (field 3 is the state).
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return (utime + stime) / clockTicks, nil
}

type refusals struct{ secured, accept float64 }

func rejections(nodes []*node) []refusals {
	out := make([]refusals, len(nodes))
	for i, n := range nodes {
		out[i].secured, _ = metric(n, "xborder_gater_rejections_total", `stage="secured"`)
		out[i].accept, _ = metric(n, "xborder_gater_rejections_total", `stage="accept"`)
	}
	return out
}

// metric reads one sample of a node's /metrics: the series name with the
// given label (or none).
func metric(n *node, name, label string) (float64, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + n.api + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		series, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(series, name) {
			continue
		}
		rest := series[len(name):]
		if (label == "" && rest == "") || (label != "" && strings.Contains(rest, label)) {
			return strconv.ParseFloat(value, 64)
		}
	}
	return 0, sc.Err()
}

func waitFor(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(readyTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %s", readyTimeout, what)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func waitOrKill(c *exec.Cmd, within time.Duration) {
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// runCmd runs a command to completion in dir and returns its stdout; the
// error carries its stderr.
func runCmd(ctx context.Context, dir string, env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// moduleRoot finds the directory of go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := runCmd(ctx, "", nil, "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the xborder module: run from the repository (go run ./bench/stranger)")
	}
	return filepath.Dir(gomod), nil
}
