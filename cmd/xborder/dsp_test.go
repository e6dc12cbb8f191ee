package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

const dspProvider = "did:web:data.region-bw.example"

// cliDataspace is a participant in memory behind the real API: dataset
// "air" is offered for research and transfers; "icu" is refused by the
// provider's policy, "genome" by this node's; "tampered" transfers content
// the node serves other than the digest it verified.
type cliDataspace struct {
	dir string

	mu           sync.Mutex
	negotiations map[string]*dsp.Negotiation
	transfers    map[string]*dsp.Transfer
	waited       time.Duration // the wait_s the API was given, as a deadline
}

var cliCreated = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func (d *cliDataspace) RequestCatalog(ctx context.Context, provider string) (dsp.Catalog, error) {
	if provider != dspProvider {
		return dsp.Catalog{}, &dsp.ConsumerError{Status: http.StatusBadRequest, Code: dsp.CodeNotFound,
			Reasons: []string{fmt.Sprintf("%q is not a participant this node's configuration lists (dataspace.participants).", provider)}}
	}
	air, _ := d.RequestDataset(ctx, provider, "air")
	icu, _ := d.RequestDataset(ctx, provider, "icu")
	return dsp.Catalog{ID: "urn:catalog:bw", Type: dsp.TypeCatalog, ParticipantID: provider, Dataset: []dsp.Dataset{air, icu}}, nil
}

func (d *cliDataspace) RequestDataset(_ context.Context, provider, id string) (dsp.Dataset, error) {
	switch id {
	case "air":
		return dsp.Dataset{ID: "air", Type: dsp.TypeDataset, DCAT: dsp.DCAT{Title: "Air quality 2025", Keyword: []string{"no2"}},
			Distribution: []dsp.Distribution{{Type: dsp.TypeDistribution, Format: dsp.FormatHTTPPull, MediaType: "text/csv", ByteSize: 26}},
			HasPolicy: []dsp.Offer{{ID: "urn:xborder:offer:air:research", Type: dsp.TypeOffer, Assigner: provider,
				Permission: []dsp.Rule{{Action: dsp.ActionUse, Constraint: []dsp.Constraint{
					{LeftOperand: dsp.LeftPurpose, Operator: "eq", RightOperand: "research"},
					{LeftOperand: dsp.LeftElapsedTime, Operator: "lteq", RightOperand: "P30D"}}}},
				Obligation: []dsp.Rule{{Action: dsp.ActionObligation, Description: "Cite the Land Baden-Württemberg."}}}}}, nil
	case "icu":
		return dsp.Dataset{ID: "icu", Type: dsp.TypeDataset, DCAT: dsp.DCAT{Title: "ICU stays"},
			HasPolicy: []dsp.Offer{{ID: "urn:xborder:offer:icu:on-request", Type: dsp.TypeOffer, Permission: []dsp.Rule{{Action: dsp.ActionUse,
				Constraint: []dsp.Constraint{{LeftOperand: dsp.LeftPurpose, Operator: "isAnyOf", RightOperand: []any{"research", "statistics"}}}}}}}}, nil
	}
	return dsp.Dataset{}, &dsp.ConsumerError{Status: http.StatusBadGateway, Code: dsp.CodeNotFound, Reasons: []string{"No dataset " + id + " is offered to you."}}
}

