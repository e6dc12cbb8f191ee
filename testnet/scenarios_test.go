//go:build testnet

package testnet

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node"
)

// Deadlines are generous: the scenarios run on a loaded 2-core machine.
// Nothing sleeps for a fixed time; every wait polls a condition.
const (
	settle   = 2 * time.Minute
	converge = time.Minute
)

// Scenario 1: five nodes ready, one raft leader, full mesh.
func TestScenario1MeshAndLeader(t *testing.T) {
	leader := healthy(t, settle)
	ctx := context.Background()
	all := nodes(t)
	var term uint64
	for _, n := range all {
		resp, err := http.Get(n.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s /readyz: %d", n.Name, resp.StatusCode)
		}
		if h := docker(t, "inspect", "-f", "{{.State.Health.Status}}", n.Name); h == "unhealthy" {
			t.Errorf("%s: docker health %s", n.Name, h)
		}
		var peers []peer
		if err := n.get(ctx, "/v1/peers", &peers); err != nil {
			t.Fatal(err)
		}
		connected := 0
		for _, p := range peers {
			if !p.Self && p.Connected {
				connected++
			}
		}
		if len(peers) != 5 || connected != 4 {
			t.Errorf("%s lists %d members, %d connected; want 5 and 4", n.Name, len(peers), connected)
		}
		s, err := n.status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Raft.Leader != leader.Name {
			t.Errorf("%s names leader %s, want %s", n.Name, s.Raft.Leader, leader.Name)
		}
		term = max(term, s.Raft.Term)
	}
	t.Logf("five nodes ready, full mesh, leader %s (term %d)", leader.Name, term)
}

