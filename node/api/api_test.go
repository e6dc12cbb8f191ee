package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const nodeID = "12D3KooWALzKvL7u9t9Sf6RW9JSNRHtJcdXcU4tUpf9VzubwPNvG"

// fixedBackend serves fixed answers, so the JSON wire format can be compared
// with golden files byte for byte.
type fixedBackend struct{}

func (fixedBackend) Status(context.Context) Status {
	return Status{
		Name: "fr-grandest", PeerID: nodeID, Country: "FR", Org: "Région Grand Est",
		Federation: "grand-est-ai", FederationID: strings.Repeat("ab", 32), Version: "1.0.0",
		Ready: true, PeersConnected: 4, Members: 5,
		ListenAddrs: []string{"/ip4/192.0.2.1/tcp/7400", "/ip4/192.0.2.1/udp/7400/quic-v1"},
		StartedAt:   time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), UptimeS: 3600,
	}
}

func (fixedBackend) Peers(context.Context) []Peer {
	return []Peer{
		{Name: "de-bw", Country: "DE", Org: "Land Baden-Württemberg", PeerID: "12D3KooWPS1EhjjE3xFRH94WtvMnnnNfYLhgWTzcR2kqTBSpZFdr",
			Connected: true, Addrs: []string{"/ip4/192.0.2.2/tcp/7400"}, RTTms: 12.5},
		{Name: "fr-grandest", Country: "FR", Org: "Région Grand Est", PeerID: nodeID, Self: true, Connected: true,
			Addrs: []string{"/ip4/192.0.2.1/tcp/7400"}},
		{Name: "lu-luxembourg", Country: "LU", Org: "Grand-Duché de Luxembourg", PeerID: "12D3KooWRqNNHrdZeEtDDvMbd4y9BpKdoMk2G4zK86tEmYyrP3Yr",
			Addrs: []string{}},
	}
}

func (fixedBackend) Readiness(context.Context) Readiness {
	return Readiness{Ready: true, Checks: map[string]string{"host": "listening on 2 addresses"}}
}

// roleAuthorizer stands in for the API policy: operators may do anything,
// every role may read status and peers.
type roleAuthorizer struct{}

func (roleAuthorizer) APIAllow(_ context.Context, in policy.APIInput) (bool, error) {
	if in.User.Role == RoleOperator {
		return true, nil
	}
	return in.Method == http.MethodGet && (in.Path == "/v1/status" || in.Path == "/v1/peers" || in.Path == "/v1/whoami"), nil
}

// fixedPolicies answers the policy endpoints from memory.
type fixedPolicies struct{ reloadErr error }

func (p fixedPolicies) Info() policy.Info {
	return policy.Info{Dir: "policies", Hash: strings.Repeat("cd", 32), LoadedAt: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
		Files: []policy.File{{Path: "exchange.rego", SHA256: strings.Repeat("ef", 32), Size: 1234}}}
}

func (p fixedPolicies) Reload(context.Context) (policy.Info, error) {
	return p.Info(), p.reloadErr
}

func (p fixedPolicies) Eval(_ context.Context, query string, input map[string]any, _ policy.Explain) (policy.EvalResult, error) {
	return policy.EvalResult{Value: map[string]any{"query": query, "input": input}, Defined: true}, nil
}

// memRegistry is an in-memory registry for the API's own tests.
type memRegistry struct {
	projects map[string]consensus.Project
	// The replica has applied index 7; a wait for a later index sends
	// it on waiting (when set), then returns once applied is closed or
	// its context ends.
	waiting chan uint64
	applied chan struct{}
}

func (m *memRegistry) Projects(context.Context) ([]consensus.Project, uint64, error) {
	var out []consensus.Project
	for _, p := range m.projects {
		out = append(out, p)
	}
	return out, 7, nil
}

func (m *memRegistry) Project(_ context.Context, id string) (consensus.Project, uint64, error) {
	p, ok := m.projects[id]
	if !ok {
		return p, 7, fmt.Errorf("project %q: %w", id, consensus.ErrNotFound)
	}
	return p, 7, nil
}

