//go:build testnet

package testnet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// nextImage is the image a rolling upgrade moves the nodes to: the same
// source, built with another release label.
const nextImage = "xborder-testnet:next"

// buildNext builds the xborder binary labelled version and the image
// nextImage around it, from the build context testnet.sh prepared (the
// tlscopy binary, the empty /data).
func buildNext(t *testing.T, version string) {
	t.Helper()
	dir := filepath.Join(stateDir, "next-image")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	tlscopy, err := os.ReadFile(filepath.Join(stateDir, "image", "tlscopy"))
	if err != nil {
		t.Fatalf("no image build context (%v): run `make testnet` first", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tlscopy"), tlscopy, 0o755); err != nil {
		t.Fatal(err)
	}
	gobin := "go"
	if g := os.Getenv("GO"); g != "" {
		gobin = g
	}
	build := exec.Command(gobin, "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/xborder/xborder/node.Version="+version,
		"-o", filepath.Join(dir, "xborder"), "../cmd/xborder")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of release %s: %v: %s", version, err, out)
	}
	docker(t, "build", "-q", "-t", nextImage, "-f", "Dockerfile", dir)
}

// compose runs docker-compose (or `docker compose`) on the testnet's
// project with extra environment, as testnet.sh does.
func compose(t *testing.T, env []string, args ...string) {
	t.Helper()
	base := []string{"-p", "xborder-testnet", "-f", "docker-compose.yml"}
	var cmd *exec.Cmd
	if _, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.Command("docker-compose", append(base, args...)...)
	} else {
		cmd = exec.Command("docker", append(append([]string{"compose"}, base...), args...)...)
	}
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compose %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

type versioned struct {
	Version        string      `json:"version"`
	Ready          bool        `json:"ready"`
	PeersConnected int         `json:"peers_connected"`
	Raft           *raftStatus `json:"raft"`
}

// publisher publishes small open datasets from the given nodes in turn
// and records every publication a node acknowledged.
type publisher struct {
	mu    sync.Mutex
	acked map[[2]string]string // owner, ID -> sha256
	stop  chan struct{}
	done  sync.WaitGroup
}

