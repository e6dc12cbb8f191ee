package dsp_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/policy"
)

// Helpers of the tests that run real dsp.Services (tck_test.go,
// consumer_test.go), all prefixed dn ("dataspace node"), apart from the
// identity tests' id helpers.

// dnPolicies is the shipped policy folder.
const dnPolicies = "../policies"

// dnEngine loads the shipped policies into the real engine, once per
// test: the provider's dsp.Policy and the consumer's ConsumerPolicy.
func dnEngine(t testing.TB) *policy.Engine {
	t.Helper()
	e, err := policy.NewEngine(context.Background(), dnPolicies, nil)
	if err != nil {
		t.Fatalf("policy engine on %s: %v", dnPolicies, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	// A decision takes microseconds; its 250/500 ms deadlines are a net
	// against a runaway policy that a loaded test machine (the race
	// detector, tests in parallel) can overrun without any fault.
	if err := e.SetDeadlines(policy.Deadlines{Default: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if len(e.Purposes()) == 0 {
		t.Fatal("the shipped policies have no purpose vocabulary (data.data.purposes)")
	}
	return e
}

// dnOwner is the member that owns the provider's entries.
const dnOwner = "grand-est"

// dnCatalogue is an in-memory catalogue with real content.
type dnCatalogue struct {
	mu      sync.Mutex
	entries map[string]dsp.Entry
	order   []string
	blobs   map[string][]byte
}

func newDNCatalogue() *dnCatalogue {
	return &dnCatalogue{entries: map[string]dsp.Entry{}, blobs: map[string][]byte{}}
}

// dnKind says how an entry is classified, which is what the shipped
// policies decide on.
type dnKind struct {
	classification string
	personalData   bool
	theme          string
	publicListing  bool
}

var (
	// dnOpen is open data without personal data: any participant may see
	// it, and the exchange decision grants it for every purpose of the
	// vocabulary.
	dnOpen = dnKind{classification: "open", theme: "mobility"}
	// dnSensitive is sensitive health data its owner lists publicly: a
	// participant sees it, and the exchange decision refuses it (a joint
	// project of members is needed) with its reasons.
	dnSensitive = dnKind{classification: "sensitive", personalData: true, theme: "health", publicListing: true}
)

// add puts an entry with content into the catalogue and returns the
// content's sha256.
func (c *dnCatalogue) add(id string, k dnKind, content []byte) string {
	sum := sha256.Sum256(content)
	hexSum := hex.EncodeToString(sum[:])
	e := dsp.Entry{
		ID: id, SHA256: hexSum, Size: int64(len(content)), MediaType: "text/csv",
		DCAT: dsp.DCAT{Title: "Dataset " + id, Description: "Test dataset " + id + " (" + k.classification + ")",
			Identifier: id, Keyword: []string{k.theme}, Publisher: &dsp.IRI{ID: "urn:xborder:" + dnOwner}},
		Visibility: policy.CatalogueEntry{ID: id, Owner: dnOwner, Kind: "dataset", Classification: k.classification,
			Theme: k.theme, Partners: []string{}, PersonalData: k.personalData, PublicListing: k.publicListing},
		Resource: policy.Resource{Kind: "dataset", ID: id, Owner: dnOwner, Theme: k.theme, Classification: k.classification,
			PersonalData: k.personalData, License: "CC-BY-4.0", Partners: []string{}},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok {
		c.order = append(c.order, id)
	}
	c.entries[id] = e
	c.blobs[hexSum] = content
	return hexSum
}

func (c *dnCatalogue) Entries(context.Context) []dsp.Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]dsp.Entry, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.entries[id])
	}
	return out
}

func (c *dnCatalogue) Entry(_ context.Context, id string) (dsp.Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	return e, ok
}

func (c *dnCatalogue) Open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.blobs[sum]
	if !ok {
		return nil, fmt.Errorf("no content %s", sum)
	}
	return dnReader{bytes.NewReader(b)}, nil
}

type dnReader struct{ *bytes.Reader }

func (dnReader) Close() error { return nil }

// dnContent is a CSV of a few kilobytes, different for every id.
func dnContent(id string) []byte {
	var b bytes.Buffer
	b.WriteString("dataset,row,value\n")
	for i := range 200 {
		fmt.Fprintf(&b, "%s,%d,%d\n", id, i, (i*7919)%1000)
	}
	return b.Bytes()
}

// dnRecord is one audit record.
type dnRecord struct {
	Type, Subject string
	Details       map[string]any
}

