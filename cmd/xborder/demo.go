package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/loopback"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
)

// demoMarker marks a directory the demo created, so that it only ever
// deletes its own work dir.
const demoMarker = ".xborder-demo"

// demoMembers are the five partner regions of the Grand Est cooperation area.
var demoMembers = []struct{ name, country, org string }{
	{"fr-grandest", "FR", "Région Grand Est"},
	{"de-bw", "DE", "Land Baden-Württemberg"},
	{"ch-basel", "CH", "Kanton Basel-Stadt"},
	{"be-wallonie", "BE", "Région wallonne"},
	{"lu-luxembourg", "LU", "Grand-Duché de Luxembourg"},
}

type demoNode struct {
	name, dir string
	api       string
	client    *client
	cmd       *exec.Cmd
	exited    chan error
}

func newDemoCmd(g *globals) *cobra.Command {
	var dir string
	var once bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a local five-country federation on loopback",
		Long: `demo starts a federation of five nodes on this machine, one per partner
region (fr-grandest, de-bw, ch-basel, be-wallonie, lu-luxembourg), each a
separate ` + "`xborder run`" + ` process with its own data dir under --dir. It waits until
every node sees the other four, prints their status and how to talk to each,
and runs until Ctrl-C. With --once (or DEMO_ONCE=1) it stops after the checks.

The work dir is recreated on every run; node logs are in DIR/NAME/node.log.`,
		Example: `  xborder demo
  DEMO_ONCE=1 xborder demo --dir /tmp/xborder-demo`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if v, _ := strconv.ParseBool(os.Getenv("DEMO_ONCE")); v {
				once = true
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, g, dir, once, timeout)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "demo-data", "work dir for the five nodes (recreated)")
	cmd.Flags().BoolVar(&once, "once", false, "stop after the checks (also DEMO_ONCE=1)")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for the full mesh")
	return cmd
}

func runDemo(ctx context.Context, g *globals, dir string, once bool, timeout time.Duration) (err error) {
	if err := resetDemoDir(dir); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the xborder binary: %w", err)
	}
	nodes, genesis, err := initDemo(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "Federation %q (%s), five nodes in %s\n\n", "grand-est-demo", genesis.ID()[:16], dir)

	started := time.Now()
	defer func() {
		if stopErr := stopDemo(nodes); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	for _, n := range nodes {
		if err := n.start(exe, filepath.Join(dir, node.GenesisFile)); err != nil {
			return err
		}
	}

	meshed, err := waitForMesh(ctx, nodes, timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "Full mesh: every node sees the other four, %d ms after the processes started.\n\n",
		meshed.Sub(started).Milliseconds())

	rows := [][]string{}
	for _, n := range nodes {
		var s api.Status
		if err := n.client.get(ctx, "/v1/status", &s); err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		rows = append(rows, []string{s.Name, s.Country, strconv.FormatBool(s.Ready),
			fmt.Sprintf("%d/%d", s.PeersConnected, s.Members-1), n.client.base, s.Policy.Hash[:12], s.PeerID})
	}
	if err := printTable(g.out, []string{"NAME", "COUNTRY", "READY", "PEERS", "API", "POLICY", "PEER ID"}, rows); err != nil {
		return err
	}
	if err := demoRegistry(ctx, g, nodes); err != nil {
		return err
	}
	if err := demoCatalogue(ctx, g, dir, nodes); err != nil {
		return err
	}
	if err := demoExchange(ctx, g, dir, nodes); err != nil {
		return err
	}
	if err := demoAgreement(ctx, g, dir, nodes); err != nil {
		return err
	}
	if err := demoAudit(ctx, g, nodes); err != nil {
		return err
	}
	fmt.Fprintln(g.out, "\nTalk to a node:")
	for _, n := range nodes {
		fmt.Fprintf(g.out, "  XBORDER_ADDR=%s XBORDER_TOKEN=$(cat %s) xborder peers\n",
			n.client.base, filepath.Join(n.dir, node.AdminTokenFile))
	}
	fmt.Fprintln(g.out, "\nOpen the web console (a one-time sign-in link):")
	fmt.Fprintf(g.out, "  xborder --data %s console --role researcher --sub alice@uni-freiburg.de\n", filepath.Join(dir, "de-bw"))
	fmt.Fprintf(g.out, "  xborder --data %s console --role legal --sub dpo@bs.ch\n", filepath.Join(dir, "ch-basel"))
	fmt.Fprintf(g.out, "  xborder --data %s console --role operator --sub ops@lu\n", filepath.Join(dir, "lu-luxembourg"))
	if once {
		fmt.Fprintln(g.out, "\nDEMO_ONCE: stopping the federation.")
		return nil
	}
	fmt.Fprintf(g.out, "\nLogs: %s/*/node.log. Press Ctrl-C to stop.\n", dir)
	select {
	case <-ctx.Done():
		fmt.Fprintln(g.out, "\nStopping the federation.")
		return nil
	case err := <-firstExit(nodes):
		return err
	}
}

