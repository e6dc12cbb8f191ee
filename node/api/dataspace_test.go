package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/policy"
)

// The node plugs its *dsp.Service in as the consumer: the API must ask
// for nothing it lacks.
var _ DataspaceConsumer = (*dsp.Service)(nil)

// fakeDataspace is a participant in memory. Negotiate and Pull behave by
// the dataset's name: "refused-here" (this node's policy refuses),
// "refused-there" (the provider does), "unknown" (no such offer),
// "terminated" (the provider terminates it later), "slow" (never ends),
// "corrupt" (the content does not match its digest); anything else
// finalises and transfers.
type fakeDataspace struct {
	dir string

	mu           sync.Mutex
	negotiations map[string]*dsp.Negotiation
	transfers    map[string]*dsp.Transfer
	asked        []dsp.NegotiateRequest
	downloads    []string // "sub pid"
	recordErr    error
	storeErr     error
	seq          int
}

func newFakeDataspace(t testing.TB) *fakeDataspace {
	return &fakeDataspace{dir: t.TempDir(), negotiations: map[string]*dsp.Negotiation{}, transfers: map[string]*dsp.Transfer{}}
}

var created = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func (f *fakeDataspace) RequestCatalog(_ context.Context, provider string) (dsp.Catalog, error) {
	if provider != "urn:xborder:de-bw" {
		return dsp.Catalog{}, &dsp.ConsumerError{Status: http.StatusBadRequest, Code: dsp.CodeNotFound,
			Reasons: []string{fmt.Sprintf("%q is not a participant this node's configuration lists.", provider)}}
	}
	d, _ := f.RequestDataset(context.Background(), provider, "air")
	return dsp.Catalog{ID: "urn:catalog:de-bw", Type: dsp.TypeCatalog, ParticipantID: provider, Dataset: []dsp.Dataset{d}}, nil
}

func (f *fakeDataspace) RequestDataset(_ context.Context, provider, id string) (dsp.Dataset, error) {
	if id != "air" {
		return dsp.Dataset{}, &dsp.ConsumerError{Status: http.StatusBadGateway, Code: dsp.CodeNotFound, Reasons: []string{"No dataset " + id + "."}}
	}
	return dsp.Dataset{ID: "air", Type: dsp.TypeDataset, DCAT: dsp.DCAT{Title: "Air quality"}, HasPolicy: []dsp.Offer{{
		ID: "urn:xborder:offer:air:research", Type: dsp.TypeOffer, Assigner: provider, Permission: []dsp.Rule{{Action: dsp.ActionUse,
			Constraint: []dsp.Constraint{{LeftOperand: dsp.LeftPurpose, Operator: "eq", RightOperand: "research"}}}}}}}, nil
}

func (f *fakeDataspace) Negotiate(_ context.Context, req dsp.NegotiateRequest) (*dsp.Negotiation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, req)
	switch req.Dataset {
	case "refused-here":
		return nil, &dsp.ConsumerError{Status: http.StatusForbidden, Code: dsp.CodeDenied,
			Reasons: []string{"Researchers of this region take health data from outside the federation only for research."}}
	case "refused-there":
		return nil, &dsp.ConsumerError{Status: http.StatusBadGateway, Code: dsp.CodeDenied,
			Reasons: []string{"Sensitive data is not offered to external participants."}}
	case "unknown":
		return nil, &dsp.ConsumerError{Status: http.StatusBadRequest, Code: dsp.CodeUnknownOffer, Reasons: []string{"No such offer."}}
	}
	f.seq++
	n := &dsp.Negotiation{Role: dsp.RoleConsumer, ConsumerPID: fmt.Sprintf("urn:uuid:c-%d", f.seq), ProviderPID: "urn:uuid:p", State: dsp.NegRequested,
		Participant: req.Provider, Dataset: req.Dataset, Offer: dsp.Offer{ID: req.Offer}, Purpose: req.Purpose, Researcher: req.Researcher.Sub,
		Created: created, Updated: created}
	f.negotiations[n.Key()] = n
	c := *n
	return &c, nil
}