// Scenario 2: every country publishes; the catalogues converge, and a
// confidential entry reaches only the partner its owner named.
func TestScenario2CatalogueConvergesWithPolicyFiltering(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	all := nodes(t)
	run := runID()
	var want []entry
	for _, n := range all {
		p := publication{ID: "s2-" + run + "-" + strings.ToLower(n.Country), Title: "Open sample of " + n.Name,
			Description: "Scenario 2 sample", Theme: "bioeconomy", Classification: "open", License: "CC-BY-4.0"}
		e, err := n.publish(ctx, p, bytes.NewReader(rows(p.ID, 200)))
		if err != nil {
			t.Fatalf("%s publishes %s: %v", n.Name, p.ID, err)
		}
		want = append(want, e)
	}
	fr := byName(t, "fr-grandest")
	secret := publication{ID: "s2-" + run + "-battery", Title: "Battery line telemetry", Description: "Shared with Baden-Württemberg only",
		Theme: "industry", Classification: "confidential", Partners: []string{"de-bw"}, License: "proprietary"}
	if _, err := fr.publish(ctx, secret, bytes.NewReader(rows(secret.ID, 200))); err != nil {
		t.Fatal(err)
	}
	frStatus, err := fr.status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	frVersion := frStatus.Catalogue.Version
	start := time.Now()
	for _, n := range all {
		testkit.EventuallyNil(t, converge, n.Name+" sees the five open entries and has synced fr-grandest's latest version", func() error {
			c, err := n.catalogue(ctx, "")
			if err != nil {
				return err
			}
			for _, e := range want {
				if !c.has(e.Owner, e.ID) {
					return fmt.Errorf("missing %s/%s", e.Owner, e.ID)
				}
			}
			if n.Name == "fr-grandest" {
				return nil
			}
			for _, p := range c.Peers {
				if p.Owner == "fr-grandest" && p.Version >= frVersion {
					return nil
				}
			}
			return fmt.Errorf("fr-grandest's version %d not synced yet", frVersion)
		})
	}
	t.Logf("five catalogues converged %v after the last publication", time.Since(start).Round(time.Millisecond))
	for _, n := range all {
		c, err := n.catalogue(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		visible := c.has("fr-grandest", secret.ID)
		named := n.Name == "fr-grandest" || n.Name == "de-bw"
		if visible != named {
			t.Errorf("%s sees the confidential entry: %v, want %v", n.Name, visible, named)
		}
	}
	// The named partner sees it in detail; a node it was not shared with
	// gets not found.
	if err := byName(t, "de-bw").get(ctx, "/v1/catalogue/fr-grandest/"+secret.ID, nil); err != nil {
		t.Errorf("de-bw reads the confidential entry: %v", err)
	}
	if err := byName(t, "lu-luxembourg").get(ctx, "/v1/catalogue/fr-grandest/"+secret.ID, nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("lu-luxembourg reads the confidential entry: %v, want 404", err)
	}
}

// Scenario 3: a DE researcher asks FR for sensitive health data: denied
// with reasons; a Franco-German project lists the dataset with an ethics
// approval: allowed; the fetch verifies its SHA-256.
func TestScenario3SensitiveHealthDataNeedsAProject(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	fr, de := byName(t, "fr-grandest"), byName(t, "de-bw")
	run := runID()
	content := rows("icu", 5000)
	p := publication{ID: "icu-admissions-" + run, Title: "ICU admissions, Grand Est hospitals",
		Description: "Daily ICU admissions by hospital and age band (synthetic)", Theme: "health",
		Classification: "sensitive", PersonalData: true, License: "CC-BY-NC-4.0", Keywords: []string{"icu"}}
	e, err := fr.publish(ctx, p, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if e.SHA256 != sha(content) {
		t.Fatalf("published sha256 %s, want %s", e.SHA256, sha(content))
	}
	testkit.EventuallyNil(t, converge, "de-bw sees "+p.ID, func() error {
		c, err := de.catalogue(ctx, "?owner=fr-grandest")
		if err != nil {
			return err
		}
		if !c.has("fr-grandest", p.ID) {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	alice := de.as(researcherToken(t, "de-bw", "alice@uni-freiburg.de", "Universität Freiburg"))
	req := accessRequest{Owner: "fr-grandest", ID: p.ID, Purpose: "research"}
	err = alice.post(ctx, "/v1/requests", req, nil)
	ae, ok := err.(*apiErr)
	if !ok || ae.Status != http.StatusForbidden || !ae.Denied || len(ae.Reasons) == 0 {
		t.Fatalf("request without a project: %v; want 403 denied with reasons", err)
	}
	if !slices.Contains(ae.Rules, "sensitive_requires_project") {
		t.Errorf("denied by %v, want sensitive_requires_project", ae.Rules)
	}
	t.Logf("denied: %s %v", strings.Join(ae.Reasons, " / "), ae.Rules)

	proj := project{ID: "fr-de-onc-" + run, Title: "Franco-German oncology imaging", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/" + p.ID}, Ethics: "CPP-EST-2026-114"}
	if _, err := fr.propose(ctx, proj, converge); err != nil {
		t.Fatal(err)
	}
	req.Project = proj.ID
	var ans accessAnswer
	testkit.EventuallyNil(t, converge, "the request within "+proj.ID+" is allowed", func() error {
		return alice.post(ctx, "/v1/requests", req, &ans)
	})
	if !ans.Allow {
		t.Fatalf("answer %+v", ans)
	}
	t.Logf("allowed: %v, obligations %v", ans.Rules, ans.Obligations)

	var j job
	if err := alice.post(ctx, "/v1/fetch", req, &j); err != nil {
		t.Fatal(err)
	}
	j = alice.waitJob(t, j.ID, converge)
	if j.State != "done" || j.SHA256 != sha(content) || j.Received != int64(len(content)) {
		t.Fatalf("transfer %+v; want done with sha256 %s", j, sha(content))
	}
	resp, err := alice.fetchContent(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sha(resp) != e.SHA256 {
		t.Fatalf("fetched content sha256 %s, want %s", sha(resp), e.SHA256)
	}
}

func (n *tnode) fetchContent(ctx context.Context, jobID string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.base+"/v1/transfers/"+jobID+"/content", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := n.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("content: HTTP %d", resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}

// writer proposes projects from the given nodes in a loop and records
// every write the registry acknowledged.
type writer struct {
	mu    sync.Mutex
	acked map[string]time.Time // project ID -> when acknowledged
	stop  chan struct{}
	done  sync.WaitGroup
}

func startWriter(from []*tnode, prefix string) *writer {
	w := &writer{acked: map[string]time.Time{}, stop: make(chan struct{})}
	for i, n := range from {
		partner := "fr-grandest"
		if n.Name == "fr-grandest" {
			partner = "de-bw"
		}
		w.done.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-w.stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d", prefix, i, k)
				p := project{ID: id, Title: "Failover write " + id, Themes: []string{"industry"}, Partners: []string{n.Name, partner}}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := n.post(ctx, "/v1/projects", p, nil)
				cancel()
				if err == nil {
					w.mu.Lock()
					w.acked[id] = time.Now()
					w.mu.Unlock()
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	return w
}

func (w *writer) ackedSince(t0 time.Time) (n int, first time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.acked {
		if at.After(t0) {
			n++
			if first.IsZero() || at.Before(first) {
				first = at
			}
		}
	}
	return n, first
}

func (w *writer) halt() map[string]time.Time {
	close(w.stop)
	w.done.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// Scenario 5: kill the raft leader: a new leader is elected, writes
// continue, no acknowledged write is lost; the killed node restarts and
// catches up.
func TestScenario5LeaderKilled(t *testing.T) {
	leader := healthy(t, settle)
	t.Cleanup(func() { restore(t) })
	ctx := context.Background()
	var others []*tnode
	for _, n := range nodes(t) {
		if n.Name != leader.Name {
			others = append(others, n)
		}
	}
	w := startWriter(others[:2], "s5-"+runID())
	testkit.EventuallyNil(t, converge, "writes acknowledged before the kill", func() error {
		if n, _ := w.ackedSince(time.Time{}); n < 5 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	killed := time.Now()
	docker(t, "kill", leader.Name)
	var newLeader string
	testkit.EventuallyNil(t, converge, "a new leader among the other four, and writes acknowledged after the kill", func() error {
		s, err := others[0].status(ctx)
		if err != nil {
			return err
		}
		if s.Raft == nil || s.Raft.Leader == "" || s.Raft.Leader == leader.Name {
			return fmt.Errorf("leader %q", s.Raft.Leader)
		}
		newLeader = s.Raft.Leader
		if n, _ := w.ackedSince(killed); n < 5 {
			return fmt.Errorf("%d writes acknowledged since the kill", n)
		}
		return nil
	})
	acked := w.halt()
	after, _ := (&writer{acked: acked}).ackedSince(killed)
	t.Logf("killed leader %s; new leader %s; %d writes acknowledged, %d of them after the kill (BenchmarkFailover times the failover)",
		leader.Name, newLeader, len(acked), after)

	docker(t, "start", leader.Name)
	for _, n := range nodes(t) {
		testkit.EventuallyNil(t, settle, n.Name+" holds every acknowledged write", func() error {
			ids, err := n.projects(ctx)
			if err != nil {
				return err
			}
			missing := 0
			for id := range acked {
				if !ids[id] {
					missing++
				}
			}
			if missing > 0 {
				return fmt.Errorf("%d of %d acknowledged writes missing", missing, len(acked))
			}
			return nil
		})
	}
	healthy(t, settle)
}

// Scenario 6: partition lu-luxembourg: it cannot commit, the others can,
// and its catalogue cache keeps serving the last known entries; after the
// heal it converges.
func TestScenario6PartitionLuxembourg(t *testing.T) {
	healthy(t, settle)
	t.Cleanup(func() { restore(t) })
	ctx := context.Background()
	lu, fr := byName(t, "lu-luxembourg"), byName(t, "fr-grandest")
	run := runID()
	p := publication{ID: "s6-" + run, Title: "Cross-border commuter flows", Description: "Scenario 6 sample",
		Theme: "industry", Classification: "open", License: "CC-BY-4.0"}
	if _, err := fr.publish(ctx, p, bytes.NewReader(rows(p.ID, 100))); err != nil {
		t.Fatal(err)
	}
	var before catalogue
	testkit.EventuallyNil(t, converge, "lu-luxembourg caches "+p.ID, func() error {
		var err error
		before, err = lu.catalogue(ctx, "")
		if err != nil {
			return err
		}
		if !before.has("fr-grandest", p.ID) {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	t0 := time.Now()
	docker(t, "network", "disconnect", network, lu.Name)
	majority := []*tnode{fr, byName(t, "de-bw"), byName(t, "ch-basel"), byName(t, "be-wallonie")}
	// libp2p notices the silent partition only when its connection times
	// out (tens of seconds); raft notices within an election timeout.
	testkit.EventuallyNil(t, converge, "the others agree on a leader among themselves", func() error {
		leaders := map[string]bool{}
		for _, n := range majority {
			s, err := n.status(ctx)
			if err != nil {
				return err
			}
			if s.Raft == nil || s.Raft.Leader == "" || s.Raft.Leader == lu.Name {
				return fmt.Errorf("%s: leader %q", n.Name, s.Raft.Leader)
			}
			leaders[s.Raft.Leader] = true
		}
		if len(leaders) != 1 {
			return fmt.Errorf("leaders %v", leaders)
		}
		return nil
	})

	// The majority commits.
	ok := project{ID: "s6-" + run + "-majority", Title: "Written during the partition", Themes: []string{"industry"},
		Partners: []string{"de-bw", "ch-basel"}}
	t.Logf("%5.1fs the majority has a leader of its own", time.Since(t0).Seconds())
	if _, err := byName(t, "de-bw").propose(ctx, ok, converge); err != nil {
		t.Fatalf("the majority cannot commit: %v", err)
	}
	t.Logf("%5.1fs the majority committed %s", time.Since(t0).Seconds(), ok.ID)
	// Luxembourg cannot: its proposal fails, and nobody ever applies it.
	cut := project{ID: "s6-" + run + "-minority", Title: "Written in the minority", Themes: []string{"industry"},
		Partners: []string{"lu-luxembourg", "be-wallonie"}}
	cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	err := xborderIn(cctx, lu.Name, nil, "project", "propose", "--id", cut.ID, "--title", cut.Title,
		"--themes", "industry", "--partners", "lu-luxembourg,be-wallonie")
	cancel()
	if err == nil {
		t.Fatalf("lu-luxembourg committed %s while partitioned", cut.ID)
	}
	t.Logf("%5.1fs lu-luxembourg cannot commit: %v", time.Since(t0).Seconds(), err)
	for _, n := range majority {
		ids, err := n.projects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ids[cut.ID] {
			t.Fatalf("%s applied %s, proposed by the partitioned node", n.Name, cut.ID)
		}
	}
	// Its catalogue cache still serves the last known entries.
	var during catalogue
	if err := xborderIn(ctx, lu.Name, &during, "catalogue", "--json"); err != nil {
		t.Fatal(err)
	}
	if !during.has("fr-grandest", p.ID) || len(during.Entries) < len(before.Entries) {
		t.Fatalf("partitioned lu-luxembourg serves %d entries (had %d), %s missing", len(during.Entries), len(before.Entries), p.ID)
	}

	healed := time.Now()
	docker(t, "network", "connect", "--ip", lu.IP, network, lu.Name)
	testkit.EventuallyNil(t, settle, "lu-luxembourg converges after the heal", func() error {
		s, err := lu.status(ctx)
		if err != nil {
			return err
		}
		if s.PeersConnected != 4 || s.Raft == nil || s.Raft.Leader == "" {
			return fmt.Errorf("%d peers, leader %q", s.PeersConnected, s.Raft.Leader)
		}
		ids, err := lu.projects(ctx)
		if err != nil {
			return err
		}
		if !ids[ok.ID] {
			return fmt.Errorf("%s not replicated yet", ok.ID)
		}
		return nil
	})
	// Luxembourg's proposal either never reached a leader ("no leader":
	// it must never be applied) or reached one without an answer ("outcome
	// unknown": its forward may sit in a TCP send queue that the same
	// connection delivers once the network is back, and the leader commits
	// it if it arrives within consensus.StaleAfter).
	unknown := strings.Contains(err.Error(), "outcome unknown") || strings.Contains(err.Error(), "whether it was committed is unknown")
	if !unknown && !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("lu-luxembourg's proposal failed with %v; want 'no leader' or 'outcome unknown'", err)
	}
	if ids, err := lu.projects(ctx); err == nil && ids[cut.ID] {
		if !unknown {
			t.Fatalf("%s was reported as not applied (no leader) but was committed after the heal", cut.ID)
		}
		t.Logf("note: %s, whose outcome was reported unknown during the partition, was committed after the heal", cut.ID)
	}
	t.Logf("lu-luxembourg converged %v after the heal", time.Since(healed).Round(time.Millisecond))
	healthy(t, settle)
}

// Scenario 7: a transfer cut by a partition resumes after the heal and
// verifies.
func TestScenario7TransferResumesAfterPartition(t *testing.T) {
	healthy(t, settle)
	t.Cleanup(func() { restore(t) })
	ctx := context.Background()
	lu, de := byName(t, "lu-luxembourg"), byName(t, "de-bw")
	run := runID()
	const size = 192 << 20
	src := newBulk(size, uint64(time.Now().UnixNano()))
	p := publication{ID: "s7-" + run, Title: "Cross-border traffic counts", Description: "Scenario 7 bulk sample",
		Theme: "industry", Classification: "open", License: "CC-BY-4.0"}
	e, err := lu.publish(ctx, p, src)
	if err != nil {
		t.Fatal(err)
	}
	if e.SHA256 != src.sum() || e.Size != size {
		t.Fatalf("published %d bytes, sha256 %s; want %d, %s", e.Size, e.SHA256, size, src.sum())
	}
	testkit.EventuallyNil(t, converge, "de-bw sees "+p.ID, func() error {
		c, err := de.catalogue(ctx, "?owner=lu-luxembourg")
		if err != nil {
			return err
		}
		if !c.has("lu-luxembourg", p.ID) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	bob := de.as(researcherToken(t, "de-bw", "bob@kit.edu", "KIT"))
	var j job
	if err := bob.post(ctx, "/v1/fetch", accessRequest{Owner: lu.Name, ID: p.ID, Purpose: "research"}, &j); err != nil {
		t.Fatal(err)
	}
	// Freeze the owner as soon as bytes flow, then cut it off the network:
	// the transfer is interrupted mid-way.
	testkit.EventuallyNil(t, converge, "the transfer starts", func() error {
		if err := bob.get(ctx, "/v1/transfers/"+j.ID, &j); err != nil {
			return err
		}
		if j.Received == 0 && j.State == "running" {
			return fmt.Errorf("no bytes yet")
		}
		return nil
	})
	docker(t, "pause", lu.Name)
	if err := bob.get(ctx, "/v1/transfers/"+j.ID, &j); err != nil {
		t.Fatal(err)
	}
	if j.State != "running" {
		t.Fatalf("the transfer finished (%s) before the cut; the scenario needs a slower link or a bigger file", j.State)
	}
	docker(t, "network", "disconnect", network, lu.Name)
	docker(t, "unpause", lu.Name)
	cutAt := j.Received
	testkit.EventuallyNil(t, converge, "de-bw sees lu-luxembourg disconnected", func() error {
		var peers []peer
		if err := de.get(ctx, "/v1/peers", &peers); err != nil {
			return err
		}
		for _, p := range peers {
			if p.Name == lu.Name && p.Connected {
				return fmt.Errorf("still connected")
			}
		}
		return nil
	})
	if err := bob.get(ctx, "/v1/transfers/"+j.ID, &j); err != nil {
		t.Fatal(err)
	}
	if j.State != "running" || j.Received >= size {
		t.Fatalf("during the partition the job is %s with %d of %d bytes; want running, incomplete", j.State, j.Received, size)
	}
	t.Logf("cut after %d MiB of %d; %d MiB when the partition was noticed", cutAt>>20, size>>20, j.Received>>20)

	docker(t, "network", "connect", "--ip", lu.IP, network, lu.Name)
	j = bob.waitJob(t, j.ID, 3*time.Minute)
	if j.State != "done" || j.SHA256 != e.SHA256 || j.Received != size || j.Attempts < 2 {
		t.Fatalf("after the heal: %+v; want done, sha256 %s, resumed (attempts >= 2)", j, e.SHA256)
	}
	t.Logf("resumed and verified: %d attempts, sha256 %.16s…", j.Attempts, j.SHA256)
	healthy(t, settle)
}

// Scenario 8: a sixth container whose key is not in the genesis is refused
// by every member.
func TestScenario8StrangerRefused(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	all := nodes(t)
	const name, vol, ip = "xb-stranger", "xborder-testnet-stranger", "10.207.74.66"
	_, _ = dockerOut(nil, "rm", "-f", name)
	_, _ = dockerOut(nil, "volume", "rm", "-f", vol)
	t.Cleanup(func() {
		_, _ = dockerOut(nil, "rm", "-f", name)
		_, _ = dockerOut(nil, "volume", "rm", "-f", vol)
	})

	dir := t.TempDir()
	cfg := node.DefaultConfig()
	cfg.Name, cfg.Country, cfg.Org = "nl-limburg", "NL", "Provincie Limburg"
	cfg.Advertise = []string{"/ip4/" + ip + "/tcp/7400", "/ip4/" + ip + "/udp/7400/quic-v1"}
	cfg.API = "0.0.0.0:7401"
	id, err := node.Init(dir, cfg, xborder.Policies())
	if err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile(filepath.Join(stateDir, "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, node.GenesisFile), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	before := map[string]float64{}
	for _, n := range all {
		if before[n.Name], err = n.metric(ctx, "xborder_gater_rejections_total"); err != nil {
			t.Fatal(err)
		}
	}

	docker(t, "volume", "create", vol)
	docker(t, "create", "--name", name, "--hostname", "nl-limburg", "--network", network, "--ip", ip,
		"-v", vol+":/data", "-e", "XBORDER_LOG_FORMAT=json", "-e", "XBORDER_DISCOVERY_MDNS=false", image, "run")
	archive, err := tarDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := dockerOut(archive, "cp", "-", name+":/data"); err != nil {
		t.Fatalf("docker cp: %v: %s", err, out)
	}
	docker(t, "start", name)
	testkit.EventuallyNil(t, settle, "the stranger's node is up", func() error {
		_, err := dockerOut(nil, "exec", name, "/xborder", "healthcheck")
		return err
	})
	stranger := id.PeerID.String()
	testkit.EventuallyNil(t, settle, "every member refuses the stranger", func() error {
		for _, n := range all {
			v, err := n.metric(ctx, "xborder_gater_rejections_total")
			if err != nil {
				return err
			}
			if v <= before[n.Name] {
				return fmt.Errorf("%s has not refused a connection yet", n.Name)
			}
		}
		return nil
	})
	for _, n := range all {
		var peers []peer
		if err := n.get(ctx, "/v1/peers", &peers); err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			if p.PeerID == stranger || p.Name == "nl-limburg" {
				t.Errorf("%s lists the stranger as a peer: %+v", n.Name, p)
			}
		}
		s, err := n.status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.PeersConnected != 4 {
			t.Errorf("%s: %d peers connected, want the 4 members", n.Name, s.PeersConnected)
		}
	}
	var s status
	if err := xborderIn(ctx, name, &s, "status", "--json"); err != nil {
		t.Fatal(err)
	}
	if s.PeersConnected != 0 {
		t.Fatalf("the stranger reports %d members connected, want 0", s.PeersConnected)
	}
	t.Logf("stranger %s refused by all five; its status shows 0 members connected", stranger[:16])
}

// tarDir archives a data dir for `docker cp -`, owned by the image's user.
func tarDir(dir string) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = filepath.ToSlash(rel), 65532, 65532, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = tw.Write(raw)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &buf, tw.Close()
}

// Scenario 9: every node's audit trail verifies: hash chain, signatures,
// registry anchors; over the API and with the CLI inside the container;
// and each partner verifies another's trail over libp2p.
func TestScenario9AuditVerifies(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	for _, n := range nodes(t) {
		var rep auditReport
		if err := n.get(ctx, "/v1/audit/verify", &rep); err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Records == 0 {
			t.Errorf("%s: audit %+v", n.Name, rep)
			continue
		}
		if err := xborderIn(ctx, n.Name, nil, "audit", "verify"); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		}
		t.Logf("%-14s %d records, head %.16s: verified", n.Name, rep.Records, rep.Head)
	}
	// Each partner verifies the next one's trail across the network, from
	// its hash chain's links only, against the registry's anchors.
	all := nodes(t)
	for i, n := range all {
		next := all[(i+1)%len(all)]
		var rep auditReport
		if err := n.get(ctx, "/v1/audit/verify?peer="+next.Name, &rep); err != nil {
			t.Errorf("%s verifies %s: %v", n.Name, next.Name, err)
			continue
		}
		if !rep.OK || rep.Records == 0 || rep.ContentVerified {
			t.Errorf("%s verifies %s: %+v", n.Name, next.Name, rep)
		}
		if err := xborderIn(ctx, n.Name, nil, "audit", "verify", "--peer", next.Name); err != nil {
			t.Errorf("%s: audit verify --peer %s: %v", n.Name, next.Name, err)
		}
	}
}