// resetDemoDir recreates the demo's work dir, refusing to delete a
// directory the demo did not create.
func resetDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("%s exists and was not made by `xborder demo`: refusing to delete it (pick another --dir)", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), nil, 0o644)
}

// initDemo initialises the five data dirs on free loopback ports and writes
// the genesis they share.
func initDemo(dir string) ([]*demoNode, *node.Genesis, error) {
	gen := &node.Genesis{Federation: "grand-est-demo"}
	var nodes []*demoNode
	// The kernel may hand a just-released port out again: each port is
	// given to one listener only.
	taken := map[int]bool{}
	freePort := func(udpToo bool) (int, error) {
		for {
			p, err := loopback.FreePort(udpToo)
			if err != nil || !taken[p] {
				taken[p] = true
				return p, err
			}
		}
	}
	for _, m := range demoMembers {
		p2p, err := freePort(true)
		if err != nil {
			return nil, nil, err
		}
		apiPort, err := freePort(false)
		if err != nil {
			return nil, nil, err
		}
		cfg := node.DefaultConfig()
		cfg.Name, cfg.Country, cfg.Org = m.name, m.country, m.org
		cfg.Listen = []string{
			fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p2p),
			fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", p2p),
		}
		cfg.API = fmt.Sprintf("127.0.0.1:%d", apiPort)
		cfg.Discovery.MDNS = false // a loopback federation has nothing to find on the LAN
		cfg.Log.Format = "json"
		d := filepath.Join(dir, m.name)
		if _, err := node.Init(d, cfg, xborder.Policies()); err != nil {
			return nil, nil, fmt.Errorf("init %s: %w", m.name, err)
		}
		card, err := node.IdentityCard(d, cfg)
		if err != nil {
			return nil, nil, err
		}
		gen.Members = append(gen.Members, card)
		tok, err := readTokenFile(filepath.Join(d, node.AdminTokenFile))
		if err != nil {
			return nil, nil, err
		}
		nodes = append(nodes, &demoNode{name: m.name, dir: d, api: cfg.API,
			client: &client{base: apiURL(cfg.API), token: tok, http: &http.Client{Timeout: 5 * time.Second}}})
	}
	if err := gen.Validate(); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, node.GenesisFile), gen.Marshal(), 0o644); err != nil {
		return nil, nil, err
	}
	return nodes, gen, nil
}

func (n *demoNode) start(exe, genesis string) error {
	logf, err := os.Create(filepath.Join(n.dir, "node.log"))
	if err != nil {
		return err
	}
	n.cmd = exec.Command(exe, "--data", n.dir, "run", "--genesis", genesis)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	n.exited = make(chan error, 1)
	go func() {
		err := n.cmd.Wait()
		logf.Close()
		n.exited <- err
	}()
	return nil
}

