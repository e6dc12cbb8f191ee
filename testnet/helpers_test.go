//go:build testnet

package testnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
)

// The testnet as testnet/testnet.sh and docker-compose.yml define it.
const (
	stateDir = ".state"
	network  = "xborder-testnet"
	image    = "xborder-testnet:latest"
)

type member struct {
	Name, Country, Org, IP string
	Port                   int
}

var members = []member{
	{"fr-grandest", "FR", "Région Grand Est", "10.207.74.11", 17401},
	{"de-bw", "DE", "Land Baden-Württemberg", "10.207.74.12", 17402},
	{"ch-basel", "CH", "Kanton Basel-Stadt", "10.207.74.13", 17403},
	{"be-wallonie", "BE", "Région wallonne", "10.207.74.14", 17404},
	{"lu-luxembourg", "LU", "Grand-Duché de Luxembourg", "10.207.74.15", 17405},
}

// tnode is one testnet node reached through its published API port.
type tnode struct {
	member
	base, token string
	http        *http.Client
}

func (m member) dataDir() string { return filepath.Join(stateDir, "nodes", m.Name) }

// nodes returns the five nodes with their admin tokens.
func nodes(t testing.TB) []*tnode {
	t.Helper()
	var out []*tnode
	for _, m := range members {
		tok, err := os.ReadFile(filepath.Join(m.dataDir(), node.AdminTokenFile))
		if err != nil {
			t.Fatalf("no testnet state (%v): run `make testnet` first", err)
		}
		out = append(out, &tnode{member: m, base: fmt.Sprintf("http://127.0.0.1:%d", m.Port),
			token: strings.TrimSpace(string(tok)), http: &http.Client{Timeout: 15 * time.Second}})
	}
	return out
}

func byName(t testing.TB, name string) *tnode {
	t.Helper()
	for _, n := range nodes(t) {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %s", name)
	return nil
}

// as returns the node reached with another token.
func (n *tnode) as(token string) *tnode {
	c := *n
	c.token = token
	return &c
}

// apiErr is a non-2xx answer.
type apiErr struct {
	Status  int
	Msg     string   `json:"error"`
	Denied  bool     `json:"denied"`
	Reasons []string `json:"reasons"`
	Rules   []string `json:"rules"`
}

func (e *apiErr) Error() string {
	return fmt.Sprintf("HTTP %d: %s %v %v", e.Status, e.Msg, e.Reasons, e.Rules)
}

func statusOf(err error) int {
	var ae *apiErr
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func (n *tnode) send(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := n.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s%s: %w", method, n.Name, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiErr{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || e.Msg == "" {
			e.Msg = strings.TrimSpace(string(raw))
		}
		e.Status = resp.StatusCode
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s%s: %w", n.Name, path, err)
	}
	return nil
}

func (n *tnode) get(ctx context.Context, path string, out any) error {
	return n.send(ctx, http.MethodGet, path, nil, "", out)
}

func (n *tnode) post(ctx context.Context, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return n.send(ctx, http.MethodPost, path, bytes.NewReader(raw), "application/json", out)
}

