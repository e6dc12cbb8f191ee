//go:build linux || darwin

package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
)

// benchBytes is the dataset size (XBORDER_BENCH_BYTES overrides 1 GiB).
func benchBytes() int64 {
	if v, err := strconv.ParseInt(os.Getenv("XBORDER_BENCH_BYTES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1 << 30
}

// benchRounds is the number of node transfers (XBORDER_BENCH_ROUNDS
// overrides 3); the baseline runs once more than the node.
func benchRounds() int {
	if v, err := strconv.Atoi(os.Getenv("XBORDER_BENCH_ROUNDS")); err == nil && v > 0 {
		return v
	}
	return 3
}

// BenchmarkTransfer moves one dataset between two nodes on loopback
// (request, grant, transfer, SHA-256 check, file written and synced to
// disk) and, in the same run, the same bytes over a plain crypto/tls TCP
// connection, hashed, written and synced on receipt. Run with
// -benchtime=1x.
//
// Both sides read the owner's blob (pre-read, so from the page cache) and
// write into the requester's data dir, on the same filesystem. The runs
// alternate, baseline first and last (B N B N ... B); each node run is
// compared with the mean of the baseline runs just before and after it,
// so that neither side profits from running later. Every run starts with
// its output file deleted and the filesystem synced.
func BenchmarkTransfer(b *testing.B) {
	size, rounds := benchBytes(), benchRounds()
	ctx := context.Background()

	f := newTestFed(b, "bench", fiveCountries[:2], nil)
	fr, de := f.start(0), f.start(1)
	testkit.Eventually(b, 30*time.Second, "mesh", fullMesh([]*Node{fr, de}))
	// The content is generated, not read from a test file: one GiB less
	// written to disk before the measurement.
	content := io.LimitReader(mrand.NewChaCha8([32]byte{'x', 'b'}), size)
	e, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: "bench", Title: "Bench", Theme: "industry", Classification: "open"}, content)
	must(b, err)
	blobs, err := exchange.OpenBlobs(fr.dataDir)
	must(b, err)
	blob := blobs.Path(e.SHA256)
	preRead(b, blob)
	baseDir := filepath.Join(de.dataDir, "bench-baseline")
	must(b, os.MkdirAll(baseDir, 0o700))
	alice := api.User{Subject: "alice", Role: api.RoleResearcher}
	testkit.Eventually(b, 30*time.Second, "the registry has a leader", func() bool { st := de.Status(ctx); return st.Raft != nil && st.Raft.Leader != "" })
	fmt.Printf("data dirs %s, %s; blob %s; %d bytes, %d rounds\n", fr.dataDir, de.dataDir, blob, size, rounds)

	mbps := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	// CPU seconds of the whole process per GiB moved: less sensitive than
	// the wall time to what else runs on the machine.
	cpuPerGiB := func(c0 time.Duration) float64 { return (cpuTime() - c0).Seconds() / (float64(size) / (1 << 30)) }
	baseline := func() (float64, float64) {
		quiesce()
		c0 := cpuTime()
		d, sum := tlsCopy(b, blob, filepath.Join(baseDir, "received.bin"))
		cpu := cpuPerGiB(c0)
		if sum != e.SHA256 {
			b.Fatal("baseline digest mismatch")
		}
		must(b, os.Remove(filepath.Join(baseDir, "received.bin")))
		return mbps(d), cpu
	}
	node := func() (float64, float64) {
		quiesce()
		c0 := cpuTime()
		t0 := time.Now()
		job, err := de.exchange.StartFetch(ctx, alice.Caller(), "fr-grandest", "bench", "industrial-rd", "")
		must(b, err)
		for job.State == exchange.JobRunning {
			time.Sleep(5 * time.Millisecond)
			job, _ = de.exchange.Transfer(ctx, operator.Caller(), job.ID)
		}
		if job.State != exchange.JobDone || job.SHA256 != e.SHA256 {
			b.Fatalf("transfer %+v", job)
		}
		// FinishedAt is set once the file is synced, checked and renamed.
		d := job.FinishedAt.Sub(t0)
		cpu := cpuPerGiB(c0)
		must(b, os.Remove(job.Path))
		return mbps(d), cpu
	}

	for b.Loop() {
		var nodes, tlss, ratios, nodeCPU, tlsCPU []float64
		add := func(xs, cs *[]float64, x, c float64) { *xs, *cs = append(*xs, x), append(*cs, c) }
		x, c := baseline()
		add(&tlss, &tlsCPU, x, c)
		for i := range rounds {
			x, c = node()
			add(&nodes, &nodeCPU, x, c)
			x, c = baseline()
			add(&tlss, &tlsCPU, x, c)
			ratio := nodes[i] / ((tlss[i] + tlss[i+1]) / 2) * 100
			ratios = append(ratios, ratio)
			// Printed rather than logged: the testing package keeps only
			// the first lines of a benchmark's log, and the nodes log much.
			fmt.Printf("round %d: tls %.0f MB/s, node %.0f MB/s (%.2f CPU s/GiB), tls %.0f MB/s: node %.0f %% of the mean baseline\n",
				i+1, tlss[i], nodes[i], nodeCPU[i], tlss[i+1], ratio)
		}
		fmt.Printf("baseline CPU s/GiB: %.2f\n", tlsCPU)
		b.ReportMetric(median(nodes), "node_MB/s")
		b.ReportMetric(median(tlss), "tls_MB/s")
		b.ReportMetric(median(ratios), "node_%_of_tls")
		b.ReportMetric(slices.Min(ratios), "min_node_%_of_tls")
		b.ReportMetric(slices.Max(ratios), "max_node_%_of_tls")
		b.ReportMetric(slices.Max(nodes)/slices.Max(tlss)*100, "best_node_%_of_best_tls")
		b.ReportMetric(median(nodeCPU), "node_cpu_s/GiB")
		b.ReportMetric(median(tlsCPU), "tls_cpu_s/GiB")
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// preRead reads a file once so that both sides serve it from the page
// cache.
func preRead(b *testing.B, path string) {
	in, err := os.Open(path)
	must(b, err)
	defer in.Close()
	_, err = io.Copy(io.Discard, in)
	must(b, err)
}

// quiesce flushes what earlier runs left for the disk (dirty pages,
// deletions) so that a run does not pay for its predecessor's writes.
func quiesce() {
	syscall.Sync()
	time.Sleep(200 * time.Millisecond)
}

// tlsCopy serves src over crypto/tls on loopback and receives it into
// dst, hashing, writing and syncing as the node does.
func tlsCopy(b *testing.B, src, dst string) (time.Duration, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"bench"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(b, err)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	must(b, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		in, err := os.Open(src)
		if err != nil {
			return
		}
		defer in.Close()
		_, _ = io.Copy(c, in)
	}()
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	t0 := time.Now()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "bench", MinVersion: tls.VersionTLS13})
	must(b, err)
	defer c.Close()
	out, err := os.Create(dst)
	must(b, err)
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), c); err != nil && !errors.Is(err, io.EOF) {
		b.Fatal(err)
	}
	must(b, out.Sync())
	must(b, out.Close())
	return time.Since(t0), hex.EncodeToString(h.Sum(nil))
}