func (f *fakeDataspace) WaitNegotiation(ctx context.Context, pid string) (*dsp.Negotiation, error) {
	f.mu.Lock()
	n, ok := f.negotiations[pid]
	if !ok {
		f.mu.Unlock()
		return nil, dsp.ErrNotFound
	}
	switch n.Dataset {
	case "slow":
		c := *n
		f.mu.Unlock()
		<-ctx.Done()
		return &c, ctx.Err()
	case "terminated":
		n.State, n.Code, n.Reasons = dsp.NegTerminated, dsp.CodeDenied, []string{"The provider's policy refuses this purpose."}
	default:
		n.State, n.Agreement, n.ValidUntil = dsp.NegFinalized, &dsp.Agreement{ID: "urn:agreement:" + n.Dataset}, created.Add(30*24*time.Hour)
	}
	c := *n
	f.mu.Unlock()
	return &c, nil
}

func (f *fakeDataspace) StartTransfer(_ context.Context, agreementID string, r policy.Researcher) (*dsp.Transfer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.negotiations {
		if n.Role == dsp.RoleConsumer && n.Agreement != nil && n.Agreement.ID == agreementID {
			f.seq++
			t := &dsp.Transfer{Role: dsp.RoleConsumer, ConsumerPID: fmt.Sprintf("urn:uuid:t-%d", f.seq), ProviderPID: "urn:uuid:pt", State: dsp.TPRequested,
				Participant: n.Participant, AgreementID: agreementID, Dataset: n.Dataset, Format: dsp.FormatHTTPPull, Researcher: r.Sub, Created: created, Updated: created}
			f.transfers[t.Key()] = t
			c := *t
			return &c, nil
		}
	}
	return nil, &dsp.ConsumerError{Status: http.StatusNotFound, Code: dsp.CodeAgreement, Reasons: []string{"This node negotiated no agreement " + agreementID + "."}}
}

func (f *fakeDataspace) WaitTransfer(ctx context.Context, pid string, _ ...dsp.TransferState) (*dsp.Transfer, error) {
	f.mu.Lock()
	t, ok := f.transfers[pid]
	if !ok {
		f.mu.Unlock()
		return nil, dsp.ErrNotFound
	}
	if t.Dataset == "slow" {
		c := *t
		f.mu.Unlock()
		<-ctx.Done()
		return &c, ctx.Err()
	}
	t.State = dsp.TPStarted
	c := *t
	f.mu.Unlock()
	return &c, nil
}

func (f *fakeDataspace) Pull(_ context.Context, pid string, _ func(done, total int64)) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.transfers[pid]
	if t.Dataset == "corrupt" {
		return "", &dsp.ConsumerError{Status: http.StatusBadGateway, Code: "integrity", Reasons: []string{"The content read has another SHA-256 than the provider's statement; it was discarded."}}
	}
	content := []byte("station,no2\nstrasbourg,31\n")
	path := filepath.Join(f.dir, strings.ReplaceAll(pid, ":", "_"))
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	t.SHA256, t.Size, t.File, t.State = hex.EncodeToString(sum[:]), int64(len(content)), path, dsp.TPCompleted
	return path, nil
}

func (f *fakeDataspace) Negotiations() ([]dsp.Negotiation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeErr != nil {
		return nil, f.storeErr
	}
	var out []dsp.Negotiation
	for _, n := range f.negotiations {
		out = append(out, *n)
	}
	return out, nil
}

func (f *fakeDataspace) Negotiation(pid string) (*dsp.Negotiation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.negotiations[pid]; ok {
		c := *n
		return &c, nil
	}
	return nil, fmt.Errorf("negotiation %q: %w", pid, dsp.ErrNotFound)
}

func (f *fakeDataspace) Transfers() ([]dsp.Transfer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dsp.Transfer
	for _, t := range f.transfers {
		out = append(out, *t)
	}
	return out, nil
}

