package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
)

// startWith opens node i, lets prepare adjust it, and starts it.
func (f *testFed) startWith(i int, prepare func(*Node)) *Node {
	f.t.Helper()
	n := f.open(i)
	prepare(n)
	if err := n.Start(context.Background()); err != nil {
		f.t.Fatalf("start %s: %v", f.cfgs[i].Name, err)
	}
	f.t.Cleanup(func() { _ = n.Close() })
	return n
}

// callAs makes an API request to a node as user, with an optional JSON
// body; it returns the status and the body.
func callAs(t *testing.T, n *Node, u api.User, method, path string, body any) (int, []byte) {
	t.Helper()
	tok, err := api.IssueToken(n.id.Key, n.id.PeerID.String(), u, time.Hour, time.Now())
	must(t, err)
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		must(t, err)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, "http://"+n.APIAddr()+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// readyz asks a node's /readyz.
func readyz(t *testing.T, n *Node) (int, api.Readiness) {
	t.Helper()
	resp, err := http.Get("http://" + n.APIAddr() + "/readyz")
	must(t, err)
	defer resp.Body.Close()
	var r api.Readiness
	must(t, json.NewDecoder(resp.Body).Decode(&r))
	return resp.StatusCode, r
}

// fullDisk is an audit trail whose writes fail while full is set, as
// bbolt's commits do on a full disk; the rest goes to the real trail.
type fullDisk struct {
	auditAppender
	full atomic.Bool
}

func (d *fullDisk) Append(typ, subject string, details any) (audit.Record, error) {
	if d.full.Load() {
		return audit.Record{}, &os.PathError{Op: "write", Path: "audit.db", Err: syscall.ENOSPC}
	}
	return d.auditAppender.Append(typ, subject, details)
}

// publishOpen publishes open data at n and waits until each reader sees it.
func publishOpen(t *testing.T, n *Node, id, content string, readers ...*Node) exchange.Entry {
	t.Helper()
	ctx := context.Background()
	e, err := n.catalogue.Publish(ctx, exchange.Publication{ID: id, Title: id, Theme: "industry", Classification: "open",
		License: "CC-BY-4.0", FileName: id + ".csv"}, strings.NewReader(content))
	must(t, err)
	for _, r := range readers {
		testkit.Eventually(t, 30*time.Second, r.cfg.Name+" sees "+id, func() bool {
			_, err := r.catalogue.Entry(ctx, n.cfg.Name, id)
			return err == nil
		})
	}
	return e
}

// waitTransfer waits for a transfer job to end and returns it.
func waitTransfer(t *testing.T, n *Node, id string) exchange.JobStatus {
	t.Helper()
	var st exchange.JobStatus
	testkit.Eventually(t, 60*time.Second, "transfer "+id+" ends", func() bool {
		var ok bool
		st, ok = n.exchange.Transfer(context.Background(), operator.Caller(), id)
		return ok && st.State != exchange.JobRunning
	})
	return st
}

func TestGrantWithinAProjectEndsWhenTheProjectClosesOrForANonPartner(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:3], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	fr, de, ch := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	content := strings.Repeat("2025-01-01,CHU-1,40-49,3\n", 2000)
	_, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: "icu-admissions", Title: "ICU admissions", Theme: "health",
		Classification: "sensitive", PersonalData: true, FileName: "icu.csv"}, strings.NewReader(content))
	must(t, err)
	publishOpen(t, fr, "air-quality", "station,pm10\nSXB-1,12\n", ch)
	p := consensus.ProjectProposal{ID: "fr-de-oncology", Title: "Franco-German oncology", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/icu-admissions"}, EthicsRef: "CPP-EST-2026-114"}
	testkit.Eventually(t, 30*time.Second, "the project is committed", func() bool {
		_, err = fr.clerk.Submit(ctx, consensus.OpProjectPropose, p)
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	must(t, err)
	alice := api.User{Subject: "alice@uni-freiburg.de", Org: "Universität Freiburg", Role: api.RoleResearcher}
	ans, err := de.exchange.RequestAccess(ctx, alice.Caller(), "fr-grandest", "icu-admissions", "research", p.ID)
	must(t, err)
	if g, ok := grantByID(de, ans.GrantID); !ok || g.Project != p.ID {
		t.Fatalf("the grant does not name the project: %+v", g)
	}

	// The lead closes the project: the grant de-bw holds is refused by
	// the owner when it is used, and says why.
	_, err = fr.clerk.Submit(ctx, consensus.OpProjectClose, consensus.ProjectRef{ID: p.ID})
	must(t, err)
	job, err := de.exchange.StartFetch(ctx, alice.Caller(), "fr-grandest", "icu-admissions", "", "")
	must(t, err)
	st := waitTransfer(t, de, job.ID)
	if st.State != exchange.JobFailed || st.Received != 0 ||
		!strings.Contains(st.Error, "project_closed") || !strings.Contains(st.Error, "project fr-de-oncology, within which the grant was issued, is closed") {
		t.Fatalf("a transfer under the grant of a closed project: %+v", st)
	}

	// ch-basel is no partner of an (active) project: the open data it
	// was granted within that project is not served under it.
	p2 := consensus.ProjectProposal{ID: "fr-de-air", Title: "Rhine air", Themes: []string{"industry"},
		Partners: []string{"fr-grandest", "de-bw"}}
	_, err = fr.clerk.Submit(ctx, consensus.OpProjectPropose, p2)
	must(t, err)
	carl := api.User{Subject: "carl@unibas.ch", Org: "Universität Basel", Role: api.RoleResearcher}
	job, err = ch.exchange.StartFetch(ctx, carl.Caller(), "fr-grandest", "air-quality", "research", p2.ID)
	must(t, err)
	st = waitTransfer(t, ch, job.ID)
	if st.State != exchange.JobFailed || !strings.Contains(st.Error, "not_a_partner") || !strings.Contains(st.Error, "ch-basel is not a partner of project fr-de-air") {
		t.Fatalf("a non-partner's transfer within a project: %+v", st)
	}
	recs, _, err := fr.audit.AuditRecords(context.Background(), audit.Filter{Type: exchange.RecordTransferRefused})
	must(t, err)
	if len(recs) != 2 {
		t.Fatalf("the owner recorded %d refused transfers, want 2", len(recs))
	}
}

func TestTransfersBelongToTheResearcherWhoStartedThem(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	fr, de := nodes[0], nodes[1]
	content := "station,pm10\nSXB-1,12\nSXB-2,17\n"
	publishOpen(t, fr, "air-quality", content, de)
	alice := api.User{Subject: "alice@uni-freiburg.de", Org: "Universität Freiburg", Role: api.RoleResearcher}
	bob := api.User{Subject: "bob@kit.edu", Org: "KIT", Role: api.RoleResearcher}

	code, body := callAs(t, de, alice, http.MethodPost, "/v1/fetch", api.AccessRequest{Owner: "fr-grandest", ID: "air-quality", Purpose: "research"})
	if code != http.StatusAccepted {
		t.Fatalf("alice's fetch: %d %s", code, body)
	}
	var job exchange.JobStatus
	must(t, json.Unmarshal(body, &job))
	if job.Requester != alice.Subject {
		t.Fatalf("the job does not name who started it: %+v", job)
	}
	if st := waitTransfer(t, de, job.ID); st.State != exchange.JobDone {
		t.Fatalf("alice's transfer: %+v", st)
	}

	list := func(u api.User) []exchange.JobStatus {
		t.Helper()
		code, body := callAs(t, de, u, http.MethodGet, "/v1/transfers", nil)
		if code != http.StatusOK {
			t.Fatalf("%s lists transfers: %d %s", u.Subject, code, body)
		}
		var jobs []exchange.JobStatus
		must(t, json.Unmarshal(body, &jobs))
		return jobs
	}
	if jobs := list(alice); len(jobs) != 1 || jobs[0].ID != job.ID {
		t.Fatalf("alice's list: %+v", jobs)
	}
	if jobs := list(bob); len(jobs) != 0 {
		t.Fatalf("bob sees alice's transfers: %+v", jobs)
	}
	// Another researcher's transfer does not exist for bob.
	for _, path := range []string{"/v1/transfers/" + job.ID, "/v1/transfers/" + job.ID + "/content"} {
		if code, body := callAs(t, de, bob, http.MethodGet, path, nil); code != http.StatusNotFound {
			t.Fatalf("bob GET %s: %d %s", path, code, body)
		}
	}
	downloads := func() int {
		recs, _, err := de.audit.AuditRecords(context.Background(), audit.Filter{Type: exchange.RecordTransferDownloaded, Limit: 1000})
		must(t, err)
		return len(recs)
	}
	if n := downloads(); n != 0 {
		t.Fatalf("%d downloads on record before any", n)
	}
	code, body = callAs(t, de, alice, http.MethodGet, "/v1/transfers/"+job.ID+"/content", nil)
	if code != http.StatusOK || string(body) != content {
		t.Fatalf("alice downloads her transfer: %d %q", code, body)
	}
	recs, _, err := de.audit.AuditRecords(context.Background(), audit.Filter{Type: exchange.RecordTransferDownloaded})
	must(t, err)
	if len(recs) != 1 || !strings.Contains(string(recs[0].Details), alice.Subject) || !strings.Contains(string(recs[0].Details), job.ID) {
		t.Fatalf("the download's record: %+v", recs)
	}
	// Operators and auditors see every transfer.
	for _, u := range []api.User{operator, {Subject: "eve@audit.eu", Role: api.RoleAuditor}} {
		if jobs := list(u); len(jobs) != 1 || jobs[0].ID != job.ID {
			t.Fatalf("%s's list: %+v", u.Role, jobs)
		}
	}
}

func TestOwnerWhoseAuditTrailFailsDecidesAndServesNothingAndIsNotReady(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], nil)
	disk := &fullDisk{}
	fr := f.startWith(0, func(n *Node) {
		n.wrapTrail = func(a auditAppender) auditAppender { disk.auditAppender = a; return disk }
	})
	de := f.start(1)
	nodes := []*Node{fr, de}
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	publishOpen(t, fr, "air-quality", strings.Repeat("station,pm10\nSXB-1,12\n", 1000), de)
	alice := api.User{Subject: "alice@uni-freiburg.de", Org: "Universität Freiburg", Role: api.RoleResearcher}
	ctx := context.Background()
	ans, err := de.exchange.RequestAccess(ctx, alice.Caller(), "fr-grandest", "air-quality", "research", "")
	must(t, err)
	if code, r := readyz(t, fr); code != http.StatusOK || r.Checks["audit"] != "writable" {
		t.Fatalf("readyz before the fault: %d %+v", code, r)
	}

	disk.full.Store(true)
	// A request: no decision, no grant, a clear 503.
	code, body := callAs(t, de, alice, http.MethodPost, "/v1/requests", api.AccessRequest{Owner: "fr-grandest", ID: "air-quality", Purpose: "research"})
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "audit trail cannot be written") {
		t.Fatalf("request while the owner's trail fails: %d %s", code, body)
	}
	for _, g := range fr.exchange.Grants(context.Background()) {
		if g.ID != ans.GrantID {
			t.Fatalf("the owner stored a grant it could not record: %+v", g)
		}
	}
	// A transfer under the grant held: not a byte.
	job, err := de.exchange.StartFetch(ctx, alice.Caller(), "fr-grandest", "air-quality", "", "")
	must(t, err)
	if st := waitTransfer(t, de, job.ID); st.State != exchange.JobFailed || st.Received != 0 || !strings.Contains(st.Error, "audit_unavailable") {
		t.Fatalf("transfer while the owner's trail fails: %+v", st)
	}
	code, r := readyz(t, fr)
	if code != http.StatusServiceUnavailable || r.Ready || !strings.Contains(r.Checks["audit"], "cannot be written") || !strings.Contains(r.Checks["audit"], "no space left") {
		t.Fatalf("readyz while the trail fails: %d %+v", code, r)
	}

	// The disk has room again: the next probe records the recovery, and
	// the node is ready and serves.
	disk.full.Store(false)
	if code, r := readyz(t, fr); code != http.StatusOK || !r.Ready {
		t.Fatalf("readyz after recovery: %d %+v", code, r)
	}
	recs, _, err := fr.audit.AuditRecords(context.Background(), audit.Filter{Type: audit.TypeRecovered})
	must(t, err)
	if len(recs) != 1 || !strings.Contains(string(recs[0].Details), "no space left") {
		t.Fatalf("the recovery record: %+v", recs)
	}
	job, err = de.exchange.StartFetch(ctx, alice.Caller(), "fr-grandest", "air-quality", "", "")
	must(t, err)
	if st := waitTransfer(t, de, job.ID); st.State != exchange.JobDone {
		t.Fatalf("transfer after recovery: %+v", st)
	}
	if rep, err := fr.audit.VerifyAudit(ctx); err != nil || !rep.OK {
		t.Fatalf("the trail after the outage: %+v %v", rep, err)
	}
}