func (m *memRegistry) Members(context.Context) ([]consensus.Member, []consensus.Proposal, uint64, error) {
	return []consensus.Member{{Name: "fr-grandest", Country: "FR", Org: "Région Grand Est", PeerID: nodeID, Voter: true, Founding: true}}, nil, 7, nil
}

func (m *memRegistry) WaitApplied(ctx context.Context, index uint64) error {
	if index <= 7 {
		return nil
	}
	if m.waiting != nil {
		m.waiting <- index
	}
	select {
	case <-m.applied:
		return nil
	case <-ctx.Done():
		return &consensus.NotAppliedError{Index: index, Applied: 7, Err: ctx.Err()}
	}
}

func (m *memRegistry) Submit(_ context.Context, op string, args any) (uint64, error) {
	switch a := args.(type) {
	case consensus.ProjectProposal:
		if len(a.Partners) < 2 {
			return 0, &policy.DeniedError{Point: policy.RegistryDecision, Decision: policy.Decision{
				Reasons: []string{"A joint project needs partners from at least two countries."}, Rules: []string{"project_two_countries"}}}
		}
		if _, ok := m.projects[a.ID]; ok {
			return 0, &consensus.RejectedError{Op: op, Reason: "project already exists"}
		}
		m.projects[a.ID] = consensus.Project{ID: a.ID, Title: a.Title, Partners: a.Partners, Status: "active"}
		return 8, nil
	}
	return 9, nil
}

// memAudit serves a fixed trail.
type memAudit struct{}

func (memAudit) AuditRecords(context.Context, audit.Filter) ([]audit.Record, audit.Head, error) {
	return []audit.Record{{Seq: 1, Type: "node.start", Subject: "fr-grandest", Details: json.RawMessage(`{}`), Hash: strings.Repeat("a", 64)}},
		audit.Head{Seq: 1, Hash: strings.Repeat("a", 64)}, nil
}

func (memAudit) VerifyAudit(context.Context) (audit.Report, error) {
	return audit.Report{OK: true, Records: 1, Head: strings.Repeat("a", 64), Anchors: []audit.Checked{}}, nil
}

func (memAudit) VerifyPeerAudit(_ context.Context, name string, _ audit.Detail) (audit.Report, error) {
	if name != "de-bw" {
		return audit.Report{}, fmt.Errorf("%w: %q", ErrUnknownPeer, name)
	}
	return audit.Report{OK: true, Records: 3, Anchors: []audit.Checked{}}, nil
}

// memCatalogue is an empty catalogue.
type memCatalogue struct{}

func (memCatalogue) StoreModule(io.Reader) (string, int64, error) {
	return "", 0, errors.New("memCatalogue stores no module")
}

func (memCatalogue) Publish(_ context.Context, p exchange.Publication, content io.Reader) (exchange.Entry, error) {
	if err := p.Validate(); err != nil {
		return exchange.Entry{}, err
	}
	n, _ := io.Copy(io.Discard, content)
	return exchange.Entry{ID: p.ID, Owner: "fr-grandest", Size: n, Dictionary: p.Dictionary}, nil
}

func (memCatalogue) Withdraw(_ context.Context, id string) (exchange.Entry, error) {
	return exchange.Entry{}, fmt.Errorf("%s: %w", id, exchange.ErrNotFound)
}

func (memCatalogue) ListingJSON(context.Context) []byte { return []byte("[]") }

func (memCatalogue) Search(context.Context, exchange.Filter) []exchange.Listing {
	return []exchange.Listing{}
}

func (memCatalogue) Entry(_ context.Context, owner, id string) (exchange.Listing, error) {
	return exchange.Listing{}, exchange.ErrNotFound
}

func (memCatalogue) DCAT(context.Context) *exchange.DCATGraph {
	return &exchange.DCATGraph{}
}

func (memCatalogue) DCATFederation(context.Context) *exchange.DCATGraph {
	return &exchange.DCATGraph{}
}