func (d *cliDataspace) Negotiate(_ context.Context, req dsp.NegotiateRequest) (*dsp.Negotiation, error) {
	switch req.Dataset {
	case "genome":
		return nil, &dsp.ConsumerError{Status: http.StatusForbidden, Code: dsp.CodeDenied,
			Reasons: []string{"Genomic data is taken from outside the federation only within a joint project."}}
	case "icu":
		return nil, &dsp.ConsumerError{Status: http.StatusBadGateway, Code: dsp.CodeDenied,
			Reasons: []string{"Sensitive health data is not offered to external participants.", "Ask for an agreement with the Land."}}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := &dsp.Negotiation{Role: dsp.RoleConsumer, ConsumerPID: "urn:uuid:neg-" + req.Dataset, ProviderPID: "urn:uuid:p", State: dsp.NegRequested,
		Participant: req.Provider, Dataset: req.Dataset, Offer: dsp.Offer{ID: "urn:xborder:offer:" + req.Dataset + ":" + req.Purpose},
		Purpose: req.Purpose, Researcher: req.Researcher.Sub, Created: cliCreated, Updated: cliCreated}
	d.negotiations[n.Key()] = n
	c := *n
	return &c, nil
}

func (d *cliDataspace) WaitNegotiation(ctx context.Context, pid string) (*dsp.Negotiation, error) {
	d.mu.Lock()
	n := d.negotiations[pid]
	if dl, ok := ctx.Deadline(); ok {
		d.waited = time.Until(dl).Round(time.Second)
	}
	if n.Dataset == "slow" {
		c := *n
		d.mu.Unlock()
		<-ctx.Done()
		return &c, ctx.Err()
	}
	n.State, n.Agreement, n.ValidUntil = dsp.NegFinalized, &dsp.Agreement{ID: "urn:uuid:agr-" + n.Dataset}, cliCreated.Add(30*24*time.Hour)
	c := *n
	d.mu.Unlock()
	return &c, nil
}

func (d *cliDataspace) StartTransfer(_ context.Context, agreementID string, r policy.Researcher) (*dsp.Transfer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.negotiations {
		if n.Agreement != nil && n.Agreement.ID == agreementID {
			t := &dsp.Transfer{Role: dsp.RoleConsumer, ConsumerPID: "urn:uuid:tp-" + n.Dataset, State: dsp.TPRequested, Participant: n.Participant,
				AgreementID: agreementID, Dataset: n.Dataset, Researcher: r.Sub, Created: cliCreated, Updated: cliCreated}
			d.transfers[t.Key()] = t
			c := *t
			return &c, nil
		}
	}
	return nil, &dsp.ConsumerError{Status: http.StatusNotFound, Code: dsp.CodeAgreement, Reasons: []string{"This node negotiated no agreement \"" + agreementID + "\"."}}
}

func (d *cliDataspace) WaitTransfer(_ context.Context, pid string, _ ...dsp.TransferState) (*dsp.Transfer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.transfers[pid]
	t.State = dsp.TPStarted
	c := *t
	return &c, nil
}

func (d *cliDataspace) Pull(_ context.Context, pid string, _ func(done, total int64)) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.transfers[pid]
	content := []byte("station,no2\nstrasbourg,31\n")
	sum := sha256.Sum256(content)
	if t.Dataset == "tampered" {
		// What the node keeps changes after it was verified.
		content = []byte("station,no2\nstrasbourg,99\n")
	}
	path := filepath.Join(d.dir, "pulled-"+t.Dataset)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return "", err
	}
	t.SHA256, t.Size, t.File, t.State = hex.EncodeToString(sum[:]), int64(len(content)), path, dsp.TPCompleted
	return path, nil
}

func (d *cliDataspace) Negotiations() ([]dsp.Negotiation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []dsp.Negotiation{{Role: dsp.RoleProvider, ProviderPID: "urn:uuid:served", ConsumerPID: "edc-1", State: dsp.NegTerminated,
		Participant: "did:web:edc.example", Dataset: "icu", Code: dsp.CodeDenied, Created: cliCreated, Updated: cliCreated}}
	for _, n := range d.negotiations {
		out = append(out, *n)
	}
	return out, nil
}

func (d *cliDataspace) Negotiation(pid string) (*dsp.Negotiation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n, ok := d.negotiations[pid]; ok {
		c := *n
		return &c, nil
	}
	return nil, dsp.ErrNotFound
}

func (d *cliDataspace) Transfers() ([]dsp.Transfer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []dsp.Transfer
	for _, t := range d.transfers {
		out = append(out, *t)
	}
	return out, nil
}

func (d *cliDataspace) Transfer(pid string) (*dsp.Transfer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.transfers[pid]; ok {
		c := *t
		return &c, nil
	}
	return nil, dsp.ErrNotFound
}

