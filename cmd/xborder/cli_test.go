package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
)

// xb runs the CLI in-process and returns its exit code and outputs.
func xb(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &out, &errb)
	return code, out.String(), errb.String()
}

func initNode(t *testing.T, dir, name, country string) {
	t.Helper()
	p := testkit.FreePort(t, true)
	code, out, errs := xb(t, "--data", dir, "init", "--name", name, "--country", country, "--org", "Org "+name,
		"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d,/ip4/127.0.0.1/udp/%d/quic-v1", p, p),
		"--api", fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t, false)))
	if code != 0 || !strings.HasPrefix(out, "12D3KooW") {
		t.Fatalf("init %s: exit %d, out %q, err %q", name, code, out, errs)
	}
}

func TestInitRefusesToOverwriteAndValidates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fr")
	initNode(t, dir, "fr-grandest", "FR")
	key, _ := os.ReadFile(filepath.Join(dir, node.KeyFile))

	code, _, errs := xb(t, "--data", dir, "init", "--name", "fr-grandest", "--country", "FR", "--org", "x")
	if code != exitError || !strings.Contains(errs, "refusing to overwrite") {
		t.Fatalf("second init: exit %d, %q", code, errs)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, node.KeyFile)); !bytes.Equal(again, key) {
		t.Fatal("key overwritten")
	}
	code, _, errs = xb(t, "--data", filepath.Join(t.TempDir(), "x"), "init", "--name", "x")
	if code != exitUsage || !strings.Contains(errs, "--country, --org") {
		t.Fatalf("missing flags: exit %d, %q", code, errs)
	}
	code, _, errs = xb(t, "--data", filepath.Join(t.TempDir(), "x"), "init", "--name", "x", "--country", "France", "--org", "o")
	if code != exitError || !strings.Contains(errs, `country: "France" is not an ISO 3166-1 alpha-2`) {
		t.Fatalf("bad country: exit %d, %q", code, errs)
	}
	if code, _, _ := xb(t, "init", "--bogus"); code != exitUsage {
		t.Fatalf("unknown flag: exit %d", code)
	}
	if code, _, _ := xb(t, "no-such-command"); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
}

func TestGenesisFromCardsAndDataDirs(t *testing.T) {
	tmp := t.TempDir()
	fr, de := filepath.Join(tmp, "fr"), filepath.Join(tmp, "de")
	initNode(t, fr, "fr-grandest", "FR")
	initNode(t, de, "de-bw", "DE")

	code, cardJSON, errs := xb(t, "--data", de, "identity", "--json")
	if code != 0 {
		t.Fatalf("identity: %d %s", code, errs)
	}
	var card node.Card
	if err := json.Unmarshal([]byte(cardJSON), &card); err != nil || card.Name != "de-bw" || card.Country != "DE" || len(card.Addrs) != 2 {
		t.Fatalf("identity card %q: %v", cardJSON, err)
	}
	cardFile := filepath.Join(tmp, "de.card.json")
	must(t, os.WriteFile(cardFile, []byte(cardJSON), 0o644))

	out := filepath.Join(tmp, "federation.json")
	code, id, errs := xb(t, "genesis", "--federation", "grand-est-ai", "--out", out, fr, cardFile)
	if code != 0 || len(strings.TrimSpace(id)) != 64 {
		t.Fatalf("genesis: exit %d, %q %q", code, id, errs)
	}
	g, err := node.LoadGenesis(out)
	must(t, err)
	if g.ID() != strings.TrimSpace(id) || len(g.Members) != 2 {
		t.Fatalf("genesis file does not match the printed ID")
	}
	if code, _, errs := xb(t, "genesis", "--federation", "grand-est-ai", "--out", out, fr); code != exitError || !strings.Contains(errs, "--force") {
		t.Fatalf("overwrite: exit %d %q", code, errs)
	}
	// Validation errors name the member and the field.
	card.Country = "XX"
	bad, _ := json.Marshal(card)
	must(t, os.WriteFile(cardFile, bad, 0o644))
	code, _, errs = xb(t, "genesis", "--federation", "f", "--out", filepath.Join(tmp, "g2.json"), fr, cardFile)
	if code != exitError || !strings.Contains(errs, `card.country: "XX"`) {
		t.Fatalf("bad card: exit %d %q", code, errs)
	}
	code, _, errs = xb(t, "genesis", "--federation", "f", "--out", filepath.Join(tmp, "g3.json"), fr, fr)
	if code != exitError || !strings.Contains(errs, "members[1].name") || !strings.Contains(errs, "members[1].peer_id") {
		t.Fatalf("duplicate member: exit %d %q", code, errs)
	}
	if code, _, _ := xb(t, "genesis", "--out", filepath.Join(tmp, "g4.json"), fr); code != exitUsage {
		t.Fatalf("missing --federation: exit %d", code)
	}
	if code, _, _ := xb(t, "genesis", "--federation", "f"); code != exitUsage {
		t.Fatalf("no cards: exit %d", code)
	}
}

