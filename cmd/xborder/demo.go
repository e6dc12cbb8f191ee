package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/cmd/xborder/internal/tour"
	"github.com/xborder/xborder/dsp"
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
	var predictor string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a local five-country federation on loopback",
		Long: `demo starts a federation of five nodes on this machine, one per partner
region (fr-grandest, de-bw, ch-basel, be-wallonie, lu-luxembourg), each a
separate ` + "`xborder run`" + ` process with its own data dir under --dir. It waits until
every node sees the other four, prints their status and how to talk to each,
and runs until Ctrl-C. With --once (or DEMO_ONCE=1) it stops after the checks.

With --json it prints, instead of prose, one JSON object per line for each
step as it starts and ends: {time, step, status (started, ok or failed),
node, id, index, count, bytes, elapsed_ms, error}, the figures set where
the step has them. The "mesh" step's elapsed_ms is the time from the start
of the processes to the full mesh.

The work dir is recreated on every run; node logs are in DIR/NAME/node.log.`,
		Example: `  xborder demo
  DEMO_ONCE=1 xborder demo --dir /tmp/xborder-demo
  xborder demo --once --json | jq -c 'select(.status != "started")'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if v, _ := strconv.ParseBool(os.Getenv("DEMO_ONCE")); v {
				once = true
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, g, dir, predictor, once, timeout)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "demo-data", "work dir for the five nodes (recreated)")
	cmd.Flags().BoolVar(&once, "once", false, "stop after the checks (also DEMO_ONCE=1)")
	cmd.Flags().StringVar(&predictor, "predictor", "bin/wasm/predictor.wasm", "the example predictor built for WebAssembly (make wasm), for the model validation")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for the full mesh")
	cmd.Flags().BoolVar(&g.json, "json", false, "print each step as a JSON object per line instead of prose")
	return cmd
}

func runDemo(ctx context.Context, g *globals, dir, predictor string, once bool, timeout time.Duration) (err error) {
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
	idp, err := startDemoIdP(nodes)
	if err != nil {
		return err
	}
	defer idp.Close()
	p := tour.NewProgress(g.out, g.json)
	p.Printf("Federation %q (%s), five nodes in %s\n\n", "grand-est-demo", genesis.ID()[:16], dir)

	mesh := p.Start("mesh", "")
	defer func() {
		st := p.Start("stop", "")
		if stopErr := stopDemo(nodes); stopErr != nil {
			st.Fail(stopErr)
			if err == nil {
				err = stopErr
			}
			return
		}
		st.OK(tour.Figures{Count: len(nodes)})
	}()
	for _, n := range nodes {
		if err := n.start(exe, filepath.Join(dir, node.GenesisFile)); err != nil {
			return mesh.Fail(err)
		}
	}
	if err := waitForMesh(ctx, nodes, timeout); err != nil {
		return mesh.Fail(err)
	}
	meshed := mesh.OK(tour.Figures{Count: len(nodes)})
	p.Printf("Full mesh: every node sees the other four, %d ms after the processes started.\n\n", meshed.Milliseconds())

	rows := [][]string{}
	for _, n := range nodes {
		st := p.Start("status", n.name)
		var s api.Status
		if err := n.client.get(ctx, "/v1/status", &s); err != nil {
			return st.Fail(fmt.Errorf("%s: %w", n.name, err))
		}
		st.OK(tour.Figures{Count: s.PeersConnected})
		rows = append(rows, []string{s.Name, s.Country, strconv.FormatBool(s.Ready),
			fmt.Sprintf("%d/%d", s.PeersConnected, s.Members-1), n.client.base, s.Policy.Hash[:12], s.PeerID})
	}
	if err := printTable(p.Prose(), []string{"NAME", "COUNTRY", "READY", "PEERS", "API", "POLICY", "PEER ID"}, rows); err != nil {
		return err
	}
	st := p.Start("tour", "")
	if err := tour.Run(ctx, p, dir, predictor, tourNodes(nodes), tour.WithPeople(demoPerson(0), demoPerson(2))); err != nil {
		var broken *tour.AuditBrokenError
		if errors.As(err, &broken) {
			err = &exitErr{code: exitIntegrity, err: err}
		}
		return st.Fail(err)
	}
	st.OK(tour.Figures{Count: len(nodes)})
	p.Printf("\nTalk to a node:\n")
	for _, n := range nodes {
		p.Printf("  XBORDER_ADDR=%s XBORDER_TOKEN=$(cat %s) xborder peers\n",
			n.client.base, filepath.Join(n.dir, node.AdminTokenFile))
	}
	p.Printf("\nOpen the web console (a one-time sign-in link):\n")
	p.Printf("  xborder --data %s console --role researcher --sub alice@uni-freiburg.de\n", filepath.Join(dir, "de-bw"))
	p.Printf("  xborder --data %s console --role legal --sub dpo@bs.ch\n", filepath.Join(dir, "ch-basel"))
	p.Printf("  xborder --data %s console --role operator --sub ops@lu\n", filepath.Join(dir, "lu-luxembourg"))
	p.Printf("\nOr sign in as a researcher with a university account (%s, password %q):\n", demoIdPLabel, demoIdPPassword)
	p.Printf("  %s/console/signin  as amelie (staff, Strasbourg), jonas (staff, Freiburg) or lea (student)\n", nodes[0].client.base)
	p.Printf("  XBORDER_ADDR=%s xborder login   (the same accounts, for the command line)\n", nodes[0].client.base)
	if once {
		p.Printf("\nDEMO_ONCE: stopping the federation.\n")
		return nil
	}
	p.Printf("\nLogs: %s/*/node.log. Press Ctrl-C to stop.\n", dir)
	select {
	case <-ctx.Done():
		p.Printf("\nStopping the federation.\n")
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
		// The timeout outlasts the tour's blocking reads, which a node
		// holds for up to 30 s.
		nodes = append(nodes, &demoNode{name: m.name, dir: d, api: cfg.API,
			client: &client{base: apiURL(cfg.API), token: tok, http: &http.Client{Timeout: 45 * time.Second}}})
	}
	if err := gen.Validate(); err != nil {
		return nil, nil, err
	}
	if err := demoDataspace(nodes); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, node.GenesisFile), gen.Marshal(), 0o644); err != nil {
		return nil, nil, err
	}
	return nodes, gen, nil
}

// demoDataspace makes every demo region a Dataspace Protocol participant
// of the others: its participant ID, each other's node key and DSP
// address in its configuration.
func demoDataspace(nodes []*demoNode) error {
	keys := make([]string, len(nodes))
	for i, n := range nodes {
		id, err := node.LoadKey(filepath.Join(n.dir, node.KeyFile))
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(id.Key.Public())
		if err != nil {
			return err
		}
		keys[i] = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	for i, n := range nodes {
		cfg, err := node.LoadConfig(n.dir)
		if err != nil {
			return err
		}
		cfg.Dataspace = node.DataspaceConfig{Enabled: true}
		for j, o := range nodes {
			if j == i {
				continue
			}
			oc, err := node.LoadConfig(o.dir)
			if err != nil {
				return err
			}
			cfg.Dataspace.Participants = append(cfg.Dataspace.Participants, dsp.ParticipantConfig{
				ID: "urn:xborder:" + o.name, Country: oc.Country, Org: oc.Org, PublicKey: keys[j],
				Address: apiURL(o.api) + "/dsp",
			})
		}
		if err := node.WriteConfig(n.dir, cfg); err != nil {
			return err
		}
	}
	return nil
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

// waitForMesh waits until every node sees the other four. No API read
// blocks until a peer connects, so it retries the nodes' status with
// tour.Retry, its pauses capped at 25 ms: the mesh time it reports (and
// bench/startup reads) is at most that late.
func waitForMesh(ctx context.Context, nodes []*demoNode, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := tour.Retry(ctx, timeout, tour.Backoff{Initial: 5 * time.Millisecond, Max: 25 * time.Millisecond}, func() (bool, error) {
		meshed := 0
		for _, n := range nodes {
			select {
			case err := <-n.exited:
				n.exited <- err
				return false, fmt.Errorf("%s exited early (%v); its log:\n%s", n.name, err, tail(filepath.Join(n.dir, "node.log")))
			default:
			}
			var s api.Status
			if n.client.get(ctx, "/v1/status", &s) == nil && s.PeersConnected == len(nodes)-1 {
				meshed++
			}
		}
		return meshed == len(nodes), nil
	})
	if errors.Is(err, tour.ErrGaveUp) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the five nodes did not form a full mesh within %v; see %s/*/node.log", timeout, filepath.Dir(nodes[0].dir))
	}
	return err
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

// tourNodes are the nodes as the tour reaches them: through their APIs.
func tourNodes(nodes []*demoNode) []tour.Node {
	out := make([]tour.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, tour.Node{Name: n.name, Admin: tourAPI{n.client},
			SignIn: func(ctx context.Context, user, password string) (tour.SignInResult, error) {
				return consoleSignIn(ctx, n, user, password)
			},
			Researcher: func(sub, org string) (tour.API, error) {
				c, err := researcherClient(n, sub, org)
				if err != nil {
					return nil, err
				}
				return tourAPI{c}, nil
			}})
	}
	return out
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

// tourAPI is the CLI's client as the tour calls it: a refusal by policy
// becomes a *tour.DeniedError, any other non-2xx answer a
// *tour.StatusError, each wrapping the client's error so that the exit
// code stays the CLI's.
type tourAPI struct{ c *client }

func (a tourAPI) Get(ctx context.Context, path string, out any) error {
	return tourError(a.c.get(ctx, path, out))
}

func (a tourAPI) Post(ctx context.Context, path string, body, out any) error {
	return tourError(a.c.post(ctx, path, body, out))
}

func (a tourAPI) Upload(ctx context.Context, path string, meta any, file string, out any) error {
	return tourError(a.c.upload(ctx, path, meta, file, "", out))
}

func (a tourAPI) UploadParts(ctx context.Context, path string, meta any, files [][2]string, out any) error {
	parts := make([]filePart, len(files))
	for i, f := range files {
		parts[i] = filePart{name: f[0], path: f[1]}
	}
	return tourError(a.c.uploadParts(ctx, path, meta, parts, out))
}

func tourError(err error) error {
	var ee *exitErr
	if errors.As(err, &ee) && ee.code == exitDenied {
		return &tour.DeniedError{Err: err}
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return &tour.StatusError{Status: ae.Status, Err: err}
	}
	return err
}