func (d *cliDataspace) Identity() (string, json.RawMessage, error) {
	return "urn:xborder:fr-grandest", json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`), nil
}

func (d *cliDataspace) RecordDownload(context.Context, policy.Researcher, *dsp.Transfer) error {
	return nil
}

type allowAll struct{}

func (allowAll) APIAllow(context.Context, policy.APIInput) (bool, error) { return true, nil }

// dspAPI serves the real local API with ds as its dataspace (nil: not a
// participant) and returns its URL and a researcher's token.
func dspAPI(t *testing.T, ds api.Dataspace) (string, string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const nodeID = "12D3KooWALzKvL7u9t9Sf6RW9JSNRHtJcdXcU4tUpf9VzubwPNvG"
	reg := prometheus.NewRegistry()
	s := api.NewServer(api.Deps{Dataspace: ds, Tokens: &api.Verifier{Key: key.Public().(ed25519.PublicKey), NodeID: nodeID}, Authz: allowAll{},
		Log: slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	tok, err := api.IssueToken(key, nodeID, api.User{Subject: "alice", Role: api.RoleResearcher, Org: "Uni Strasbourg"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, tok
}

func newCLIDataspace(t *testing.T) *cliDataspace {
	return &cliDataspace{dir: t.TempDir(), negotiations: map[string]*dsp.Negotiation{}, transfers: map[string]*dsp.Transfer{}}
}

func TestDSPCatalogueNegotiateFetch(t *testing.T) {
	ds := newCLIDataspace(t)
	addr, tok := dspAPI(t, ds)
	run := func(args ...string) (int, string, string) {
		return xb(t, append([]string{"--data", t.TempDir(), "--addr", addr, "--token", tok, "dsp"}, args...)...)
	}

	code, out, errs := run("catalogue", dspProvider)
	if code != 0 {
		t.Fatalf("catalogue: exit %d: %s", code, errs)
	}
	for _, want := range []string{"DATASET", "air", "Air quality 2025", "research", "30 days", "urn:xborder:offer:air:research",
		"icu", "on request: research, statistics", "unbounded"} {
		if !strings.Contains(out, want) {
			t.Errorf("catalogue lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run("catalogue", dspProvider, "--json")
	var cat dsp.Catalog
	if code != 0 || json.Unmarshal([]byte(out), &cat) != nil || len(cat.Dataset) != 2 || cat.ParticipantID != dspProvider {
		t.Fatalf("catalogue --json: exit %d %s", code, out)
	}
	if code, _, errs := run("catalogue", "urn:nobody"); code != exitError || !strings.Contains(errs, "not a participant this node's configuration lists") {
		t.Fatalf("unknown provider: exit %d %s", code, errs)
	}

	code, out, errs = run("dataset", dspProvider, "air")
	if code != 0 || !strings.Contains(out, "duty: Cite the Land Baden-Württemberg.") || !strings.Contains(out, "text/csv, 26 bytes") {
		t.Fatalf("dataset: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := run("dataset", dspProvider, "nope"); code != exitError || !strings.Contains(errs, "the provider refused (not_found)") {
		t.Fatalf("unknown dataset: exit %d %s", code, errs)
	}

	code, out, errs = run("negotiate", dspProvider, "air", "--purpose", "research", "--wait", "45s")
	if code != 0 || !strings.Contains(out, "agreed: urn:uuid:agr-air with "+dspProvider) || !strings.Contains(out, "xborder dsp fetch urn:uuid:agr-air") {
		t.Fatalf("negotiate: exit %d %s %s", code, out, errs)
	}
	if ds.waited != 45*time.Second {
		t.Errorf("the node waited %s, not --wait 45s", ds.waited)
	}
	if n := ds.negotiations["urn:uuid:neg-air"]; n.Researcher != "alice" {
		t.Errorf("negotiated for %q, not the token's researcher", n.Researcher)
	}

	code, out, errs = run("negotiations")
	// A researcher sees her own negotiations, not those this node provides.
	if code != 0 || !strings.Contains(out, "urn:uuid:neg-air") || strings.Contains(out, "urn:uuid:served") {
		t.Fatalf("negotiations: exit %d %s %s", code, out, errs)
	}

	file := filepath.Join(t.TempDir(), "air.csv")
	code, out, errs = run("fetch", "urn:uuid:agr-air", "--out", file)
	if code != 0 || !strings.Contains(out, "26 bytes, sha256 ") {
		t.Fatalf("fetch: exit %d %s %s", code, out, errs)
	}
	if got, _ := os.ReadFile(file); string(got) != "station,no2\nstrasbourg,31\n" {
		t.Fatalf("fetched %q", got)
	}
	code, out, _ = run("transfers", "--json")
	var ts []api.DataspaceTransfer
	if code != 0 || json.Unmarshal([]byte(out), &ts) != nil || len(ts) != 1 || ts[0].State != "COMPLETED" || ts[0].File != "pulled-air" {
		t.Fatalf("transfers --json: exit %d %s", code, out)
	}
	if code, _, errs := run("fetch", "urn:uuid:agr-nothing", "--out", file); code != exitError || !strings.Contains(errs, "negotiated no agreement") {
		t.Fatalf("unknown agreement: exit %d %s", code, errs)
	}

	code, out, _ = run("identity")
	if code != 0 || !strings.Contains(out, "participant id: urn:xborder:fr-grandest") || !strings.Contains(out, `{"kty":"OKP","crv":"Ed25519"`) {
		t.Fatalf("identity: exit %d %s", code, out)
	}
}

// A refusal by a policy exits 3 naming who refused, with each reason;
// content that does not match the transfer's digest exits 4 and writes
// nothing.
func TestDSPRefusalsAndIntegrityExitCodes(t *testing.T) {
	ds := newCLIDataspace(t)
	addr, tok := dspAPI(t, ds)
	run := func(args ...string) (int, string, string) {
		return xb(t, append([]string{"--data", t.TempDir(), "--addr", addr, "--token", tok, "dsp"}, args...)...)
	}
	code, _, errs := run("negotiate", dspProvider, "icu", "--purpose", "research")
	if code != exitDenied || !strings.Contains(errs, "the provider refused (denied):\n  - Sensitive health data is not offered to external participants.\n  - Ask for an agreement") {
		t.Fatalf("provider's refusal: exit %d %q", code, errs)
	}
	code, _, errs = run("negotiate", dspProvider, "genome", "--purpose", "research")
	if code != exitDenied || !strings.Contains(errs, "denied by this node's policy (denied):\n  - Genomic data") {
		t.Fatalf("this node's refusal: exit %d %q", code, errs)
	}
	code, out, _ := run("negotiate", dspProvider, "slow", "--purpose", "research", "--wait", "0s")
	if code != 0 || !strings.Contains(out, "negotiation urn:uuid:neg-slow is REQUESTED after 0s") {
		t.Fatalf("still under way: exit %d %s", code, out)
	}
	for _, args := range [][]string{
		{"negotiate", dspProvider, "air"},
		{"negotiate", dspProvider, "air", "--purpose", "research", "--wait", "3m"},
		{"negotiate", dspProvider, "--purpose", "research"},
		{"fetch", "urn:uuid:agr-air"},
		{"catalogue"},
	} {
		if code, _, errs := run(args...); code != exitUsage {
			t.Errorf("%q: exit %d %s", args, code, errs)
		}
	}

	if code, _, errs := run("negotiate", dspProvider, "tampered", "--purpose", "research"); code != 0 {
		t.Fatalf("negotiate: exit %d %s", code, errs)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "t.csv")
	code, _, errs = run("fetch", "urn:uuid:agr-tampered", "--out", file)
	if code != exitIntegrity || !strings.Contains(errs, "does not match the transfer's verified") {
		t.Fatalf("tampered: exit %d %s", code, errs)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a tampered download left %v", entries)
	}
}

func TestDSPOnANodeThatIsNoParticipant(t *testing.T) {
	addr, tok := dspAPI(t, nil)
	code, _, errs := xb(t, "--data", t.TempDir(), "--addr", addr, "--token", tok, "dsp", "negotiations")
	if code != exitError || !strings.Contains(errs, "501: this node is not configured as a dataspace participant (config: dataspace)") {
		t.Fatalf("exit %d %s", code, errs)
	}
}
