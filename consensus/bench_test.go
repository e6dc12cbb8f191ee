package consensus

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/testkit"
)

// BenchmarkRegistry measures five voters in-process on loopback, fsync on:
// commits per second with 1 client and with 64 concurrent clients (the
// ratio shows what coalescing buys), commit latency, and the failover time
// from the leader's stop to the next committed write. Run with
// -benchtime=1x; each run makes its own fixed number of commits.
func BenchmarkRegistry(b *testing.B) {
	for b.Loop() {
		c := newBenchCluster(b)
		leader := c.waitLeaderB(b)
		var follower *tnode
		for _, tn := range c.nodes {
			if tn != leader {
				follower = tn
				break
			}
		}
		partner := c.nodes[(indexOfNode(c, follower)+1)%5].name
		var seq atomic.Int64
		write := func(from *tnode) (time.Duration, error) {
			id := fmt.Sprintf("b-%d", seq.Add(1))
			t0 := time.Now()
			_, err := from.reg.Submit(context.Background(), OpProjectPropose, project(id, from.name, partner))
			return time.Since(t0), err
		}
		run := func(clients, total int) (perSec float64, lat []time.Duration) {
			var mu sync.Mutex
			var wg sync.WaitGroup
			var next atomic.Int64
			t0 := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(total) {
						d, err := write(follower)
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			slices.Sort(lat)
			return float64(total) / time.Since(t0).Seconds(), lat
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		one, lat1 := run(1, 200)
		cpu0, wall0, idx0 := processCPU(), time.Now(), leader.reg.raft.LastIndex()
		many, lat64 := run(64, 4000)
		cpu, wall, entries := processCPU()-cpu0, time.Since(wall0), leader.reg.raft.LastIndex()-idx0
		// The CPU the whole federation spent per commit (five replicas,
		// the clients, the network) and the share of the machine it got:
		// on a busy machine the 64-client figure is bounded by that share.
		b.ReportMetric(float64(cpu.Microseconds())/4000, "cpu_us/commit_64clients")
		b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu_cores_64clients")
		// How many commands the leader coalesced into one log entry.
		b.ReportMetric(4000/float64(max(entries, 1)), "cmds/entry_64clients")
		b.ReportMetric(one, "commits/s_1client")
		b.ReportMetric(many, "commits/s_64clients")
		b.ReportMetric(many/one, "64/1_ratio")
		b.ReportMetric(ms(lat1[len(lat1)/2]), "p50_ms_1client")
		b.ReportMetric(ms(lat1[len(lat1)*99/100]), "p99_ms_1client")
		b.ReportMetric(ms(lat64[len(lat64)/2]), "p50_ms_64clients")
		b.ReportMetric(ms(lat64[len(lat64)*99/100]), "p99_ms_64clients")

		// Failover: stop the leader, then keep writing through a survivor
		// until a write commits.
		c.stop(leader)
		t0 := time.Now()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := follower.reg.Submit(ctx, OpProjectPropose, project(fmt.Sprintf("f-%d", seq.Add(1)), follower.name, partner))
			cancel()
			if err == nil {
				break
			}
			if time.Since(t0) > 30*time.Second {
				b.Fatal("no write committed within 30s of the leader's stop")
			}
		}
		b.ReportMetric(ms(time.Since(t0)), "failover_ms")
		c.closeAll()
	}
}

// processCPU is the CPU time the process used so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func newBenchCluster(b *testing.B) *cluster {
	c := newCluster(b, 5, 5)
	for _, tn := range c.nodes {
		r, err := Open(DefaultConfig(tn.dir), Deps{Host: tn.host, Key: tn.key, Genesis: c.genesis})
		if err != nil {
			b.Fatal(err)
		}
		tn.reg = r
	}
	return c
}

func (c *cluster) waitLeaderB(b *testing.B) *tnode {
	var l *tnode
	testkit.Eventually(b, 30*time.Second, "a leader is elected", func() bool { l = c.leader(); return l != nil })
	return l
}

// BenchmarkFSMApply measures one replica applying entries of 64 coalesced
// project.propose commands: decoding, signature checks, validation and the
// bbolt transaction, per command. Every replica does this for every
// command, so it bounds the replicated throughput on shared cores.
func BenchmarkFSMApply(b *testing.B) {
	type signer struct {
		m   Member
		key ed25519.PrivateKey
		id  peer.ID
	}
	var signers []signer
	var genesis []Member
	for i := range 5 {
		k, id := newKey(b)
		m := Member{Name: fmt.Sprintf("m%d", i), Country: testCountries[i], Org: "Org", PeerID: id.String()}
		signers = append(signers, signer{m, k, id})
		genesis = append(genesis, m)
	}
	f, err := openFSM(filepath.Join(b.TempDir(), "registry.db"), genesis)
	if err != nil {
		b.Fatal(err)
	}
	defer f.close()
	const perEntry = 64
	ts := time.Now().UnixMilli()
	var index uint64
	n := 0
	next := func() *raft.Log {
		cmds := make([]string, perEntry)
		for i := range cmds {
			s := signers[n%len(signers)]
			n++
			signed, err := SignCommand(s.key, s.id, OpProjectPropose, project(fmt.Sprintf("p-%d", n), s.m.Name, signers[n%len(signers)].m.Name), ts)
			if err != nil {
				b.Fatal(err)
			}
			cmds[i] = string(signed)
		}
		data, _ := json.Marshal(entry{Cmds: cmds})
		index++
		return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
	}
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		l := next()
		b.StartTimer()
		cpu0 := processCPU()
		res := f.Apply(l).([]error)
		cpu += processCPU() - cpu0
		for _, err := range res {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perEntry), "us/command")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*perEntry), "cpu_us/command")
}
