package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/policy"
)

// memCatalogue is a provider's catalogue held in memory.
type memCatalogue struct {
	entries []dsp.Entry
	blobs   map[string][]byte // by sha256
}

func (m *memCatalogue) add(id, classification string, personal bool, content []byte) {
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])
	m.blobs[h] = content
	m.entries = append(m.entries, dsp.Entry{ID: id, SHA256: h, Size: int64(len(content)), MediaType: "text/csv",
		DCAT:       dsp.DCAT{Title: id},
		Visibility: policy.CatalogueEntry{ID: id, Owner: "fr-grandest", Kind: "dataset", Classification: classification, Theme: "health", Partners: []string{}, PersonalData: personal, PublicListing: true},
		Resource:   policy.Resource{Kind: "dataset", ID: id, Owner: "fr-grandest", Theme: "health", Classification: classification, PersonalData: personal, License: "CC-BY-4.0", Partners: []string{}},
	})
}

func (m *memCatalogue) Entries(context.Context) []dsp.Entry { return m.entries }

func (m *memCatalogue) Entry(_ context.Context, id string) (dsp.Entry, bool) {
	for _, e := range m.entries {
		if e.ID == id {
			return e, true
		}
	}
	return dsp.Entry{}, false
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (m *memCatalogue) Open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	b, ok := m.blobs[sum]
	if !ok {
		return nil, os.ErrNotExist
	}
	return nopCloser{bytes.NewReader(b)}, nil
}

// trail records what the provider audits.
type trail struct {
	mu   sync.Mutex
	recs []string
}

func (t *trail) Record(typ, subject string, _ any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recs = append(t.recs, typ+" "+subject)
	return nil
}

// provider is an xborder node's dataspace participant on loopback, with
// the shipped policies deciding, as the Grand Est node runs it in the
// testnet.
type provider struct {
	url, id string
	key     ed25519.PrivateKey
	audit   *trail
}