func startPublisher(from []*tnode, prefix string) *publisher {
	p := &publisher{acked: map[[2]string]string{}, stop: make(chan struct{})}
	p.done.Go(func() {
		for k := 0; ; k++ {
			select {
			case <-p.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			n := from[k%len(from)]
			pub := publication{ID: fmt.Sprintf("%s-%d", prefix, k), Title: "Rolling upgrade sample", Description: "Published during a rolling upgrade",
				Theme: "industry", Classification: "open", License: "CC-BY-4.0"}
			content := rows(pub.ID, 100)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			e, err := n.publish(ctx, pub, bytes.NewReader(content))
			cancel()
			if err == nil && e.SHA256 == sha(content) {
				p.mu.Lock()
				p.acked[[2]string{n.Name, pub.ID}] = e.SHA256
				p.mu.Unlock()
			}
		}
	})
	return p
}

func (p *publisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

func (p *publisher) halt() map[[2]string]string {
	close(p.stop)
	p.done.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked
}

// fetchFrom has a researcher at the node `at` fetch owner's dataset id
// and checks that it arrives whole.
func fetchFrom(t *testing.T, at, owner *tnode, id, sum string) {
	t.Helper()
	r := at.as(researcherToken(t, at.Name, "bob@kit.edu", "KIT"))
	var j job
	testkit.EventuallyNil(t, converge, at.Name+" starts fetching "+owner.Name+"/"+id, func() error {
		return r.post(context.Background(), "/v1/fetch", accessRequest{Owner: owner.Name, ID: id, Purpose: "research"}, &j)
	})
	j = r.waitJob(t, j.ID, 2*time.Minute)
	if j.State != "done" || j.SHA256 != sum {
		t.Fatalf("%s fetching %s/%s: %+v; want done, sha256 %s", at.Name, owner.Name, id, j, sum)
	}
}

// Scenario 11: a rolling upgrade. Under traffic (registry writes from two
// members, catalogue publications, a transfer across releases), each
// container in turn is recreated on an image of the next release with its
// volume kept, and the next waits until it is back, meshed and following a
// leader. Then every acknowledged write is applied on every member, every
// acknowledged publication is in every catalogue, every audit trail
// verifies and every node runs the next release.
func TestScenario11RollingUpgrade(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	start := time.Now()
	run := runID()
	version := "next-" + run
	buildNext(t, version)
	t.Logf("built %s (release %s) in %s", nextImage, version, time.Since(start).Round(time.Second))

	all := nodes(t)
	for _, n := range all {
		var s versioned
		if err := n.get(ctx, "/v1/status", &s); err != nil {
			t.Fatal(err)
		}
		if s.Version == version {
			t.Fatalf("%s already runs %s", n.Name, version)
		}
	}
	// A dataset to transfer across releases, published before the roll.
	owner := all[0]
	bulkID := "s11-bulk-" + run
	content := rows(bulkID, 20000)
	if _, err := owner.publish(ctx, publication{ID: bulkID, Title: "Cross-border commuters", Description: "Scenario 11 transfer",
		Theme: "industry", Classification: "open", License: "CC-BY-4.0"}, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}

	w := startWriter(all[1:3], "s11-"+run)
	p := startPublisher([]*tnode{all[3], all[4], all[2]}, "s11-pub-"+run)
	stopped := false
	halt := func() (map[string]time.Time, map[[2]string]string) {
		stopped = true
		return w.halt(), p.halt()
	}
	t.Cleanup(func() {
		if !stopped {
			halt()
		}
	})
	testkit.EventuallyNil(t, converge, "traffic flows before the roll", func() error {
		if n, _ := w.ackedSince(time.Time{}); n < 5 || p.count() < 2 {
			return fmt.Errorf("%d writes, %d publications acknowledged", n, p.count())
		}
		return nil
	})

	rollStart := time.Now()
	for i, n := range all {
		t0 := time.Now()
		compose(t, []string{"XBORDER_IMAGE=" + nextImage}, "up", "-d", "--no-deps", n.Name)
		if os.Getenv("NETEM") == "1" {
			// The emulated latency lives in the old container's network
			// namespace: the new one gets it again.
			if out, err := exec.Command("./netem.sh", "on", n.Name).CombinedOutput(); err != nil {
				t.Fatalf("netem.sh on %s: %v: %s", n.Name, err, out)
			}
		}
		testkit.EventuallyNil(t, settle, n.Name+" back on "+version+", meshed, following a leader", func() error {
			var s versioned
			if err := n.get(ctx, "/v1/status", &s); err != nil {
				return err
			}
			if s.Version != version || !s.Ready || s.PeersConnected != len(all)-1 || s.Raft == nil || s.Raft.Leader == "" {
				return fmt.Errorf("version %s, ready %v, %d peers, raft %+v", s.Version, s.Ready, s.PeersConnected, s.Raft)
			}
			return nil
		})
		acked, _ := w.ackedSince(t0)
		t.Logf("%-14s on %s after %s (%d writes acknowledged meanwhile)", n.Name, version, time.Since(t0).Round(100*time.Millisecond), acked)
		if i == 0 {
			// Two releases in one federation: a node of the previous
			// release fetches from one of the next, and verifies its
			// audit trail over libp2p.
			fetchFrom(t, all[len(all)-1], owner, bulkID, sha(content))
			var rep auditReport
			if err := all[1].get(ctx, "/v1/audit/verify?peer="+n.Name, &rep); err != nil || !rep.OK {
				t.Fatalf("%s (previous release) verifies %s (next): %+v, %v", all[1].Name, n.Name, rep, err)
			}
		}
	}
	roll := time.Since(rollStart)
	if n, _ := w.ackedSince(rollStart); n == 0 {
		t.Fatal("no registry write was acknowledged during the roll")
	}
	writes, pubs := halt()
	t.Logf("rolled five nodes in %s: %d registry writes and %d publications acknowledged in all", roll.Round(time.Second), len(writes), len(pubs))

	// Every acknowledged write is applied on every member, and the
	// members agree on the registry's projects.
	var ref []string
	testkit.EventuallyNil(t, settle, "every member holds every acknowledged write, and the same projects", func() error {
		var sets [][]string
		for _, n := range all {
			ids, err := n.projects(ctx)
			if err != nil {
				return err
			}
			for id := range writes {
				if !ids[id] {
					return fmt.Errorf("%s misses acknowledged write %s", n.Name, id)
				}
			}
			var l []string
			for id := range ids {
				l = append(l, id)
			}
			slices.Sort(l)
			sets = append(sets, l)
		}
		for i := range sets[1:] {
			if !slices.Equal(sets[0], sets[i+1]) {
				return fmt.Errorf("%s holds %d projects, %s %d", all[0].Name, len(sets[0]), all[i+1].Name, len(sets[i+1]))
			}
		}
		ref = sets[0]
		return nil
	})
	// Every acknowledged publication is in every catalogue.
	testkit.EventuallyNil(t, converge, "every catalogue lists every acknowledged publication", func() error {
		for _, n := range all {
			c, err := n.catalogue(ctx, "")
			if err != nil {
				return err
			}
			for k := range pubs {
				if !c.has(k[0], k[1]) {
					return fmt.Errorf("%s misses %s/%s", n.Name, k[0], k[1])
				}
			}
			if !c.has(owner.Name, bulkID) {
				return fmt.Errorf("%s misses %s/%s", n.Name, owner.Name, bulkID)
			}
		}
		return nil
	})
	// The registry still commits, the trails verify, and a transfer works
	// between nodes of the next release.
	if _, err := all[0].propose(ctx, project{ID: "s11-after-" + run, Title: "After the upgrade", Themes: []string{"industry"},
		Partners: []string{all[0].Name, all[1].Name}}, converge); err != nil {
		t.Fatalf("a write after the upgrade: %v", err)
	}
	for _, n := range all {
		var rep auditReport
		if err := n.get(ctx, "/v1/audit/verify", &rep); err != nil || !rep.OK || rep.Records == 0 {
			t.Errorf("%s: audit %+v, %v", n.Name, rep, err)
		}
	}
	fetchFrom(t, all[2], owner, bulkID, sha(content))
	healthy(t, settle)
	t.Logf("upgrade checked: %d projects on every member, %d publications everywhere; scenario %s",
		len(ref), len(pubs), time.Since(start).Round(time.Second))
}