func (f *fakeDataspace) Transfer(pid string) (*dsp.Transfer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.transfers[pid]; ok {
		c := *t
		return &c, nil
	}
	return nil, fmt.Errorf("transfer %q: %w", pid, dsp.ErrNotFound)
}

func (f *fakeDataspace) Identity() (string, json.RawMessage, error) {
	return "urn:xborder:fr-grandest", json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`), nil
}

func (f *fakeDataspace) RecordDownload(_ context.Context, by policy.Researcher, t *dsp.Transfer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recordErr != nil {
		return f.recordErr
	}
	f.downloads = append(f.downloads, by.Sub+" "+t.Key())
	return nil
}

// dspAuthorizer stands in for the API policy's /v1/dsp rules:
// researchers and operators ask, auditors read, legal reads
// negotiations, only operators read the identity.
type dspAuthorizer struct{}

func (dspAuthorizer) APIAllow(_ context.Context, in policy.APIInput) (bool, error) {
	p, get := in.Path, in.Method == http.MethodGet
	switch in.User.Role {
	case RoleOperator:
		return true, nil
	case RoleResearcher:
		return strings.HasPrefix(p, "/v1/dsp/") && p != "/v1/dsp/identity", nil
	case RoleAuditor:
		return get && strings.HasPrefix(p, "/v1/dsp/") && p != "/v1/dsp/identity", nil
	case RoleLegal:
		return get && strings.HasPrefix(p, "/v1/dsp/negotiations"), nil
	}
	return false, nil
}

type dspFixture struct {
	key  ed25519.PrivateKey
	ds   *fakeDataspace
	http *httptest.Server
	srv  *Server
}

func newDSPFixture(t testing.TB, ds Dataspace, d Deps) *dspFixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	d.Backend, d.Policies, d.Registry, d.Audit, d.Catalogue, d.Exchange = fixedBackend{}, fixedPolicies{}, &memRegistry{projects: map[string]consensus.Project{}}, memAudit{}, memCatalogue{}, memExchange{}
	d.Tokens, d.Authz = &Verifier{Key: key.Public().(ed25519.PublicKey), NodeID: nodeID}, dspAuthorizer{}
	d.Log, d.Registerer, d.Gatherer = slog.New(slog.DiscardHandler), reg, reg
	d.Dataspace = ds
	s := NewServer(d)
	f := &dspFixture{key: key, http: httptest.NewServer(s.Handler()), srv: s}
	f.ds, _ = ds.(*fakeDataspace)
	t.Cleanup(f.http.Close)
	return f
}

func (f *dspFixture) token(t testing.TB, sub, role string) string {
	t.Helper()
	tok, err := IssueToken(f.key, nodeID, User{Subject: sub, Role: role, Org: "Uni Strasbourg"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *dspFixture) do(t *testing.T, method, path, token, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.http.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

func TestDataspaceEndpointsAnswer501WhenUnconfigured(t *testing.T) {
	f := newDSPFixture(t, nil, Deps{})
	op := f.token(t, "root", RoleOperator)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/dsp/catalogue", `{"provider":"urn:xborder:de-bw"}`},
		{"POST", "/v1/dsp/negotiations", `not json`},
		{"GET", "/v1/dsp/negotiations", ""},
		{"GET", "/v1/dsp/transfers/x/content", ""},
		{"GET", "/v1/dsp/identity", ""},
	} {
		code, _, body := f.do(t, c.method, c.path, op, c.body)
		if code != http.StatusNotImplemented || !strings.Contains(string(body), "not configured as a dataspace participant (config: dataspace)") {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, body)
		}
	}
	// Nor is the protocol served.
	for _, p := range []string{"/dsp/catalog/request", "/.well-known/dspace-version"} {
		if code, _, body := f.do(t, "GET", p, "", ""); code != http.StatusNotFound || !strings.Contains(string(body), "no such endpoint") {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	// The API's auth still comes first: no token, 401.
	if code, _, _ := f.do(t, "GET", "/v1/dsp/negotiations", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
}

// The protocol is mounted outside the API's bearer auth: a dataspace
// participant has no API token, and its own bearer token reaches the
// protocol's handler untouched.
func TestDataspaceProtocolMountDoesNotRequireTheAPIToken(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	protocol := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"@type":"Catalog"}`)
	})
	wellKnown := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"protocolVersions":[{"version":"2025-1","path":"/dataspace","binding":"HTTPS"}]}`)
	})
	f := newDSPFixture(t, newFakeDataspace(t), Deps{DataspaceProtocol: protocol, DataspaceWellKnown: wellKnown, DataspaceBasePath: "/dataspace"})

	if code, _, body := f.do(t, "POST", "/dataspace/catalog/request", "", `{}`); code != 200 || string(body) != `{"@type":"Catalog"}` {
		t.Fatalf("protocol without a token: %d %s", code, body)
	}
	// A participant's token is not the API's: the API must not refuse it.
	if code, _, body := f.do(t, "GET", "/dataspace/negotiations/urn:uuid:1", "participant.jwt.token", ""); code != 200 {
		t.Fatalf("protocol with a participant's token: %d %s", code, body)
	}
	if code, _, body := f.do(t, "GET", "/.well-known/dspace-version", "", ""); code != 200 || !strings.Contains(string(body), `"2025-1"`) {
		t.Fatalf("version discovery: %d %s", code, body)
	}
	mu.Lock()
	want := []string{"POST /dataspace/catalog/request ", "GET /dataspace/negotiations/urn:uuid:1 Bearer participant.jwt.token"}
	if !slices.Equal(seen, want) {
		t.Errorf("the protocol saw %q, want %q", seen, want)
	}
	mu.Unlock()
	// Only the protocol's prefix is outside the API's auth.
	if code, _, _ := f.do(t, "GET", "/v1/dsp/negotiations", "participant.jwt.token", ""); code != http.StatusUnauthorized {
		t.Errorf("/v1/dsp with a participant's token: %d", code)
	}
	if code, _, _ := f.do(t, "GET", "/dsp/catalog/request", "", ""); code != http.StatusNotFound {
		t.Errorf("the default base path while another is configured: %d", code)
	}
	_, _, metrics := f.do(t, "GET", "/metrics", "", "")
	if !strings.Contains(string(metrics), `xborder_api_requests_total{code="200",route="/dataspace/"} 2`) {
		t.Errorf("the protocol's requests are not counted:\n%s", metrics)
	}
}

func seedProcesses(ds *fakeDataspace) {
	for _, n := range []*dsp.Negotiation{
		{Role: dsp.RoleConsumer, ConsumerPID: "c-alice", ProviderPID: "p1", State: dsp.NegFinalized, Participant: "urn:xborder:de-bw", Dataset: "air",
			Researcher: "alice", Agreement: &dsp.Agreement{ID: "agr-alice"}, Created: created, Updated: created},
		{Role: dsp.RoleConsumer, ConsumerPID: "c-bob", ProviderPID: "p2", State: dsp.NegFinalized, Participant: "urn:xborder:de-bw", Dataset: "corrupt",
			Researcher: "bob", Agreement: &dsp.Agreement{ID: "agr-bob"}, Created: created, Updated: created},
		{Role: dsp.RoleProvider, ConsumerPID: "edc-1", ProviderPID: "p-served", State: dsp.NegFinalized, Participant: "did:web:edc.example",
			Dataset: "icu", Created: created, Updated: created},
	} {
		ds.negotiations[n.Key()] = n
	}
	file := filepath.Join(ds.dir, "c-alice-t")
	_ = os.WriteFile(file, []byte("a,b\n"), 0o600)
	for _, tr := range []*dsp.Transfer{
		{Role: dsp.RoleConsumer, ConsumerPID: "t-alice", State: dsp.TPCompleted, AgreementID: "agr-alice", Dataset: "air", Researcher: "alice",
			SHA256: "9d7ae4ff3a1d4e82bfc9d3e8f1e2c1b0a3e4a0fd0b6b2e0a6b5d1d3c8f1a2b3c", Size: 4, File: file, Created: created, Updated: created},
		{Role: dsp.RoleProvider, ProviderPID: "tp-served", State: dsp.TPCompleted, AgreementID: "agr-edc", Dataset: "icu", Created: created, Updated: created},
	} {
		ds.transfers[tr.Key()] = tr
	}
}

func pids[T any](t *testing.T, body []byte, key func(T) string) []string {
	t.Helper()
	var vs []T
	if err := json.Unmarshal(body, &vs); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, v := range vs {
		out = append(out, key(v))
	}
	slices.Sort(out)
	return out
}

func TestDataspaceVisibilityOfNegotiationsAndTransfers(t *testing.T) {
	ds := newFakeDataspace(t)
	seedProcesses(ds)
	f := newDSPFixture(t, ds, Deps{})
	alice, bob := f.token(t, "alice", RoleResearcher), f.token(t, "bob", RoleResearcher)
	negPID := func(v DataspaceNegotiation) string { return v.PID }
	trPID := func(v DataspaceTransfer) string { return v.PID }

	for _, c := range []struct {
		token string
		negs  []string
		trs   []string
	}{
		{alice, []string{"c-alice"}, []string{"t-alice"}},
		{bob, []string{"c-bob"}, nil},
		{f.token(t, "aud", RoleAuditor), []string{"c-alice", "c-bob", "p-served"}, []string{"t-alice", "tp-served"}},
		{f.token(t, "lex", RoleLegal), []string{"c-alice", "c-bob", "p-served"}, nil},
		{f.token(t, "root", RoleOperator), []string{"c-alice", "c-bob", "p-served"}, []string{"t-alice", "tp-served"}},
	} {
		code, _, body := f.do(t, "GET", "/v1/dsp/negotiations", c.token, "")
		if got := pids(t, body, negPID); code != 200 || !slices.Equal(got, c.negs) {
			t.Errorf("negotiations: %d %v, want %v", code, got, c.negs)
		}
		if c.trs == nil {
			continue
		}
		code, _, body = f.do(t, "GET", "/v1/dsp/transfers", c.token, "")
		if got := pids(t, body, trPID); code != 200 || !slices.Equal(got, c.trs) {
			t.Errorf("transfers: %d %v, want %v", code, got, c.trs)
		}
	}
	// Another researcher's negotiation or transfer is answered as missing,
	// so is the provider side of one; a researcher's own is hers.
	for _, p := range []string{"/v1/dsp/negotiations/c-alice", "/v1/dsp/negotiations/p-served", "/v1/dsp/negotiations/nope",
		"/v1/dsp/transfers/t-alice", "/v1/dsp/transfers/tp-served", "/v1/dsp/transfers/t-alice/content"} {
		if code, _, body := f.do(t, "GET", p, bob, ""); code != http.StatusNotFound {
			t.Errorf("bob GET %s: %d %s", p, code, body)
		}
	}
	code, _, body := f.do(t, "GET", "/v1/dsp/negotiations/c-alice", alice, "")
	var v DataspaceNegotiation
	if code != 200 || json.Unmarshal(body, &v) != nil || v.Agreement != "agr-alice" || v.Researcher != "alice" {
		t.Fatalf("alice's negotiation: %d %s", code, body)
	}
	// Nor may bob use alice's agreement.
	code, _, body = f.do(t, "POST", "/v1/dsp/transfers", bob, `{"agreement":"agr-alice"}`)
	if code != http.StatusNotFound || !strings.Contains(string(body), `"dsp_code": "agreement_not_valid"`) {
		t.Fatalf("bob with alice's agreement: %d %s", code, body)
	}
	if len(ds.transfers) != 2 {
		t.Fatalf("a transfer was started for bob under alice's agreement")
	}
}

func TestDataspaceContentDownloadIsRecorded(t *testing.T) {
	ds := newFakeDataspace(t)
	seedProcesses(ds)
	f := newDSPFixture(t, ds, Deps{})
	alice := f.token(t, "alice", RoleResearcher)

	code, h, body := f.do(t, "GET", "/v1/dsp/transfers/t-alice/content", alice, "")
	if code != 200 || string(body) != "a,b\n" || h.Get("X-Xborder-Sha256") != ds.transfers["t-alice"].SHA256 {
		t.Fatalf("alice's content: %d %q %v", code, body, h)
	}
	// An auditor sees the transfer but does not download its content; an
	// operator does; the provider side has none to download.
	if code, _, _ := f.do(t, "GET", "/v1/dsp/transfers/t-alice/content", f.token(t, "aud", RoleAuditor), ""); code != http.StatusNotFound {
		t.Errorf("auditor's download: %d", code)
	}
	op := f.token(t, "root", RoleOperator)
	if code, _, _ := f.do(t, "GET", "/v1/dsp/transfers/t-alice/content", op, ""); code != 200 {
		t.Errorf("operator's download: %d", code)
	}
	if code, _, _ := f.do(t, "GET", "/v1/dsp/transfers/tp-served/content", op, ""); code != http.StatusNotFound {
		t.Errorf("provider side content: %d", code)
	}
	if want := []string{"alice t-alice", "root t-alice"}; !slices.Equal(ds.downloads, want) {
		t.Fatalf("downloads recorded %q, want %q", ds.downloads, want)
	}
	// A download that cannot be recorded is not served.
	ds.recordErr = errors.New("audit.db: disk full")
	code, _, body = f.do(t, "GET", "/v1/dsp/transfers/t-alice/content", alice, "")
	if code != http.StatusServiceUnavailable || strings.Contains(string(body), "a,b") || !strings.Contains(string(body), "disk full") {
		t.Fatalf("unrecorded download: %d %s", code, body)
	}
}

func TestDataspaceNegotiateMapsOutcomes(t *testing.T) {
	ds := newFakeDataspace(t)
	f := newDSPFixture(t, ds, Deps{})
	alice := f.token(t, "alice", RoleResearcher)
	negotiate := func(dataset, extra string) (int, []byte) {
		code, _, body := f.do(t, "POST", "/v1/dsp/negotiations", alice,
			`{"provider":"urn:xborder:de-bw","dataset":"`+dataset+`","purpose":"research"`+extra+`}`)
		return code, body
	}

	code, body := negotiate("air", `,"offer":"urn:xborder:offer:air:research"`)
	var v DataspaceNegotiation
	if code != http.StatusCreated || json.Unmarshal(body, &v) != nil || v.State != "FINALIZED" || v.Agreement != "urn:agreement:air" ||
		v.Offer != "urn:xborder:offer:air:research" || v.ValidUntil.IsZero() || v.Role != dsp.RoleConsumer {
		t.Fatalf("finalised: %d %s", code, body)
	}
	if got := ds.asked[0].Researcher; got != (policy.Researcher{Sub: "alice", Org: "Uni Strasbourg", Role: RoleResearcher}) {
		t.Fatalf("negotiated for %+v, not the token's user", got)
	}
	// Still under way: 202, at once with wait_s 0 or when wait_s is over.
	for _, extra := range []string{`,"wait_s":0`, `,"wait_s":1`} {
		if code, body := negotiate("slow", extra); code != http.StatusAccepted || !strings.Contains(string(body), `"state": "REQUESTED"`) {
			t.Fatalf("slow%s: %d %s", extra, code, body)
		}
	}
	for _, c := range []struct {
		dataset string
		status  int
		denied  bool
		code    string
		reason  string
	}{
		{"refused-here", http.StatusForbidden, true, "denied", "only for research"},
		{"refused-there", http.StatusBadGateway, true, "denied", "not offered to external participants"},
		{"terminated", http.StatusBadGateway, true, "denied", "refuses this purpose"},
		{"unknown", http.StatusBadRequest, false, "unknown_offer", "No such offer."},
	} {
		code, body := negotiate(c.dataset, "")
		var e DataspaceError
		if code != c.status || json.Unmarshal(body, &e) != nil || e.Code != c.status || e.Denied != c.denied || e.DSPCode != c.code ||
			len(e.Reasons) != 1 || !strings.Contains(e.Reasons[0], c.reason) {
			t.Errorf("%s: %d %s", c.dataset, code, body)
		}
		// The CLI reads it as an Error: a policy's refusal is denied.
		var plain Error
		if json.Unmarshal(body, &plain) != nil || plain.Denied != c.denied || plain.Error == "" {
			t.Errorf("%s: not an Error: %s", c.dataset, body)
		}
		if c.dataset == "terminated" && (e.Negotiation == nil || e.Negotiation.State != "TERMINATED") {
			t.Errorf("terminated without the negotiation: %s", body)
		}
	}
	// The store failing is the node's trouble, named, not a bad request.
	ds.storeErr = errors.New("dsp.db: input/output error")
	if code, _, body := f.do(t, "GET", "/v1/dsp/negotiations", alice, ""); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "input/output error") {
		t.Fatalf("store failure: %d %s", code, body)
	}
}

func TestDataspaceCatalogueTransferAndIdentity(t *testing.T) {
	ds := newFakeDataspace(t)
	seedProcesses(ds)
	f := newDSPFixture(t, ds, Deps{})
	alice, bob := f.token(t, "alice", RoleResearcher), f.token(t, "bob", RoleResearcher)

	code, _, body := f.do(t, "POST", "/v1/dsp/catalogue", alice, `{"provider":"urn:xborder:de-bw"}`)
	var c dsp.Catalog
	if code != 200 || json.Unmarshal(body, &c) != nil || len(c.Dataset) != 1 || c.Dataset[0].HasPolicy[0].ID != "urn:xborder:offer:air:research" {
		t.Fatalf("catalogue: %d %s", code, body)
	}
	if code, _, body := f.do(t, "POST", "/v1/dsp/catalogue", alice, `{"provider":"urn:nobody"}`); code != http.StatusBadRequest || !strings.Contains(string(body), `"dsp_code": "not_found"`) {
		t.Fatalf("unknown provider: %d %s", code, body)
	}
	if code, _, body := f.do(t, "GET", "/v1/dsp/catalogue/urn:xborder:de-bw/datasets/air", alice, ""); code != 200 || !strings.Contains(string(body), `"dct:title": "Air quality"`) {
		t.Fatalf("dataset: %d %s", code, body)
	}
	if code, _, body := f.do(t, "GET", "/v1/dsp/catalogue/urn:xborder:de-bw/datasets/nope", alice, ""); code != http.StatusBadGateway {
		t.Fatalf("unknown dataset: %d %s", code, body)
	}

	code, _, body = f.do(t, "POST", "/v1/dsp/transfers", alice, `{"agreement":"agr-alice"}`)
	var tr DataspaceTransfer
	if code != http.StatusCreated || json.Unmarshal(body, &tr) != nil || tr.State != "COMPLETED" || len(tr.SHA256) != 64 || tr.Size == 0 || tr.Researcher != "alice" {
		t.Fatalf("transfer: %d %s", code, body)
	}
	if strings.Contains(string(body), ds.dir) || strings.ContainsRune(tr.File, '/') || tr.File == "" {
		t.Fatalf("the answer shows the file's path: %s", body)
	}
	code, _, body = f.do(t, "POST", "/v1/dsp/transfers", bob, `{"agreement":"agr-bob"}`)
	if code != http.StatusBadGateway || !strings.Contains(string(body), `"dsp_code": "integrity"`) {
		t.Fatalf("corrupt content: %d %s", code, body)
	}
	if code, _, body := f.do(t, "POST", "/v1/dsp/transfers", alice, `{"agreement":"agr-none"}`); code != http.StatusNotFound {
		t.Fatalf("unknown agreement: %d %s", code, body)
	}

	if code, _, _ := f.do(t, "GET", "/v1/dsp/identity", alice, ""); code != http.StatusForbidden {
		t.Fatalf("a researcher reads the identity: %d", code)
	}
	code, _, body = f.do(t, "GET", "/v1/dsp/identity", f.token(t, "root", RoleOperator), "")
	var id struct {
		ParticipantID string            `json:"participant_id"`
		JWK           map[string]string `json:"jwk"`
	}
	if code != 200 || json.Unmarshal(body, &id) != nil || id.ParticipantID != "urn:xborder:fr-grandest" || id.JWK["kty"] != "OKP" || id.JWK["crv"] != "Ed25519" {
		t.Fatalf("identity: %d %s", code, body)
	}
}

func TestDataspaceBadInputIsA4xx(t *testing.T) {
	f := newDSPFixture(t, newFakeDataspace(t), Deps{})
	alice := f.token(t, "alice", RoleResearcher)
	for _, c := range []struct{ path, body, want string }{
		{"/v1/dsp/catalogue", ``, "empty"},
		{"/v1/dsp/catalogue", `{"provider":`, "not valid JSON"},
		{"/v1/dsp/catalogue", `{"provider":"x","extra":1}`, "unknown field"},
		{"/v1/dsp/catalogue", `{"provider":"  "}`, "provider is empty"},
		{"/v1/dsp/catalogue", `["urn:x"]`, "not valid JSON"},
		{"/v1/dsp/negotiations", `{"provider":"urn:xborder:de-bw"}`, "missing dataset, purpose"},
		{"/v1/dsp/negotiations", `{"provider":"p","dataset":"d","purpose":"research","wait_s":121}`, "between 0 and 120"},
		{"/v1/dsp/negotiations", `{"provider":"p","dataset":"d","purpose":"research","wait_s":-1}`, "between 0 and 120"},
		{"/v1/dsp/negotiations", `{"provider":"p","dataset":"d","purpose":"research","wait_s":"soon"}`, "not valid JSON"},
		{"/v1/dsp/negotiations", `{"provider":"p","dataset":"d","purpose":"research"} {}`, "more than one"},
		{"/v1/dsp/transfers", `{}`, "missing agreement"},
		{"/v1/dsp/transfers", `{"agreement":"a","wait_s":99999999999999999999}`, "not valid JSON"},
		{"/v1/dsp/transfers", `{"agreement":"a","wait_s":1e3}`, "not valid JSON"},
	} {
		code, _, body := f.do(t, "POST", c.path, alice, c.body)
		if code != http.StatusBadRequest || !strings.Contains(string(body), c.want) {
			t.Errorf("POST %s %s: %d %s", c.path, c.body, code, body)
		}
	}
}

// FuzzDataspaceRequests: whatever the body of a /v1/dsp request, the
// answer is never a 5xx but one the dataspace gave (502 for a provider's
// refusal of a well-formed request).
func FuzzDataspaceRequests(f *testing.F) {
	f.Add("/v1/dsp/negotiations", `{"provider":"urn:xborder:de-bw","dataset":"air","purpose":"research","wait_s":0}`)
	f.Add("/v1/dsp/negotiations", `{"provider":"p","dataset":"unknown","purpose":"x","offer":"\u0000"}`)
	f.Add("/v1/dsp/catalogue", `{"provider":"urn:xborder:de-bw"}`)
	f.Add("/v1/dsp/transfers", `{"agreement":"urn:agreement:air","wait_s":0}`)
	f.Add("/v1/dsp/transfers", `{"agreement":null}`)
	fx := newDSPFixture(f, newFakeDataspace(f), Deps{})
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/v1/dsp/") || strings.ContainsAny(path, "?#% \x00") {
			path = "/v1/dsp/negotiations"
		}
		// A negotiation the fake never ends is answered 202 when the wait
		// is over, however long wait_s asks.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fx.token(t, "alice", RoleResearcher))
		rec := httptest.NewRecorder()
		fx.srv.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusBadGateway {
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
	})
}