// The API's answers, reduced to what the scenarios check.
type (
	raftStatus struct {
		State       string `json:"state"`
		Leader      string `json:"leader"`
		LeaderID    string `json:"leader_id"`
		Term        uint64 `json:"term"`
		CommitIndex uint64 `json:"commit_index"`
	}
	status struct {
		Name           string      `json:"name"`
		PeerID         string      `json:"peer_id"`
		Ready          bool        `json:"ready"`
		PeersConnected int         `json:"peers_connected"`
		Members        int         `json:"members"`
		Raft           *raftStatus `json:"raft"`
		Catalogue      *struct {
			Version uint64 `json:"version"`
		} `json:"catalogue"`
	}
	peer struct {
		Name      string `json:"name"`
		PeerID    string `json:"peer_id"`
		Self      bool   `json:"self"`
		Connected bool   `json:"connected"`
	}
	publication struct {
		ID             string     `json:"id"`
		Title          string     `json:"title"`
		Description    string     `json:"description"`
		Theme          string     `json:"theme"`
		Classification string     `json:"classification"`
		Partners       []string   `json:"partners,omitempty"`
		PersonalData   bool       `json:"personal_data"`
		PublicListing  bool       `json:"public_listing,omitempty"`
		License        string     `json:"license"`
		Keywords       []string   `json:"keywords,omitempty"`
		Kind           string     `json:"kind,omitempty"`
		Model          *modelCard `json:"model,omitempty"`
		// Dictionary is a tabular dataset's data dictionary, which the
		// federated analyses read.
		Dictionary *tabular.Dictionary `json:"dictionary,omitempty"`
	}
	modelCard struct {
		Task             string             `json:"task"`
		Architecture     string             `json:"architecture"`
		TrainingDatasets []string           `json:"training_datasets"`
		Metrics          map[string]float64 `json:"metrics"`
		IntendedUses     []string           `json:"intended_uses"`
		ExcludedUses     []string           `json:"excluded_uses"`
	}
	partyState struct {
		Member   string `json:"member"`
		Decision *struct {
			Allow   bool     `json:"allow"`
			Reasons []string `json:"reasons"`
		} `json:"decision"`
		Signed bool `json:"signed"`
	}
	agreement struct {
		ID          string       `json:"id"`
		Status      string       `json:"status"`
		InRegistry  bool         `json:"in_registry"`
		PartyStates []partyState `json:"party_states"`
		RevokedBy   string       `json:"revoked_by"`
		Document    struct {
			Signatures []json.RawMessage `json:"signatures"`
		} `json:"document"`
	}
	entry struct {
		Owner          string `json:"owner"`
		ID             string `json:"id"`
		Classification string `json:"classification"`
		SHA256         string `json:"sha256"`
		Size           int64  `json:"size"`
	}
	catalogue struct {
		Entries []entry `json:"entries"`
		Peers   []struct {
			Owner    string    `json:"owner"`
			Version  uint64    `json:"version"`
			SyncedAt time.Time `json:"synced_at"`
		} `json:"peers"`
	}
	project struct {
		ID       string   `json:"id"`
		Title    string   `json:"title"`
		Themes   []string `json:"themes"`
		Partners []string `json:"partners"`
		Datasets []string `json:"datasets,omitempty"`
		Ethics   string   `json:"ethics_ref,omitempty"`
		Status   string   `json:"status,omitempty"`
	}
	projectList struct {
		Projects     []project `json:"projects"`
		AppliedIndex uint64    `json:"applied_index"`
	}
	accessRequest struct {
		Owner   string `json:"owner"`
		ID      string `json:"id"`
		Purpose string `json:"purpose"`
		Project string `json:"project,omitempty"`
	}
	accessAnswer struct {
		Allow       bool     `json:"allow"`
		Reasons     []string `json:"reasons"`
		Rules       []string `json:"rules"`
		Obligations []string `json:"obligations"`
	}
	job struct {
		ID         string    `json:"id"`
		State      string    `json:"state"`
		Error      string    `json:"error"`
		Size       int64     `json:"size"`
		Received   int64     `json:"received"`
		SHA256     string    `json:"sha256"`
		Attempts   int       `json:"attempts"`
		StartedAt  time.Time `json:"started_at"`
		FinishedAt time.Time `json:"finished_at"`
	}
	auditReport struct {
		OK              bool   `json:"ok"`
		Records         uint64 `json:"records"`
		Head            string `json:"head"`
		ContentVerified bool   `json:"content_verified"`
		FirstBad        *struct {
			Seq    uint64 `json:"seq"`
			Reason string `json:"reason"`
		} `json:"first_bad"`
	}
)

func (n *tnode) status(ctx context.Context) (status, error) {
	var s status
	err := n.get(ctx, "/v1/status", &s)
	return s, err
}

func (n *tnode) catalogue(ctx context.Context, query string) (catalogue, error) {
	var c catalogue
	err := n.get(ctx, "/v1/catalogue"+query, &c)
	return c, err
}

func (c catalogue) has(owner, id string) bool {
	return slices.ContainsFunc(c.Entries, func(e entry) bool { return e.Owner == owner && e.ID == id })
}

func (n *tnode) projects(ctx context.Context) (map[string]bool, error) {
	var l projectList
	if err := n.get(ctx, "/v1/projects", &l); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, p := range l.Projects {
		ids[p.ID] = true
	}
	return ids, nil
}

// publish uploads content as a dataset (multipart: metadata, then file).
func (n *tnode) publish(ctx context.Context, p publication, content io.Reader) (entry, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			part, err := mw.CreateFormField("metadata")
			if err != nil {
				return err
			}
			if err := json.NewEncoder(part).Encode(p); err != nil {
				return err
			}
			fp, err := mw.CreateFormFile("file", p.ID+".csv")
			if err != nil {
				return err
			}
			if _, err := io.Copy(fp, content); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var e entry
	c := *n
	c.http = &http.Client{Timeout: 10 * time.Minute}
	err := c.send(ctx, http.MethodPost, "/v1/datasets", pr, mw.FormDataContentType(), &e)
	return e, err
}