func TestConfigPrecedenceFlagEnvFileDefault(t *testing.T) {
	dir := t.TempDir()
	cfg := node.DefaultConfig()
	cfg.Name, cfg.Country, cfg.Org = "fr-grandest", "FR", "o"
	cfg.Log.Level = "warn"   // file
	cfg.API = "0.0.0.0:9000" // file
	must(t, node.WriteConfig(dir, cfg))

	resolve := func(env map[string]string, flags ...string) node.Config {
		t.Helper()
		c, err := node.LoadConfig(dir)
		must(t, err)
		cmd := newRunCmd(&globals{})
		must(t, cmd.Flags().Parse(flags))
		must(t, applyOverrides(&c, cmd.Flags(), func(k string) string { return env[k] }))
		return c
	}
	env := map[string]string{"XBORDER_LOG_LEVEL": "error", "XBORDER_DISCOVERY_MDNS": "false"}
	if c := resolve(env, "--log-level", "debug"); c.Log.Level != "debug" || c.Discovery.MDNS {
		t.Errorf("flag should beat env: %+v", c.Log)
	}
	if c := resolve(env); c.Log.Level != "error" {
		t.Errorf("env should beat file: %q", c.Log.Level)
	}
	if c := resolve(nil); c.Log.Level != "warn" || c.API != "0.0.0.0:9000" {
		t.Errorf("file should beat default: %q %q", c.Log.Level, c.API)
	}
	if c := resolve(nil); c.Log.Format != "auto" || !c.Discovery.DHT || c.Policy.Evaluator != "plan" {
		t.Errorf("defaults lost: %+v", c)
	}
	evalEnv := map[string]string{"XBORDER_POLICY_EVALUATOR": "topdown"}
	if c := resolve(evalEnv); c.Policy.Evaluator != "topdown" {
		t.Errorf("XBORDER_POLICY_EVALUATOR: %q", c.Policy.Evaluator)
	}
	if c := resolve(evalEnv, "--policy-evaluator", "plan"); c.Policy.Evaluator != "plan" {
		t.Errorf("--policy-evaluator over the env: %q", c.Policy.Evaluator)
	}
	c, _ := node.LoadConfig(dir)
	cmd := newRunCmd(&globals{})
	if err := applyOverrides(&c, cmd.Flags(), func(k string) string {
		return map[string]string{"XBORDER_SHUTDOWN_TIMEOUT": "soon"}[k]
	}); err == nil || !strings.Contains(err.Error(), "XBORDER_SHUTDOWN_TIMEOUT") {
		t.Errorf("bad env value: %v", err)
	}

	// The global flags follow the same order: --data flag > XBORDER_DATA.
	t.Setenv("XBORDER_DATA", dir)
	if code, out, errs := xb(t, "identity", "--json"); code != exitError || out != "" || !strings.Contains(errs, "xborder init") {
		// identity reads the key, which this config-only dir lacks: the
		// error proves XBORDER_DATA was used.
		t.Errorf("XBORDER_DATA: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := xb(t, "--data", filepath.Join(dir, "nope"), "identity"); code != exitError || !strings.Contains(errs, "nope") {
		t.Errorf("--data over XBORDER_DATA: %d %q", code, errs)
	}
}

func TestStatusPeersAndTokensAgainstARunningNode(t *testing.T) {
	tmp := t.TempDir()
	fr, de := filepath.Join(tmp, "fr"), filepath.Join(tmp, "de")
	initNode(t, fr, "fr-grandest", "FR")
	initNode(t, de, "de-bw", "DE")
	gen := filepath.Join(tmp, "federation.json")
	if code, _, errs := xb(t, "genesis", "--federation", "grand-est-ai", "--out", gen, fr, de); code != 0 {
		t.Fatal(errs)
	}
	var nodes []*node.Node
	for _, dir := range []string{fr, de} {
		cfg, err := node.LoadConfig(dir)
		must(t, err)
		cfg.Discovery.MDNS = false
		must(t, node.InstallGenesis(dir, cfg, gen))
		n, err := node.Open(dir, cfg)
		must(t, err)
		must(t, n.Start(context.Background()))
		t.Cleanup(func() { _ = n.Close() })
		nodes = append(nodes, n)
	}

	var st api.Status
	testkit.EventuallyNil(t, 30*time.Second, "fr-grandest sees de-bw", func() error {
		code, out, errs := xb(t, "--data", fr, "status", "--json")
		if code != 0 {
			t.Fatalf("status: %d %s", code, errs)
		}
		must(t, json.Unmarshal([]byte(out), &st))
		if st.PeersConnected != 1 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	if st.Name != "fr-grandest" || st.PeerID != nodes[0].ID().String() || !st.Ready || st.Members != 2 {
		t.Fatalf("status = %+v", st)
	}
	code, out, _ := xb(t, "--data", fr, "status")
	if code != 0 || !strings.Contains(out, "1 of 1 other members connected") {
		t.Fatalf("status table: %q", out)
	}
	code, out, _ = xb(t, "--data", fr, "peers")
	if code != 0 || !strings.Contains(out, "de-bw") || !strings.Contains(out, "self") {
		t.Fatalf("peers table: %q", out)
	}
	datasetWithDictionary(t, tmp, fr, de)
	analyseFromTheCommandLine(t, tmp, fr, de)
	evaluateFromTheCommandLine(t, tmp, fr, de)

	// A researcher token minted by the CLI works; one minted by another
	// node does not; nor does an expired one.
	_, tok, _ := xb(t, "--data", fr, "token", "issue", "--sub", "alice@uni-freiburg.de", "--role", "researcher", "--ttl", "1h")
	if code, _, errs := xb(t, "--data", fr, "--token", strings.TrimSpace(tok), "peers", "--json"); code != 0 {
		t.Fatalf("researcher token refused: %s", errs)
	}
	_, foreign, _ := xb(t, "--data", de, "token", "issue", "--sub", "x", "--role", "operator")
	code, _, errs := xb(t, "--data", fr, "--token", strings.TrimSpace(foreign), "status")
	if code != exitError || !strings.Contains(errs, "refused the token") {
		t.Fatalf("foreign token: %d %q", code, errs)
	}
	if code, _, _ := xb(t, "--data", fr, "token", "issue", "--sub", "x", "--role", "root"); code != exitUsage {
		t.Fatalf("bad role: exit %d", code)
	}
	addr := nodes[0].APIAddr()
	code, _, errs = xb(t, "--addr", "http://"+addr, "--token", "abc", "status")
	if code != exitError || !strings.Contains(errs, "malformed") {
		t.Fatalf("bad token: %d %q", code, errs)
	}
	// The registry: a one-country project is refused by this node's policy
	// (exit 3, reasons printed); a Franco-German one is committed and read
	// back from the other region's replica.
	code, _, errs = xb(t, "--data", fr, "project", "propose", "--id", "fr-only", "--title", "T", "--themes", "health", "--partners", "fr-grandest")
	if code != exitDenied || !strings.Contains(errs, "denied by policy:") || !strings.Contains(errs, "  - ") {
		t.Fatalf("one-country project: exit %d %q", code, errs)
	}
	testkit.EventuallyNil(t, 30*time.Second, "the Franco-German project is committed", func() error {
		code, out, errs := xb(t, "--data", fr, "project", "propose", "--id", "fr-de-oncology", "--title", "Franco-German oncology",
			"--themes", "health", "--partners", "fr-grandest,de-bw", "--ethics", "CPP-1")
		if code == 0 && strings.Contains(out, "committed at index") {
			return nil
		}
		if !strings.Contains(errs, "no leader") {
			t.Fatalf("propose: exit %d %q %q", code, out, errs)
		}
		return fmt.Errorf("exit %d %q %q", code, out, errs)
	})
	testkit.EventuallyNil(t, 30*time.Second, "de-bw sees the project", func() error {
		code, out, _ := xb(t, "--data", de, "project", "show", "fr-de-oncology", "--json")
		if code == 0 && strings.Contains(out, `"lead": "fr-grandest"`) {
			return nil
		}
		return fmt.Errorf("%d %q", code, out)
	})
	if code, out, _ := xb(t, "--data", de, "project", "list"); code != 0 || !strings.Contains(out, "fr-de-oncology") {
		t.Fatalf("project list: %d %q", code, out)
	}

	// The audit trail holds the decisions just taken and verifies.
	if code, out, _ := xb(t, "--data", fr, "audit", "list", "--type", "registry.decision", "--json"); code != 0 || !strings.Contains(out, `"allow": false`) || !strings.Contains(out, `"allow": true`) {
		t.Fatalf("audit list: %d %q", code, out)
	}
	if code, out, errs := xb(t, "--data", fr, "audit", "verify"); code != 0 || !strings.Contains(out, "audit trail verified") {
		t.Fatalf("audit verify: %d %q %q", code, out, errs)
	}

	// Each member declares its policy bundle; a partner's is shown by name.
	testkit.EventuallyNil(t, 30*time.Second, "policy show --peer de-bw", func() error {
		code, out, _ := xb(t, "--data", fr, "policy", "show", "--peer", "de-bw")
		if code == 0 && strings.Contains(out, "de-bw") && strings.HasSuffix(strings.TrimSpace(out), "yes") {
			return nil
		}
		return fmt.Errorf("%d %q", code, out)
	})
	if code, _, errs := xb(t, "--data", fr, "policy", "show", "--peer", "nl-limburg"); code != exitUsage || !strings.Contains(errs, "not a member") {
		t.Fatalf("policy show for a non-member: %d %q", code, errs)
	}

	// An unreachable node gets a clear message.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	code, _, errs = xb(t, "--addr", dead, "--token", "abc", "status")
	if code != exitError || !strings.Contains(errs, "is `xborder run` running?") {
		t.Fatalf("unreachable: %d %q", code, errs)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// init in a data dir whose key is missing refuses, with one line saying
// how to recover; --new-identity proceeds and warns that partners must
// re-admit the node.
func TestInitWithoutTheKeyRefusesUnlessANewIdentityIsAskedFor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fr")
	initNode(t, dir, "fr-grandest", "FR")
	oldKey, err := os.ReadFile(filepath.Join(dir, node.KeyFile))
	must(t, err)
	must(t, os.Remove(filepath.Join(dir, node.KeyFile)))
	token, err := os.ReadFile(filepath.Join(dir, node.AdminTokenFile))
	must(t, err)

	args := []string{"--data", dir, "init", "--name", "fr-grandest", "--country", "FR", "--org", "Région Grand Est"}
	code, out, errs := xb(t, args...)
	if code != exitError || out != "" {
		t.Fatalf("init without the key: exit %d, out %q", code, out)
	}
	if lines := strings.Split(strings.TrimSpace(errs), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "restore the key from backup") || !strings.Contains(lines[0], "--new-identity") {
		t.Fatalf("want one line with the recovery, got %q", errs)
	}
	if _, err := os.Stat(filepath.Join(dir, node.KeyFile)); !os.IsNotExist(err) {
		t.Fatal("a refused init wrote a key")
	}
	if again, _ := os.ReadFile(filepath.Join(dir, node.AdminTokenFile)); !bytes.Equal(again, token) {
		t.Fatal("a refused init replaced the admin token")
	}

	code, out, errs = xb(t, append(args, "--new-identity")...)
	if code != 0 || !strings.HasPrefix(out, "12D3KooW") {
		t.Fatalf("init --new-identity: exit %d, out %q, err %q", code, out, errs)
	}
	if !strings.Contains(errs, "new identity") || !strings.Contains(errs, "re-admit") || !strings.Contains(errs, "xborder member rekey ") {
		t.Fatalf("no warning that partners must re-admit the node: %q", errs)
	}
	if newKey, _ := os.ReadFile(filepath.Join(dir, node.KeyFile)); bytes.Equal(newKey, oldKey) || len(newKey) == 0 {
		t.Fatal("no new key")
	}
	// With the key back, even --new-identity refuses.
	if code, _, errs := xb(t, append(args, "--new-identity")...); code != exitError || !strings.Contains(errs, "refusing to overwrite") {
		t.Fatalf("--new-identity over a key: exit %d, %q", code, errs)
	}
}

func TestStatusPolicyLineShowsTheEvaluator(t *testing.T) {
	line := policyLine(api.PolicyStatus{Hash: strings.Repeat("ab", 32), Evaluator: "topdown: policy.evaluator is topdown", EvaluatorConfigured: "topdown"})
	if !strings.Contains(line, "evaluated topdown: policy.evaluator is topdown (configured topdown)") {
		t.Fatalf("policy line: %q", line)
	}
}