// dnRecorder keeps the audit trail in memory and tells a watcher of every
// record (after it is kept, never while the caller waits on it).
type dnRecorder struct {
	mu      sync.Mutex
	records []dnRecord
	watch   func(dnRecord)
	// broken makes every record fail, as a full or failing disk would.
	broken atomic.Bool
}

func (r *dnRecorder) Record(typ, subject string, details any) error {
	if r.broken.Load() {
		return errors.New("audit.db: input/output error")
	}
	var d map[string]any
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	rec := dnRecord{Type: typ, Subject: subject, Details: d}
	r.mu.Lock()
	r.records = append(r.records, rec)
	watch := r.watch
	r.mu.Unlock()
	if watch != nil {
		watch(rec)
	}
	return nil
}

func (r *dnRecorder) of(typ string) []dnRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []dnRecord
	for _, rec := range r.records {
		if rec.Type == typ {
			out = append(out, rec)
		}
	}
	return out
}

// dnNode is one xborder node's dataspace participant on loopback: its
// key, its signer, its HTTP server, and (after open) its dsp.Service.
type dnNode struct {
	id     string
	key    ed25519.PrivateKey
	signer *dsp.Signer
	srv    *httptest.Server
	mux    *http.ServeMux
	cat    *dnCatalogue
	rec    *dnRecorder
	svc    *dsp.Service
}

// newDNNode starts the node's HTTP server (handlers are mounted by open:
// the service needs the server's address first).
func newDNNode(t testing.TB, id string) *dnNode {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n := &dnNode{id: id, key: key, signer: dsp.NewSigner(id, key, nil), mux: http.NewServeMux(), cat: newDNCatalogue(), rec: &dnRecorder{}}
	n.srv = httptest.NewServer(n.mux)
	t.Cleanup(n.srv.Close)
	return n
}

// base is the node's DSP base URL.
func (n *dnNode) base() string { return n.srv.URL + "/dsp" }

// as is how another node's configuration lists this one.
func (n *dnNode) as(t testing.TB, country, org string, withAddress bool) dsp.ParticipantConfig {
	t.Helper()
	jwk, err := n.signer.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	pc := dsp.ParticipantConfig{ID: n.id, Country: country, Org: org, PublicKey: string(jwk)}
	if withAddress {
		pc.Address = n.base()
	}
	return pc
}

// dnParticipant is a participant that is not a node here: a key and a
// configuration entry (the kit's consumer, an intruder).
func dnParticipant(t testing.TB, id, country string) (*dsp.Signer, dsp.ParticipantConfig) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := dsp.NewSigner(id, key, nil)
	jwk, err := s.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	return s, dsp.ParticipantConfig{ID: id, Country: country, Org: "Org of " + id, PublicKey: string(jwk)}
}

// open starts the node's dsp.Service with the real token verifier for
// peers, the real policy engine (as provider and consumer), and hold (nil in production) and mounts
// it.
func (n *dnNode) open(t testing.TB, pol *policy.Engine, hold func(dsp.Hold) bool, peers ...dsp.ParticipantConfig) {
	t.Helper()
	ver, err := dsp.NewTokenVerifier(dsp.VerifierConfig{Audience: n.id, Participants: peers})
	if err != nil {
		t.Fatal(err)
	}
	cfg := dsp.DefaultConfig(t.TempDir())
	cfg.ParticipantID, cfg.PublicURL = n.id, n.srv.URL
	cfg.CallbackTimeout = 5 * time.Second
	svc, err := dsp.Open(cfg, dsp.Deps{
		Catalogue: n.cat, Policy: pol, ConsumerPolicy: pol, Recorder: n.rec, Verifier: ver, Tokens: n.signer,
		Participants: ver.Participant, Key: n.key, Hold: hold,
		Self: policy.Node{Node: dnOwner, Country: "FR", Org: "Région Grand Est"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	n.svc = svc
	n.mux.Handle(cfg.BasePath+"/", svc.Handler())
	n.mux.Handle("/.well-known/dspace-version", svc.WellKnown())
}

// dnOfferFor is the first offer the provider makes participant p for a
// dataset (its catalogue as p sees it).
func dnOfferFor(t testing.TB, svc *dsp.Service, p dsp.Participant, dataset string) dsp.Offer {
	t.Helper()
	c, err := svc.Catalog(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Dataset {
		if d.ID == dataset && len(d.HasPolicy) > 0 {
			return d.HasPolicy[0]
		}
	}
	t.Fatalf("the provider's catalogue for %s has no offer for %s", p.ID, dataset)
	return dsp.Offer{}
}