// propose submits a joint project; it retries while the registry has no
// leader (503) or the node cannot be reached, and returns the commit index.
func (n *tnode) propose(ctx context.Context, p project, within time.Duration) (uint64, error) {
	deadline := time.Now().Add(within)
	for {
		var c struct {
			Index uint64 `json:"index"`
		}
		err := n.post(ctx, "/v1/projects", p, &c)
		if err == nil {
			return c.Index, nil
		}
		if s := statusOf(err); (s != 0 && s != http.StatusServiceUnavailable) || time.Now().After(deadline) {
			return 0, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitJob polls a transfer job until it is no longer running.
func (n *tnode) waitJob(t testing.TB, id string, within time.Duration) job {
	t.Helper()
	var j job
	testkit.EventuallyNil(t, within, "transfer "+id+" finishes", func() error {
		if err := n.get(context.Background(), "/v1/transfers/"+id, &j); err != nil {
			return err
		}
		if j.State == "running" {
			return fmt.Errorf("running, %d of %d bytes, %d attempts", j.Received, j.Size, j.Attempts)
		}
		return nil
	})
	return j
}

// docker runs a docker command and fails the test when it fails.
func docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := dockerOut(nil, args...)
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func dockerOut(stdin io.Reader, args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// xborderIn runs the xborder CLI inside a container (admin token and API
// address from its /data), for nodes the host cannot reach during a
// partition: the published port goes through the network it left.
func xborderIn(ctx context.Context, container string, out any, args ...string) error {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", container, "/xborder"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: xborder %s: %v: %s", container, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if out != nil {
		return json.Unmarshal(stdout.Bytes(), out)
	}
	return nil
}

func containerState(name string) (running, paused bool, ip string) {
	out, err := dockerOut(nil, "inspect", "-f",
		`{{.State.Running}} {{.State.Paused}} {{with index .NetworkSettings.Networks "`+network+`"}}{{.IPAddress}}{{end}}`, name)
	if err != nil {
		return false, false, ""
	}
	f := strings.Fields(out)
	if len(f) < 2 {
		return false, false, ""
	}
	if len(f) == 3 {
		ip = f[2]
	}
	return f[0] == "true", f[1] == "true", ip
}

// restore undoes any fault a scenario left behind: starts stopped nodes,
// unpauses paused ones, reconnects disconnected ones with their IP.
func restore(t testing.TB) {
	t.Helper()
	for _, m := range members {
		running, paused, ip := containerState(m.Name)
		if paused {
			docker(t, "unpause", m.Name)
		}
		if !running {
			docker(t, "start", m.Name)
		}
		if ip == "" {
			docker(t, "network", "connect", "--ip", m.IP, network, m.Name)
		}
	}
}

// healthy waits until the five nodes are ready, each sees the other four,
// and all agree on one raft leader; it returns the leader.
func healthy(t testing.TB, within time.Duration) *tnode {
	t.Helper()
	restore(t)
	all := nodes(t)
	var leader *tnode
	testkit.EventuallyNil(t, within, "five ready nodes, full mesh, one leader", func() error {
		leaders := map[string]bool{}
		leader = nil
		for _, n := range all {
			s, err := n.status(context.Background())
			if err != nil {
				return err
			}
			if !s.Ready || s.PeersConnected != len(all)-1 {
				return fmt.Errorf("%s: ready %v, %d peers", n.Name, s.Ready, s.PeersConnected)
			}
			if s.Raft == nil || s.Raft.Leader == "" {
				return fmt.Errorf("%s has no raft leader", n.Name)
			}
			leaders[s.Raft.Leader] = true
			if s.Raft.State == "leader" {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.Name, n.Name)
				}
				leader = n
			}
		}
		if len(leaders) != 1 || leader == nil {
			return fmt.Errorf("nodes name leaders %v", leaders)
		}
		return nil
	})
	return leader
}

// researcherToken mints a researcher token signed by a node's key, as
// `xborder token issue --role researcher` does.
func researcherToken(t testing.TB, nodeName, sub, org string) string {
	t.Helper()
	id, err := node.LoadKey(filepath.Join(stateDir, "nodes", nodeName, node.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := api.IssueToken(id.Key, id.PeerID.String(), api.User{Subject: sub, Role: api.RoleResearcher, Org: org}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var runSeq atomic.Int64

// runID names one scenario run, so that repeated runs on the same testnet
// publish and propose fresh IDs.
func runID() string {
	return strconv.FormatInt(time.Now().Unix()%1_000_000, 36) + strconv.FormatInt(runSeq.Add(1), 36)
}

// rows generates n CSV-ish lines of deterministic content.
func rows(seed string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%s,%d,%d,%.2f\n", seed, i, (i*7919)%1000, float64(i%97)/7)
	}
	return b.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// bulk is an io.Reader of size bytes of pseudo-random content, and the
// SHA-256 of what it produced once read to the end.
type bulk struct {
	left  int64
	state uint64
	h     interface {
		io.Writer
		Sum([]byte) []byte
	}
	buf []byte
}

func newBulk(size int64, seed uint64) *bulk {
	return &bulk{left: size, state: seed | 1, h: sha256.New(), buf: make([]byte, 64<<10)}
}

func (b *bulk) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), b.left, int64(len(b.buf)))
	for i := int64(0); i+8 <= n; i += 8 {
		b.state ^= b.state << 13
		b.state ^= b.state >> 7
		b.state ^= b.state << 17
		for k := range int64(8) {
			p[i+k] = byte(b.state >> (8 * k))
		}
	}
	for i := n - n%8; i < n; i++ {
		p[i] = byte(i)
	}
	b.h.Write(p[:n])
	b.left -= n
	return int(n), nil
}

func (b *bulk) sum() string { return hex.EncodeToString(b.h.Sum(nil)) }

// metric sums the samples of a Prometheus counter on a node's /metrics.
func (n *tnode) metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := n.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for line := range strings.SplitSeq(string(raw), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, nil
}