func startProvider(t *testing.T, cat *memCatalogue, consumer dsp.ParticipantConfig, key ed25519.PrivateKey) *provider {
	t.Helper()
	ctx := context.Background()
	engine, err := policy.NewEngine(ctx, "../../../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	p := &provider{id: "urn:xborder:fr-grandest", key: key, audit: &trail{}}
	srv := httptest.NewUnstartedServer(nil)
	p.url = "http://" + srv.Listener.Addr().String()

	vc := dsp.DefaultVerifierConfig()
	vc.Audience, vc.Participants = p.id, []dsp.ParticipantConfig{consumer}
	verifier, err := dsp.NewTokenVerifier(vc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := dsp.DefaultConfig(t.TempDir())
	cfg.ParticipantID, cfg.PublicURL = p.id, p.url
	svc, err := dsp.Open(cfg, dsp.Deps{Catalogue: cat, Policy: engine, Recorder: p.audit, Verifier: verifier,
		Tokens: dsp.NewSigner(p.id, key, nil), Participants: verifier.Participant, Key: key,
		Self: policy.Node{Node: "fr-grandest", Country: "FR", Org: "Région Grand Est"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/dsp/", svc.Handler())
	mux.Handle("/.well-known/dspace-version", svc.WellKnown())
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = svc.Close() })
	return p
}

// newTestConsumer returns a consumer whose callback endpoints listen on
// loopback, and the participant entry the provider knows it by.
func newTestConsumer(t *testing.T, providerKeyFile string) (*consumer, net.Listener, dsp.ParticipantConfig) {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "dataspace.key")
	var pub bytes.Buffer
	if err := keygen([]string{"-key", keyFile}, &pub); err != nil {
		t.Fatal(err)
	}
	key, err := readKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{ID: "did:web:dataspace.testnet", Callback: "http://" + ln.Addr().String(),
		ProviderID: "urn:xborder:fr-grandest", ProviderKey: providerKeyFile, Purpose: "research", Wait: 10 * time.Second}
	c, err := newConsumer(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	return c, ln, dsp.ParticipantConfig{ID: cfg.ID, Country: "DE", Org: "Dataspace testnet", PublicKey: pub.String(), Address: cfg.Callback}
}

// writeProviderKey writes the public key of a provider's node key, as
// testnet.sh does with `dataspace public-key`.
func writeProviderKey(t *testing.T, key ed25519.PrivateKey) string {
	t.Helper()
	var pub bytes.Buffer
	if err := writePublic(&pub, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "provider.pem")
	if err := os.WriteFile(file, pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// The run the testnet scenario makes, against an in-process provider:
// version, catalogue with the vocabulary's purposes, the sensitive
// dataset refused with the policy's reasons, the open one agreed,
// pulled, verified and completed, the token dead afterwards, and both
// decisions audited.
func TestRunAgainstAnXborderProvider(t *testing.T) {
	cat := &memCatalogue{blobs: map[string][]byte{}}
	open := []byte("region,year,no2\nGrand Est,2025,17.5\n")
	cat.add("air-quality", "open", false, open)
	cat.add("icu-admissions", "sensitive", true, []byte("secret"))

	// The consumer checks the provider's callbacks with its public key.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	c, ln, who := newTestConsumer(t, writeProviderKey(t, key))
	p := startProvider(t, cat, who, key)
	c.cfg.Provider, c.cfg.Open, c.cfg.Refused = p.url, "air-quality", "icu-admissions"
	stop := c.serve(ln)
	defer stop()

	rep := c.run(context.Background())
	var out bytes.Buffer
	rep.print(&out)
	t.Logf("%s", out.String())
	if !rep.OK {
		t.Fatalf("run failed: %+v", rep)
	}
	if rep.Version.Base != p.url+"/dsp" {
		t.Errorf("base %q", rep.Version.Base)
	}
	var offered []string
	for _, d := range rep.Catalogue.Datasets {
		if d.ID == "air-quality" {
			for _, o := range d.Offers {
				if o.Operator == "eq" {
					offered = append(offered, o.Purposes...)
				}
			}
		}
	}
	if !slices.Contains(offered, "research") {
		t.Errorf("air-quality offered for %v, want research among them", offered)
	}
	if r := rep.Refused; r.State != "TERMINATED" || r.Code != dsp.CodeDenied || !strings.Contains(strings.Join(r.Reasons, " "), "members of the federation") {
		t.Errorf("refused: %+v", r)
	}
	if n := rep.Negotiation; !slices.Equal(n.States, []string{"REQUESTED", "AGREED", "VERIFIED", "FINALIZED"}) || n.AgreementID == "" {
		t.Errorf("negotiation: %+v", n)
	}
	sum := sha256.Sum256(open)
	if tr := rep.Transfer; !tr.Verified || tr.SHA256 != hex.EncodeToString(sum[:]) || tr.Bytes != int64(len(open)) ||
		tr.State != "COMPLETED" || tr.TokenAfter != http.StatusUnauthorized {
		t.Errorf("transfer: %+v", tr)
	}
	decisions := 0
	for _, r := range p.audit.recs {
		if strings.HasPrefix(r, "dsp.negotiation.decision ") {
			decisions++
		}
	}
	if decisions != 2 {
		t.Errorf("%d negotiation decisions audited, want 2: %v", decisions, p.audit.recs)
	}
}

// A callback without the provider's token, or for no process of this
// consumer, is refused.
func TestCallbacksRefuseStrangers(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	keyFile := writeProviderKey(t, key)
	c, ln, _ := newTestConsumer(t, keyFile)
	stop := c.serve(ln)
	defer stop()
	c.cb.open("negotiations", "urn:uuid:1")
	body := `{"@context":["` + dsp.ContextURL + `"],"@type":"ContractNegotiationEventMessage","providerPid":"p","consumerPid":"urn:uuid:1","eventType":"FINALIZED"}`
	post := func(path, auth string) int {
		req, _ := http.NewRequest(http.MethodPost, c.cfg.Callback+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A fresh token for each request: the consumer refuses one it has
	// seen (its jti).
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	good, forged := dsp.NewSigner("urn:xborder:fr-grandest", key, nil), dsp.NewSigner("urn:xborder:fr-grandest", other, nil)
	used, _ := good.Authorization(c.cfg.ID)
	if got := post("/negotiations/urn:uuid:1/events", used); got != http.StatusOK {
		t.Fatalf("first delivery: %d", got)
	}
	for _, tc := range []struct {
		path string
		auth func() string
		want int
	}{
		{"/negotiations/urn:uuid:1/events", func() string { return "" }, http.StatusUnauthorized},
		{"/negotiations/urn:uuid:1/events", func() string { a, _ := forged.Authorization(c.cfg.ID); return a }, http.StatusUnauthorized},
		{"/negotiations/urn:uuid:1/events", func() string { return used }, http.StatusUnauthorized}, // replayed
		{"/negotiations/urn:uuid:2/events", func() string { a, _ := good.Authorization(c.cfg.ID); return a }, http.StatusNotFound},
		{"/transfers/urn:uuid:1/start", func() string { a, _ := good.Authorization(c.cfg.ID); return a }, http.StatusNotFound},
		{"/negotiations/urn:uuid:1/agreement", func() string { a, _ := good.Authorization(c.cfg.ID); return a }, http.StatusBadRequest}, // an event is not an agreement
		{"/negotiations/urn:uuid:1/events", func() string { a, _ := good.Authorization(c.cfg.ID); return a }, http.StatusOK},
	} {
		if got := post(tc.path, tc.auth()); got != tc.want {
			t.Errorf("POST %s: %d, want %d", tc.path, got, tc.want)
		}
	}
}

// Whatever a provider posts to a callback endpoint is answered 200 or a
// 4xx (or the router's redirect to a clean path), never a panic or a 5xx.
func FuzzCallback(f *testing.F) {
	ctx := `{"@context":["` + dsp.ContextURL + `"],`
	f.Add("negotiations", "agreement", ctx+`"@type":"ContractAgreementMessage","providerPid":"p","consumerPid":"urn:uuid:1",
		"agreement":{"@id":"a","@type":"Agreement","target":"d","assigner":"x","assignee":"y","timestamp":"2026-01-02T03:04:05Z","permission":[{"action":"use"}]}}`)
	f.Add("negotiations", "termination", ctx+`"@type":"ContractNegotiationTerminationMessage","providerPid":"p","consumerPid":"urn:uuid:1","code":"denied","reason":["no"]}`)
	f.Add("transfers", "start", ctx+`"@type":"TransferStartMessage","providerPid":"p","consumerPid":"urn:uuid:1",
		"dataAddress":{"@type":"DataAddress","endpointType":"https://w3id.org/idsa/v4.1/HTTP","endpoint":"http://x/y","endpointProperties":[{"@type":"EndpointProperty","name":"authorization","value":"t"}]}}`)
	f.Add("transfers", "completion", ctx+`"@type":"TransferCompletionMessage","providerPid":"p","consumerPid":"urn:uuid:2"}`)
	f.Add("negotiations", "events", "{")
	f.Add("x", "y", "")
	f.Fuzz(func(t *testing.T, area, kind, body string) {
		cb := &callbacks{inbox: map[string]chan any{}}
		cb.open("negotiations", "urn:uuid:1")
		cb.open("transfers", "urn:uuid:1")
		req := httptest.NewRequest(http.MethodPost, "/"+url.PathEscape(area)+"/urn:uuid:1/"+url.PathEscape(kind), strings.NewReader(body))
		rec := httptest.NewRecorder()
		cb.handler().ServeHTTP(rec, req)
		if rec.Code >= 500 || (rec.Code != http.StatusOK && rec.Code < 300) {
			t.Fatalf("POST %s: %d %s", req.URL.Path, rec.Code, rec.Body)
		}
	})
}

func TestReprDigest(t *testing.T) {
	for h, want := range map[string]string{
		"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:":                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha-512=:AAAA:, sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha-256=:AAAA:": "", "": "", "sha-256": "",
	} {
		if got := reprDigest(h); got != want {
			t.Errorf("reprDigest(%q) = %q, want %q", h, got, want)
		}
	}
}