// dcatEntries are the entries memCatalogue describes at their IRIs: one
// open, one restricted (which must answer like an unknown one), and one
// sensitive that its owner lists publicly.
var dcatEntries = map[string]exchange.Entry{
	"fr-grandest/air": {Owner: "fr-grandest", ID: "air", Version: 2, Title: "Air <quality> & NO2", Description: "Hourly NO2 in Strasbourg",
		Publisher: "Région Grand Est", Country: "FR", Theme: "health", Classification: "open", License: "CC-BY-4.0",
		Kind: exchange.KindDataset, MediaType: "text/csv", Size: 8, SHA256: strings.Repeat("ab", 32), Keywords: []string{"air"}},
	"fr-grandest/icu": {Owner: "fr-grandest", ID: "icu", Title: "ICU stays", Publisher: "Région Grand Est", Country: "FR",
		Theme: "health", Classification: "restricted", Kind: exchange.KindDataset, SHA256: strings.Repeat("cd", 32)},
	"fr-grandest/beds": {Owner: "fr-grandest", ID: "beds", Title: "Hospital beds", Publisher: "Région Grand Est", Country: "FR",
		Theme: "health", Classification: "sensitive", PersonalData: true, PublicListing: true, Kind: exchange.KindDataset,
		MediaType: "text/csv", Size: 4, SHA256: strings.Repeat("ef", 32)},
}

func (memCatalogue) DatasetDCAT(_ context.Context, owner, id string) (*exchange.DCATGraph, exchange.Listing, error) {
	e, ok := dcatEntries[owner+"/"+id]
	if !ok || e.Classification != "open" && !e.PublicListing {
		return nil, exchange.Listing{}, fmt.Errorf("%s/%s: %w", owner, id, exchange.ErrNotFound)
	}
	return exchange.EntryDCAT("https://xborder.grandest.example", e, nil), exchange.Listing{Entry: e}, nil
}

func (memCatalogue) CatalogueSyncs(context.Context) []exchange.PeerState {
	return []exchange.PeerState{}
}

// memExchange answers every request with a denial.
type memExchange struct{}

func (memExchange) RequestAccess(context.Context, exchange.Caller, string, string, string, string) (exchange.Answer, error) {
	d := policy.Decision{Reasons: []string{"Sensitive data is shared only within a joint project."}, Rules: []string{"sensitive_requires_project"}}
	return exchange.Answer{Decision: d}, &policy.DeniedError{Point: policy.ExchangeDecision, Decision: d}
}

func (memExchange) StartFetch(context.Context, exchange.Caller, string, string, string, string) (exchange.JobStatus, error) {
	return exchange.JobStatus{ID: "j1", State: exchange.JobRunning}, nil
}

func (memExchange) Transfers(context.Context, exchange.Caller) []exchange.JobStatus {
	return []exchange.JobStatus{}
}

func (memExchange) Transfer(context.Context, exchange.Caller, string) (exchange.JobStatus, bool) {
	return exchange.JobStatus{}, false
}

func (memExchange) OpenTransfer(_ context.Context, _ exchange.Caller, id string) (exchange.JobStatus, *os.File, error) {
	return exchange.JobStatus{}, nil, fmt.Errorf("no transfer %q: %w", id, exchange.ErrNotFound)
}

func (memExchange) Grants(context.Context) []exchange.GrantInfo { return []exchange.GrantInfo{} }

type fixture struct {
	key    ed25519.PrivateKey
	server *Server
	http   *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := NewServer(Deps{
		Backend:   fixedBackend{},
		Policies:  fixedPolicies{reloadErr: errors.New("exchange.rego:3: rego_parse_error")},
		Registry:  &memRegistry{projects: map[string]consensus.Project{}},
		Audit:     memAudit{},
		Catalogue: memCatalogue{},
		Exchange:  memExchange{},
		Tokens:    &Verifier{Key: key.Public().(ed25519.PublicKey), NodeID: nodeID},
		Authz:     roleAuthorizer{},
		Log:       slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg,
	})
	f := &fixture{key: key, server: s}
	f.http = httptest.NewServer(s.Handler())
	t.Cleanup(f.http.Close)
	return f
}

