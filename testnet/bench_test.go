//go:build testnet

package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// The testnet benchmarks measure the containers as they run; each reports
// its figures with b.ReportMetric and in the log (go test -v):
//
//	make testnet-bench
//	go test -tags testnet -run '^$' -bench Failover -benchtime 1x -v ./testnet/

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkCatalogueConvergence publishes entries in turn on each node and
// times until the four other containers list it.
func BenchmarkCatalogueConvergence(b *testing.B) {
	healthy(b, settle)
	ctx := context.Background()
	all := nodes(b)
	const rounds = 50
	run := runID()
	var lat []time.Duration
	for i := range rounds {
		owner := all[i%len(all)]
		p := publication{ID: fmt.Sprintf("bench-cat-%s-%d", run, i), Title: "Convergence probe", Description: "benchmark",
			Theme: "industry", Classification: "open", License: "CC-BY-4.0"}
		start := time.Now()
		if _, err := owner.publish(ctx, p, bytes.NewReader(rows(p.ID, 10))); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var missed []string
		last := start
		for _, n := range all {
			if n == owner {
				continue
			}
			wg.Go(func() {
				deadline := time.Now().Add(converge)
				for time.Now().Before(deadline) {
					c, err := n.catalogue(ctx, "?owner="+owner.Name)
					if err == nil && c.has(owner.Name, p.ID) {
						mu.Lock()
						if now := time.Now(); now.After(last) {
							last = now
						}
						mu.Unlock()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				mu.Lock()
				missed = append(missed, n.Name+" never listed "+p.ID)
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(missed) > 0 {
			b.Fatal(missed)
		}
		lat = append(lat, last.Sub(start))
	}
	b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.Logf("catalogue convergence, publish on one node until listed by the other four, %d publications: p50 %v, p99 %v, max %v",
		rounds, percentile(lat, 0.5), percentile(lat, 0.99), slices.Max(lat))
}

// BenchmarkRegistryCommit times POST /v1/projects until the commit is
// acknowledged, on the leader and on a follower (forwarded to the leader).
func BenchmarkRegistryCommit(b *testing.B) {
	leader := healthy(b, settle)
	ctx := context.Background()
	var follower *tnode
	for _, n := range nodes(b) {
		if n.Name != leader.Name {
			follower = n
			break
		}
	}
	const writes = 100
	run := runID()
	for _, from := range []*tnode{leader, follower} {
		partner := "fr-grandest"
		if from.Name == partner {
			partner = "de-bw"
		}
		var lat []time.Duration
		for i := range writes {
			p := project{ID: fmt.Sprintf("bench-reg-%s-%s-%d", run, from.Name, i), Title: "Commit probe",
				Themes: []string{"industry"}, Partners: []string{from.Name, partner}}
			start := time.Now()
			if err := from.post(ctx, "/v1/projects", p, nil); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		role := "leader"
		if from != leader {
			role = "follower"
		}
		b.ReportMetric(ms(percentile(lat, 0.5)), role+"-p50-ms")
		b.ReportMetric(ms(percentile(lat, 0.99)), role+"-p99-ms")
		b.Logf("registry commit via the %s (%s), %d sequential writes: p50 %v, p99 %v",
			role, from.Name, writes, percentile(lat, 0.5), percentile(lat, 0.99))
	}
}

// BenchmarkFailover kills the raft leader and times from the kill until
// the next write submitted after it is committed; writers on two
// surviving nodes submit a new write every 20 ms, each without waiting for
// the previous one.
func BenchmarkFailover(b *testing.B) {
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("TESTNET_FAILOVER_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	b.Cleanup(func() { restore(b) })
	run := runID()
	var times []time.Duration
	for r := range rounds {
		leader := healthy(b, settle)
		var writers []*tnode
		for _, n := range nodes(b) {
			if n.Name != leader.Name && len(writers) < 2 {
				writers = append(writers, n)
			}
		}
		var mu sync.Mutex
		var first time.Time
		var killed time.Time
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for wi, w := range writers {
			partner := "fr-grandest"
			if w.Name == partner {
				partner = "de-bw"
			}
			wg.Go(func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					mu.Lock()
					after := !killed.IsZero()
					mu.Unlock()
					if !after {
						continue
					}
					wg.Go(func() {
						p := project{ID: fmt.Sprintf("bench-fo-%s-%d-%d-%d", run, r, wi, k), Title: "Failover probe",
							Themes: []string{"industry"}, Partners: []string{w.Name, partner}}
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						if err := w.post(ctx, "/v1/projects", p, nil); err == nil {
							mu.Lock()
							if first.IsZero() {
								first = time.Now()
							}
							mu.Unlock()
						}
					})
				}
			})
		}
		docker(b, "kill", leader.Name)
		mu.Lock()
		killed = time.Now() // writes are submitted from here on
		mu.Unlock()
		testkit.EventuallyNil(b, converge, "a write committed after the kill", func() error {
			mu.Lock()
			defer mu.Unlock()
			if first.IsZero() {
				return fmt.Errorf("none yet")
			}
			return nil
		})
		close(stop)
		wg.Wait()
		d := first.Sub(killed)
		times = append(times, d)
		b.Logf("round %d: killed leader %s, next write committed after %v", r+1, leader.Name, d.Round(time.Millisecond))
		docker(b, "start", leader.Name)
	}
	healthy(b, settle)
	b.ReportMetric(ms(percentile(times, 0.5)), "p50-ms")
	b.ReportMetric(ms(slices.Max(times)), "max-ms")
	b.Logf("leader failover, kill to next committed write, %d rounds: median %v, max %v (netem: %s)",
		rounds, percentile(times, 0.5), slices.Max(times), netemState())
}

func netemState() string {
	if os.Getenv("NETEM") == "1" {
		return "on"
	}
	return "off"
}

// BenchmarkTransfer fetches a large open dataset DE←FR over xborder and
// copies the same blob between the same two containers over one plain TLS
// 1.3 connection (tlscopy, written to disk and hashed as xborder does),
// alternating, twice each. TESTNET_TRANSFER_MIB sets the size (default
// 1024, the 1 GiB the goal names).
func BenchmarkTransfer(b *testing.B) {
	healthy(b, settle)
	ctx := context.Background()
	fr, de := byName(b, "fr-grandest"), byName(b, "de-bw")
	mib := 1024
	if v, err := strconv.Atoi(os.Getenv("TESTNET_TRANSFER_MIB")); err == nil && v > 0 {
		mib = v
	}
	size := int64(mib) << 20
	run := runID()
	src := newBulk(size, uint64(time.Now().UnixNano()))
	p := publication{ID: "bench-xfer-" + run, Title: "Transfer benchmark", Description: "bulk",
		Theme: "industry", Classification: "open", License: "CC-BY-4.0"}
	e, err := fr.publish(ctx, p, src)
	if err != nil {
		b.Fatal(err)
	}
	testkit.EventuallyNil(b, converge, "de-bw sees "+p.ID, func() error {
		c, err := de.catalogue(ctx, "?owner=fr-grandest")
		if err != nil {
			return err
		}
		if !c.has("fr-grandest", p.ID) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	blob := "/data/blobs/sha256/" + e.SHA256[:2] + "/" + e.SHA256
	researcher := de.as(researcherToken(b, "de-bw", "bench@kit.edu", "KIT"))
	var xb, tl []float64 // MiB/s
	for round := range 2 {
		// Plain TLS between the same containers.
		docker(b, "exec", "-d", fr.Name, "/tlscopy", "serve", "-listen", ":7450", "-file", blob)
		out := docker(b, "exec", de.Name, "/tlscopy", "recv", "-addr", fr.IP+":7450", "-out", fmt.Sprintf("/data/tlscopy-%d.bin", round))
		var r struct {
			Bytes   int64   `json:"bytes"`
			Seconds float64 `json:"seconds"`
			MBps    float64 `json:"mb_per_s"`
			SHA256  string  `json:"sha256"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			b.Fatalf("tlscopy: %v: %s", err, out)
		}
		if r.Bytes != size || r.SHA256 != e.SHA256 {
			b.Fatalf("tlscopy moved %d bytes, sha256 %s", r.Bytes, r.SHA256)
		}
		tl = append(tl, r.MBps)

		// xborder: request, grant, transfer, verify.
		var j job
		if err := researcher.post(ctx, "/v1/fetch", accessRequest{Owner: fr.Name, ID: p.ID, Purpose: "research"}, &j); err != nil {
			b.Fatal(err)
		}
		j = researcher.waitJob(b, j.ID, 10*time.Minute)
		if j.State != "done" || j.SHA256 != e.SHA256 {
			b.Fatalf("transfer %+v", j)
		}
		secs := j.FinishedAt.Sub(j.StartedAt).Seconds()
		xb = append(xb, float64(size)/(1<<20)/secs)
		b.Logf("round %d: tlscopy %.0f MiB/s, xborder %.0f MiB/s (%d attempts)", round+1, r.MBps, xb[len(xb)-1], j.Attempts)
	}
	bx, bt := slices.Max(xb), slices.Max(tl)
	b.ReportMetric(bx, "xborder-MiB/s")
	b.ReportMetric(bt, "tls-MiB/s")
	b.ReportMetric(100*bx/bt, "%-of-tls")
	b.Logf("transfer DE←FR %d MiB: xborder best %.0f MiB/s (%v), plain TLS best %.0f MiB/s (%v): %.0f%%", mib, bx, xb, bt, tl, 100*bx/bt)
}