// waitForMesh polls every node's status until each sees the other four.
func waitForMesh(ctx context.Context, nodes []*demoNode, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		meshed := 0
		for _, n := range nodes {
			select {
			case err := <-n.exited:
				n.exited <- err
				return time.Time{}, fmt.Errorf("%s exited early (%v); its log:\n%s", n.name, err, tail(filepath.Join(n.dir, "node.log")))
			default:
			}
			var s api.Status
			if n.client.get(ctx, "/v1/status", &s) == nil && s.PeersConnected == len(nodes)-1 {
				meshed++
			}
		}
		if meshed == len(nodes) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return time.Time{}, fmt.Errorf("the five nodes did not form a full mesh within %v; see %s/*/node.log", timeout, filepath.Dir(nodes[0].dir))
			}
			return time.Time{}, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func firstExit(nodes []*demoNode) <-chan error {
	out := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() {
			err := <-n.exited
			n.exited <- err
			out <- fmt.Errorf("%s stopped unexpectedly (%v); see %s", n.name, err, filepath.Join(n.dir, "node.log"))
		}()
	}
	return out
}

// stopDemo sends SIGTERM to every node and checks that each shuts down
// cleanly (exit status 0) within its shutdown timeout.
func stopDemo(nodes []*demoNode) error {
	var errs []error
	for _, n := range nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, n := range nodes {
		if n.cmd == nil {
			continue
		}
		select {
		case err := <-n.exited:
			n.exited <- err
			if err != nil {
				errs = append(errs, fmt.Errorf("%s did not shut down cleanly: %v; see %s", n.name, err, filepath.Join(n.dir, "node.log")))
			}
		case <-time.After(20 * time.Second):
			_ = n.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("%s did not stop within 20s and was killed", n.name))
		}
	}
	return errors.Join(errs...)
}