func (f *fixture) token(t *testing.T, role string, ttl time.Duration) string {
	t.Helper()
	tok, err := IssueToken(f.key, nodeID, User{Subject: "alice", Role: role, Org: "Uni"}, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// signRaw signs arbitrary claims, to forge tokens IssueToken would refuse.
func signRaw(t *testing.T, key ed25519.PrivateKey, build func(*jwt.Builder) *jwt.Builder) string {
	t.Helper()
	tok, err := build(jwt.NewBuilder()).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestTokenAuthentication(t *testing.T) {
	f := newFixture(t)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	valid := f.token(t, RoleResearcher, time.Hour)
	parts := strings.Split(valid, ".")
	cases := []struct {
		name  string
		token string
		want  int
		msg   string
	}{
		{"valid researcher token", valid, 200, ""},
		{"no token", "", 401, "no bearer token"},
		{"malformed", "not.a.jwt", 401, "malformed"},
		{"forged: signed by another key", signRaw(t, otherKey, func(b *jwt.Builder) *jwt.Builder {
			return b.Issuer(nodeID).Audience([]string{nodeID}).Subject("mallory").Expiration(now.Add(time.Hour)).Claim("role", RoleOperator)
		}), 401, "signature"},
		{"tampered payload", parts[0] + "." + parts[1] + "x." + parts[2], 401, ""},
		{"expired", signRaw(t, f.key, func(b *jwt.Builder) *jwt.Builder {
			return b.Issuer(nodeID).Audience([]string{nodeID}).Subject("alice").IssuedAt(now.Add(-2*time.Hour)).Expiration(now.Add(-time.Hour)).Claim("role", RoleResearcher)
		}), 401, "expired"},
		{"issued for another node", signRaw(t, f.key, func(b *jwt.Builder) *jwt.Builder {
			return b.Issuer(nodeID).Audience([]string{"12D3KooWother"}).Subject("alice").Expiration(now.Add(time.Hour)).Claim("role", RoleResearcher)
		}), 401, "another node"},
		{"unknown role", signRaw(t, f.key, func(b *jwt.Builder) *jwt.Builder {
			return b.Issuer(nodeID).Audience([]string{nodeID}).Subject("alice").Expiration(now.Add(time.Hour)).Claim("role", "superuser")
		}), 401, "role"},
		{"no expiry", signRaw(t, f.key, func(b *jwt.Builder) *jwt.Builder {
			return b.Issuer(nodeID).Audience([]string{nodeID}).Subject("alice").Claim("role", RoleResearcher)
		}), 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.get(t, "/v1/status", tc.token)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if code == 200 {
				return
			}
			var e Error
			if err := json.Unmarshal(body, &e); err != nil || e.Code != code || e.Error == "" {
				t.Fatalf("error body %s is not a JSON error", body)
			}
			if !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("error %q does not mention %q", e.Error, tc.msg)
			}
		})
	}
}

func TestRoleNotAllowedIsForbidden(t *testing.T) {
	f := newFixture(t)
	f.server.handle("GET /v1/operator-only", true, func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		writeJSON(w, 200, u)
	})
	code, body := f.get(t, "/v1/operator-only", f.token(t, RoleResearcher, time.Hour))
	if code != http.StatusForbidden || !strings.Contains(string(body), `the researcher role may not call GET /v1/operator-only`) {
		t.Fatalf("researcher: %d %s", code, body)
	}
	code, body = f.get(t, "/v1/operator-only", f.token(t, RoleOperator, time.Hour))
	if code != 200 || !strings.Contains(string(body), `"sub": "alice"`) {
		t.Fatalf("operator: %d %s", code, body)
	}
}

func TestIssueTokenRefusesBadClaims(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		u   User
		ttl time.Duration
	}{
		{User{Subject: "", Role: RoleOperator}, time.Hour},
		{User{Subject: "a", Role: "root"}, time.Hour},
		{User{Subject: "a", Role: RoleOperator}, 0},
		{User{Subject: "a", Role: RoleOperator}, MaxTokenTTL + time.Hour},
	} {
		if _, err := IssueToken(key, nodeID, tc.u, tc.ttl, time.Now()); err == nil {
			t.Errorf("IssueToken(%+v, %v) accepted", tc.u, tc.ttl)
		}
	}
}