// lag holds back what the local replica reports as applied: a follower
// whose registry cannot write.
type lag struct {
	held atomic.Bool
	at   atomic.Uint64 // what it had applied when held
}

// laggingReplica is the replica as a write waits for it, under a lag.
type laggingReplica struct {
	appliedWaiter
	*lag
}

func (l laggingReplica) AppliedIndex() uint64 {
	if l.held.Load() {
		return l.at.Load()
	}
	return l.appliedWaiter.AppliedIndex()
}

func (l laggingReplica) WaitApplied(ctx context.Context, index uint64) error {
	if l.held.Load() && index > l.at.Load() {
		<-ctx.Done()
		return &consensus.NotAppliedError{Index: index, Applied: l.at.Load(), Err: ctx.Err()}
	}
	return l.appliedWaiter.WaitApplied(ctx, index)
}

func TestRegistryWriteCommittedButNotAppliedHereSaysSo(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], nil)
	lg := &lag{}
	fr := f.startWith(0, func(n *Node) {
		n.wrapApplied = func(w appliedWaiter) appliedWaiter { return laggingReplica{w, lg} }
	})
	de := f.start(1)
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh([]*Node{fr, de}))
	propose := func(id string) (int, []byte) {
		return callAs(t, fr, operator, http.MethodPost, "/v1/projects", consensus.ProjectProposal{ID: id, Title: id,
			Themes: []string{"industry"}, Partners: []string{"fr-grandest", "de-bw"}})
	}
	var code int
	var body []byte
	testkit.Eventually(t, 30*time.Second, "a leader commits", func() bool {
		code, body = propose("rhine-air")
		return code != http.StatusServiceUnavailable
	})
	if code != http.StatusOK {
		t.Fatalf("a write applied here: %d %s", code, body)
	}
	var c api.Committed
	must(t, json.Unmarshal(body, &c))
	if c.NotApplied || c.Index == 0 {
		t.Fatalf("a write applied here: %+v", c)
	}

	lg.at.Store(fr.registry.Load().AppliedIndex())
	lg.held.Store(true)
	code, body = propose("rhine-water")
	c = api.Committed{}
	must(t, json.Unmarshal(body, &c))
	if code != http.StatusAccepted || !c.NotApplied || c.Index == 0 || !strings.Contains(c.Warning, "not yet applied on this node") {
		t.Fatalf("a write committed but not applied here: %d %s", code, body)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw applies it", func() bool { _, _, err := de.clerk.Project(context.Background(), "rhine-water"); return err == nil })
	code, r := readyz(t, fr)
	if code != http.StatusServiceUnavailable || !strings.Contains(r.Checks["registry_writes"], "not yet applied") {
		t.Fatalf("readyz while the replica lags: %d %+v", code, r)
	}
	lg.held.Store(false)
	if code, r := readyz(t, fr); code != http.StatusOK {
		t.Fatalf("readyz once the replica caught up: %d %+v", code, r)
	}
}