// tail returns the last lines of a log file.
func tail(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// demoRegistry walks through the replicated registry: Basel registers a
// Franco-German-Swiss project and every region reads it from its own
// replica.
func demoRegistry(ctx context.Context, g *globals, nodes []*demoNode) error {
	byName := map[string]*demoNode{}
	for _, n := range nodes {
		byName[n.name] = n
	}
	projects := []struct {
		from string
		p    consensus.ProjectProposal
	}{
		{"ch-basel", consensus.ProjectProposal{ID: "upper-rhine-bioeconomy", Title: "Upper Rhine bioeconomy: crop yield models",
			Themes: []string{"bioeconomy", "industry"}, Partners: []string{"ch-basel", "fr-grandest", "de-bw"}}},
	}
	fmt.Fprintln(g.out, "\nReplicated registry:")
	for _, pr := range projects {
		var res api.Committed
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := byName[pr.from].client.post(ctx, "/v1/projects", pr.p, &res)
			if err == nil {
				break
			}
			var ae *apiError
			// 503: the registry is still electing its first leader.
			if !errors.As(err, &ae) || ae.Status != 503 || time.Now().After(deadline) {
				return fmt.Errorf("%s proposes %s: %w", pr.from, pr.p.ID, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Fprintf(g.out, "  %s proposed %q (%s), committed at index %d\n", pr.from, pr.p.ID, strings.Join(pr.p.Partners, ", "), res.Index)
	}
	for _, n := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var l api.ProjectList
			if err := n.client.get(ctx, "/v1/projects", &l); err != nil {
				return fmt.Errorf("%s: %w", n.name, err)
			}
			if len(l.Projects) == len(projects) {
				var st api.Status
				if err := n.client.get(ctx, "/v1/status", &st); err != nil {
					return err
				}
				role := "?"
				if st.Raft != nil {
					role = st.Raft.State
				}
				fmt.Fprintf(g.out, "  %-14s sees %d projects in its replica (applied index %d, raft %s)\n", n.name, len(l.Projects), l.AppliedIndex, role)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s has %d of %d projects after 30s", n.name, len(l.Projects), len(projects))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// demoAudit verifies every node's audit trail: the chain, the signatures
// and, once anchored, the head each region committed to the registry.
func demoAudit(ctx context.Context, g *globals, nodes []*demoNode) error {
	fmt.Fprintln(g.out, "\nAudit trails:")
	for _, n := range nodes {
		var rep audit.Report
		if err := n.client.get(ctx, "/v1/audit/verify", &rep); err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		if !rep.OK {
			return &exitErr{code: exitIntegrity, err: fmt.Errorf("%s: audit trail broken at record %d: %s", n.name, rep.FirstBad.Seq, rep.FirstBad.Reason)}
		}
		fmt.Fprintf(g.out, "  %-14s %d records, head %.16s: verified\n", n.name, rep.Records, rep.Head)
	}
	return nil
}

// demoDatasets are generated sample datasets for the three themes.
var demoDatasets = []struct {
	owner string
	pub   exchange.Publication
	rows  func(i int) string
}{
	{"fr-grandest", exchange.Publication{ID: "icu-admissions-2025", Title: "ICU admissions 2025, Grand Est hospitals",
		Description: "Daily intensive-care admissions by hospital and age band (synthetic sample).", Theme: "health",
		Classification: "sensitive", PersonalData: true, License: "CC-BY-NC-4.0", Keywords: []string{"icu", "hospital", "covid"}},
		func(i int) string {
			return fmt.Sprintf("2025-01-%02d,CHU-%d,%d-%d,%d\n", i%28+1, i%7, (i%9)*10, (i%9)*10+9, i%13)
		}},
	{"de-bw", exchange.Publication{ID: "machine-sensor-logs", Title: "Machine sensor logs, Stuttgart plants",
		Description: "Vibration and temperature of CNC machines for predictive maintenance (synthetic sample).", Theme: "industry",
		Classification: "restricted", License: "DL-DE-BY-2.0", Keywords: []string{"sensors", "maintenance"}},
		func(i int) string {
			return fmt.Sprintf("%d,cnc-%d,%.2f,%.1f\n", 1735689600+i*60, i%12, float64(i%97)/10, 40+float64(i%23)/2)
		}},
	{"ch-basel", exchange.Publication{ID: "crop-yield-upper-rhine", Title: "Crop yield, Upper Rhine plain",
		Description: "Yearly yield per parcel and crop for bioeconomy models (synthetic sample).", Theme: "bioeconomy",
		Classification: "open", License: "CC-BY-4.0", Keywords: []string{"agriculture", "yield"}},
		func(i int) string {
			return fmt.Sprintf("parcel-%d,%s,%d,%.2f\n", i, []string{"maize", "wheat", "rapeseed"}[i%3], 2015+i%10, 5+float64(i%40)/10)
		}},
}

// demoCatalogue publishes the sample datasets and shows the federation
// catalogue from Luxembourg, which holds none of them.
func demoCatalogue(ctx context.Context, g *globals, dir string, nodes []*demoNode) error {
	byName := map[string]*demoNode{}
	for _, n := range nodes {
		byName[n.name] = n
	}
	fmt.Fprintln(g.out, "\nCatalogue:")
	for _, d := range demoDatasets {
		path := filepath.Join(dir, d.pub.ID+".csv")
		var b strings.Builder
		for i := range 2000 {
			b.WriteString(d.rows(i))
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			return err
		}
		var e exchange.Entry
		if err := byName[d.owner].client.upload(ctx, "/v1/datasets", d.pub, path, &e); err != nil {
			return fmt.Errorf("%s publishes %s: %w", d.owner, d.pub.ID, err)
		}
		fmt.Fprintf(g.out, "  %s published %s (%s, %s, %d bytes)\n", d.owner, e.Ref(), e.Theme, e.Classification, e.Size)
	}
	lu := byName["lu-luxembourg"]
	deadline := time.Now().Add(30 * time.Second)
	for {
		var l api.CatalogueList
		if err := lu.client.get(ctx, "/v1/catalogue", &l); err != nil {
			return err
		}
		if len(l.Entries) == len(demoDatasets) {
			fmt.Fprintln(g.out, "  the federation catalogue as lu-luxembourg sees it:")
			for _, e := range l.Entries {
				fmt.Fprintf(g.out, "    %-36s %-2s %-10s %-12s %s\n", e.Ref(), e.Country, e.Theme, e.Classification, e.Title)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lu-luxembourg sees %d of %d entries after 30s", len(l.Entries), len(demoDatasets))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// demoExchange: a researcher in Baden-Württemberg asks Grand Est for
// sensitive health data, is refused with the reasons, Grand Est registers
// the Franco-German project that covers it, the request is allowed and the
// transfer verified.
func demoExchange(ctx context.Context, g *globals, dir string, nodes []*demoNode) error {
	byName := map[string]*demoNode{}
	for _, n := range nodes {
		byName[n.name] = n
	}
	fr, de := byName["fr-grandest"], byName["de-bw"]
	alice, err := researcherClient(de, "alice@uni-freiburg.de", "Universität Freiburg")
	if err != nil {
		return err
	}
	req := api.AccessRequest{Owner: "fr-grandest", ID: "icu-admissions-2025", Purpose: "research"}

	fmt.Fprintln(g.out, "\nCross-border request (alice@uni-freiburg.de, researcher at de-bw):")
	var ans api.AccessAnswer
	err = alice.post(ctx, "/v1/requests", req, &ans)
	var ee *exitErr
	if !errors.As(err, &ee) || ee.code != exitDenied {
		return fmt.Errorf("the request without a project should be denied, got %v", err)
	}
	fmt.Fprintf(g.out, "  without a project: %s\n", strings.ReplaceAll(ee.err.Error(), "\n", "\n  "))

	p := consensus.ProjectProposal{ID: "fr-de-oncology", Title: "Franco-German oncology imaging", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/icu-admissions-2025"}, EthicsRef: "CPP-EST-2026-114"}
	var res api.Committed
	if err := fr.client.post(ctx, "/v1/projects", p, &res); err != nil {
		return fmt.Errorf("fr-grandest proposes %s: %w", p.ID, err)
	}
	fmt.Fprintf(g.out, "  fr-grandest registers %q with de-bw, listing the dataset, ethics approval %s (index %d)\n", p.ID, p.EthicsRef, res.Index)

	req.Project = p.ID
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = alice.post(ctx, "/v1/requests", req, &ans)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the owner's replica applies the project
	}
	if err != nil {
		return fmt.Errorf("the request within the project: %w", err)
	}
	fmt.Fprintf(g.out, "  within the project: allowed (%s)\n", strings.Join(ans.Rules, ", "))
	for _, o := range ans.Obligations {
		fmt.Fprintf(g.out, "    obligation: %s\n", o)
	}
	job, err := fetchAndWait(ctx, alice, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "  fetched %d bytes peer to peer, sha256 %.16s… verified\n", job.Size, job.SHA256)
	return demoApprovedJoin(ctx, g, byName["ch-basel"], fr, p.ID, req)
}

// demoApprovedJoin: Basel asks to join the Franco-German project; until
// the lead (who owns the dataset) approves, Basel's researcher is refused;
// after the approval the same request is allowed.
func demoApprovedJoin(ctx context.Context, g *globals, ch, fr *demoNode, project string, req api.AccessRequest) error {
	bob, err := researcherClient(ch, "bob@unibas.ch", "Universität Basel")
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "\nJoining a project (bob@unibas.ch, researcher at ch-basel):\n")
	var p api.ProjectAnswer
	if err := waitFor(ctx, 30*time.Second, func() error { return ch.client.get(ctx, "/v1/projects/"+project, &p) }); err != nil {
		return fmt.Errorf("ch-basel reads %s: %w", project, err)
	}
	var res api.Committed
	if err := ch.client.post(ctx, "/v1/projects/"+project+"/join", struct{}{}, &res); err != nil {
		return fmt.Errorf("ch-basel asks to join %s: %w", project, err)
	}
	if err := ch.client.get(ctx, "/v1/projects/"+project, &p); err != nil {
		return err
	}
	awaiting := ""
	for _, c := range p.Pending {
		if c.Kind == consensus.PendingJoin && c.Member == "ch-basel" {
			awaiting = strings.Join(c.Awaiting, ", ")
		}
	}
	if awaiting == "" || slices.Contains(p.Project.Partners, "ch-basel") {
		return fmt.Errorf("ch-basel's join should be pending, the project is %+v", p)
	}
	fmt.Fprintf(g.out, "  ch-basel asks to join %q (index %d): pending until %s approves\n", project, res.Index, awaiting)
	var ans api.AccessAnswer
	err = bob.post(ctx, "/v1/requests", req, &ans)
	var ee *exitErr
	if !errors.As(err, &ee) || ee.code != exitDenied {
		return fmt.Errorf("a pending member's request should be denied, got %v", err)
	}
	fmt.Fprintf(g.out, "  while pending: %s\n", strings.ReplaceAll(ee.err.Error(), "\n", "\n  "))
	// The lead approves from its own replica, once that has the request.
	if err := waitFor(ctx, 30*time.Second, func() error {
		var q api.ProjectAnswer
		if err := fr.client.get(ctx, "/v1/projects/"+project, &q); err != nil {
			return err
		}
		if _, pending := q.Project.PendingJoin("ch-basel"); !pending {
			return errors.New("fr-grandest's replica does not have the join yet")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := fr.client.post(ctx, "/v1/projects/"+project+"/approve", api.ApproveRequest{Member: "ch-basel"}, &res); err != nil {
		return fmt.Errorf("fr-grandest approves ch-basel: %w", err)
	}
	fmt.Fprintf(g.out, "  fr-grandest's policy allows the approval; fr-grandest approves (index %d): ch-basel is a partner\n", res.Index)
	if err := waitFor(ctx, 30*time.Second, func() error { return bob.post(ctx, "/v1/requests", req, &ans) }); err != nil {
		return fmt.Errorf("the request after the approval: %w", err)
	}
	fmt.Fprintf(g.out, "  after the approval: allowed (%s)\n", strings.Join(ans.Rules, ", "))
	return nil
}

// waitFor retries fn until it succeeds or within passes: a replica applies
// a command a moment after the leader committed it.
func waitFor(ctx context.Context, within time.Duration, fn func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// researcherClient is a client with a researcher's token minted by n.
func researcherClient(n *demoNode, sub, org string) (*client, error) {
	id, err := node.LoadKey(filepath.Join(n.dir, node.KeyFile))
	if err != nil {
		return nil, err
	}
	tok, err := api.IssueToken(id.Key, id.PeerID.String(), api.User{Subject: sub, Role: api.RoleResearcher, Org: org}, time.Hour, time.Now())
	if err != nil {
		return nil, err
	}
	return &client{base: n.client.base, token: tok, http: n.client.http}, nil
}

// fetchAndWait starts a fetch and follows the transfer to its end.
func fetchAndWait(ctx context.Context, c *client, req api.AccessRequest) (exchange.JobStatus, error) {
	var job exchange.JobStatus
	if err := c.post(ctx, "/v1/fetch", req, &job); err != nil {
		return job, err
	}
	for job.State == exchange.JobRunning {
		time.Sleep(50 * time.Millisecond)
		if err := c.get(ctx, "/v1/transfers/"+job.ID, &job); err != nil {
			return job, err
		}
	}
	if job.State != exchange.JobDone {
		return job, fmt.Errorf("transfer failed: %s", job.Error)
	}
	return job, nil
}

// demoAgreement: Grand Est shares a tumour-segmentation model with
// Baden-Württemberg and Basel under a signed agreement; a researcher in
// Freiburg fetches it; Grand Est revokes the agreement and the next fetch
// is denied.
func demoAgreement(ctx context.Context, g *globals, dir string, nodes []*demoNode) error {
	byName := map[string]*demoNode{}
	for _, n := range nodes {
		byName[n.name] = n
	}
	fr, de, ch := byName["fr-grandest"], byName["de-bw"], byName["ch-basel"]
	fmt.Fprintln(g.out, "\nModel-sharing agreement:")
	path := filepath.Join(dir, "tumour-seg.onnx")
	if err := os.WriteFile(path, []byte(strings.Repeat("synthetic model weights\n", 40000)), 0o644); err != nil {
		return err
	}
	pub := exchange.Publication{ID: "tumour-seg", Kind: exchange.KindModel, Title: "Tumour segmentation on CT",
		Description: "3D U-Net segmenting liver tumours on CT (synthetic weights).", Theme: "health",
		Classification: "restricted", License: "research-only", Keywords: []string{"oncology", "imaging"},
		Model: &exchange.ModelCard{Task: "liver tumour segmentation on CT", Architecture: "3D U-Net, 31 M parameters",
			TrainingDatasets: []string{"fr-grandest/icu-admissions-2025"}, Metrics: map[string]float64{"dice": 0.87},
			IntendedUses: []string{"research"}, ExcludedUses: []string{"diagnosis without a radiologist"}}}
	var e exchange.Entry
	if err := fr.client.upload(ctx, "/v1/datasets", pub, path, &e); err != nil {
		return fmt.Errorf("fr-grandest publishes the model: %w", err)
	}
	fmt.Fprintf(g.out, "  fr-grandest published the model %s, trained on %s\n", e.Ref(), strings.Join(e.Model.TrainingDatasets, ", "))
	for _, n := range []*demoNode{de, ch} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var l exchange.Listing
			err := n.client.get(ctx, "/v1/catalogue/fr-grandest/tumour-seg", &l)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s does not see the model after 30s: %w", n.name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	prop := api.AgreementProposal{ID: "seg-share-2026", Model: e.Ref(), Parties: []string{"fr-grandest", "de-bw", "ch-basel"},
		Purposes: []string{"research"}, Conditions: "Research use only; no re-identification; results shared with all parties.",
		ValidUntil: time.Now().AddDate(1, 0, 0)}
	var v api.AgreementView
	if err := fr.client.post(ctx, "/v1/agreements", prop, &v); err != nil {
		return fmt.Errorf("fr-grandest proposes the agreement: %w", err)
	}
	fmt.Fprintf(g.out, "  fr-grandest proposes %q to de-bw and ch-basel for research; each party's policy decides:\n", v.ID)
	for _, p := range v.PartyStates {
		fmt.Fprintf(g.out, "    %-12s accepts (%s)\n", p.Member, strings.Join(p.Decision.Rules, ", "))
	}
	for _, n := range []*demoNode{de, ch, fr} {
		if err := n.client.post(ctx, "/v1/agreements/"+v.ID+"/sign", struct{}{}, &v); err != nil {
			return fmt.Errorf("%s signs: %w", n.name, err)
		}
		fmt.Fprintf(g.out, "    %-12s signed\n", n.name)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var a api.AgreementAnswer
		if err := de.client.get(ctx, "/v1/agreements/"+v.ID, &a); err == nil && a.Agreement.Status == "active" {
			fmt.Fprintf(g.out, "  the last signature committed it to the registry: %d signatures; de-bw reads it as %s\n", len(a.Agreement.Document.Signatures), a.Agreement.Status)
			break
		}
		if time.Now().After(deadline) {
			return errors.New("de-bw does not see the agreement active after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	bob, err := researcherClient(de, "bob@uni-freiburg.de", "Universität Freiburg")
	if err != nil {
		return err
	}
	req := api.AccessRequest{Owner: "fr-grandest", ID: "tumour-seg", Purpose: "research"}
	job, err := fetchAndWait(ctx, bob, req)
	if err != nil {
		return fmt.Errorf("de-bw fetches the model: %w", err)
	}
	fmt.Fprintf(g.out, "  bob@uni-freiburg.de (de-bw) fetched the model under the agreement: %d bytes, sha256 %.16s… verified\n", job.Size, job.SHA256)

	if err := fr.client.post(ctx, "/v1/agreements/"+v.ID+"/revoke", api.RevokeRequest{Reason: "the model is being retrained"}, &v); err != nil {
		return fmt.Errorf("fr-grandest revokes: %w", err)
	}
	fmt.Fprintln(g.out, "  fr-grandest revokes the agreement (the model is being retrained)")
	deadline = time.Now().Add(30 * time.Second)
	for {
		var a api.AgreementAnswer
		if err := de.client.get(ctx, "/v1/agreements/"+v.ID, &a); err == nil && a.Agreement.Status == "revoked" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("de-bw does not see the revocation after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = fetchAndWait(ctx, bob, req)
	var ee *exitErr
	if !errors.As(err, &ee) || ee.code != exitDenied {
		return fmt.Errorf("the fetch after the revocation should be denied, got %v", err)
	}
	fmt.Fprintf(g.out, "  de-bw fetches again: %s\n", strings.ReplaceAll(ee.err.Error(), "\n", "\n  "))
	return nil
}