func TestJSONShapesMatchGoldenFiles(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, RoleAuditor, time.Hour)
	for path, golden := range map[string]string{
		"/v1/status": "status.golden.json",
		"/v1/peers":  "peers.golden.json",
		"/readyz":    "readyz.golden.json",
	} {
		code, body := f.get(t, path, tok)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		file := filepath.Join("testdata", golden)
		if *update {
			if err := os.WriteFile(file, body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test ./node/api -update to create it)", err)
		}
		if !bytes.Equal(body, want) {
			t.Errorf("%s changed shape:\n got: %s\nwant: %s", path, body, want)
		}
	}
}

func TestUnauthenticatedEndpointsAndMetrics(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/healthz", "/readyz", "/v1/openapi.json", "/metrics"} {
		if code, body := f.get(t, p, ""); code != 200 {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	f.get(t, "/v1/status", "")
	code, body := f.get(t, "/nope", "")
	if code != 404 || !strings.Contains(string(body), "no such endpoint") {
		t.Errorf("unknown path: %d %s", code, body)
	}
	_, metrics := f.get(t, "/metrics", "")
	for _, want := range []string{
		`xborder_api_requests_total{code="401",route="/v1/status"} 1`,
		`xborder_api_requests_total{code="200",route="/healthz"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// whoami answers who the node takes the caller's token for.
func TestWhoami(t *testing.T) {
	f := newFixture(t)
	code, body := f.get(t, "/v1/whoami", f.token(t, RoleAuditor, time.Hour))
	var u User
	if code != http.StatusOK || json.Unmarshal(body, &u) != nil || u.Subject != "alice" || u.Role != RoleAuditor || u.Org != "Uni" ||
		time.Until(u.Expires) < 59*time.Minute || u.Identity != nil {
		t.Fatalf("whoami: %d %s", code, body)
	}
	if code, _ := f.get(t, "/v1/whoami", ""); code != http.StatusUnauthorized {
		t.Fatalf("whoami without a token: %d", code)
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	served := slices.Clone(f.server.routes)
	slices.Sort(served)
	slices.Sort(documented)
	if !slices.Equal(served, documented) {
		t.Fatalf("OpenAPI paths and served routes differ:\nserved:     %v\ndocumented: %v", served, documented)
	}
}

func FuzzVerify(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := IssueToken(key, nodeID, User{Subject: "a", Role: RoleLegal}, time.Hour, time.Now())
	f.Add(good)
	f.Add("a.b.c")
	f.Add("")
	v := &Verifier{Key: key.Public().(ed25519.PublicKey), NodeID: nodeID}
	f.Fuzz(func(t *testing.T, tok string) {
		u, err := v.Verify(tok)
		if err == nil && (u.Subject == "" || !slices.Contains(Roles, u.Role)) {
			t.Fatalf("accepted a token without subject or role: %+v", u)
		}
	})
}

func (f *fixture) post(t *testing.T, path, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestPolicyEndpoints(t *testing.T) {
	f := newFixture(t)
	op := f.token(t, RoleOperator, time.Hour)
	code, body := f.get(t, "/v1/policy", op)
	if code != 200 || !strings.Contains(string(body), `"path": "exchange.rego"`) {
		t.Fatalf("GET /v1/policy: %d %s", code, body)
	}
	code, body = f.post(t, "/v1/policy/reload", op, "")
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "rego_parse_error; the last good policy stays active") ||
		!strings.Contains(string(body), `"active"`) {
		t.Fatalf("refused reload: %d %s", code, body)
	}
	code, body = f.post(t, "/v1/policy/eval", op, `{"query": "data.xborder.api.allow", "input": {"method": "GET"}}`)
	if code != 200 || !strings.Contains(string(body), `"method": "GET"`) {
		t.Fatalf("eval: %d %s", code, body)
	}
	for body, want := range map[string]string{
		``:                                  "empty",
		`{"query": "data.x", "input": [1]}`: "input must be a JSON object",
		`{"query": "", "input": {}}`:        "query is empty",
		`{"query": "data.x", "input": {}, "x": 1}`:                                  "unknown field",
		`{"query": "data.x", "input": {}} {}`:                                       "more than one",
		`{"query": "data.x", "input": {"a": "` + strings.Repeat("a", 2<<20) + `"}}`: "exceeds",
	} {
		code, out := f.post(t, "/v1/policy/eval", op, body)
		if code/100 != 4 || !strings.Contains(string(out), want) {
			t.Errorf("eval with %.40q: %d %s", body, code, out)
		}
	}
	if code, _ := f.post(t, "/v1/policy/reload", f.token(t, RoleResearcher, time.Hour), ""); code != http.StatusForbidden {
		t.Fatalf("researcher reload: %d", code)
	}
}

func TestRegistryEndpointsMapDenialsAndRejections(t *testing.T) {
	f := newFixture(t)
	op := f.token(t, RoleOperator, time.Hour)
	code, body := f.post(t, "/v1/projects", op, `{"id": "p", "title": "T", "themes": ["health"], "partners": ["fr-grandest"]}`)
	var e Error
	if code != http.StatusForbidden || json.Unmarshal(body, &e) != nil || !e.Denied || e.Rules[0] != "project_two_countries" {
		t.Fatalf("policy denial: %d %s", code, body)
	}
	if code, body = f.post(t, "/v1/projects", op, `{"id": "p", "title": "T", "themes": ["health"], "partners": ["fr-grandest", "de-bw"]}`); code != 200 {
		t.Fatalf("propose: %d %s", code, body)
	}
	if code, body = f.post(t, "/v1/projects", op, `{"id": "p", "title": "T", "themes": ["health"], "partners": ["fr-grandest", "de-bw"]}`); code != http.StatusConflict {
		t.Fatalf("duplicate: %d %s", code, body)
	}
	if code, body = f.get(t, "/v1/projects/p", op); code != 200 || !strings.Contains(string(body), `"applied_index": 7`) {
		t.Fatalf("show: %d %s", code, body)
	}
	if code, _ = f.get(t, "/v1/projects/nope", op); code != http.StatusNotFound {
		t.Fatalf("missing project: %d", code)
	}
	if code, body = f.post(t, "/v1/members/nl-limburg/vote", op, `{"vote": "maybe"}`); code != http.StatusBadRequest {
		t.Fatalf("bad vote: %d %s", code, body)
	}
}

func TestPublishTakesMultipartMetadataThenFile(t *testing.T) {
	f := newFixture(t)
	op := f.token(t, RoleOperator, time.Hour)
	send := func(meta, file string) (int, []byte) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mp, _ := mw.CreateFormField("metadata")
		mp.Write([]byte(meta))
		fp, _ := mw.CreateFormFile("file", "air.csv")
		fp.Write([]byte(file))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/v1/datasets", &body)
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if code, body := send(`{"id":"air","title":"Air","theme":"health","classification":"open"}`, "a,b\n"); code != 200 || !strings.Contains(string(body), `"size": 4`) {
		t.Fatalf("publish: %d %s", code, body)
	}
	if code, body := send(`{"id":"air","title":"Air","theme":"tourism","classification":"open"}`, "x"); code != 400 || !strings.Contains(string(body), "theme") {
		t.Fatalf("bad theme: %d %s", code, body)
	}
	if code, _ := f.post(t, "/v1/datasets", op, `{}`); code != http.StatusUnsupportedMediaType {
		t.Fatalf("json body: %d", code)
	}
}

func TestRequestDenialCarriesReasons(t *testing.T) {
	f := newFixture(t)
	code, body := f.post(t, "/v1/requests", f.token(t, RoleOperator, time.Hour), `{"owner":"fr-grandest","id":"icu","purpose":"research"}`)
	var e Error
	if code != http.StatusForbidden || json.Unmarshal(body, &e) != nil || !e.Denied || e.Rules[0] != "sensitive_requires_project" {
		t.Fatalf("denial: %d %s", code, body)
	}
	if code, _ := f.get(t, "/v1/transfers/nope/content", f.token(t, RoleOperator, time.Hour)); code != http.StatusNotFound {
		t.Fatalf("content of an unknown transfer: %d", code)
	}
}

func (m *memRegistry) DeclaredPolicies(context.Context) ([]consensus.DeclaredPolicy, error) {
	return []consensus.DeclaredPolicy{{Member: "de-bw", Hash: strings.Repeat("cd", 32), Declared: true,
		TS: time.Date(2026, 11, 26, 8, 1, 0, 0, time.UTC).UnixMilli()}, {Member: "lu-luxembourg"}}, nil
}
