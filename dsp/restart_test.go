package dsp_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/policy"
)

// A provider that cannot reach the consumer keeps what it owes it: the
// agreement it decided is stored with the negotiation, the provider is
// stopped and started again from the same dsp.db, and once the consumer
// answers, the very same agreement arrives; the negotiation's state and
// its agreement were never lost.
func TestOwedMessagesSurviveARestart(t *testing.T) {
	engine := dnEngine(t)
	kit, kitCfg := dnParticipant(t, "urn:tck:consumer", "DE")

	// The consumer's callback address: down (503) until up is set.
	var up atomic.Bool
	var mu sync.Mutex
	var agreements []dsp.ContractAgreementMessage
	got := make(chan struct{}, 8)
	callbacks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/agreement") {
			var m dsp.ContractAgreementMessage
			if err := dsp.DecodeBytes(raw, dsp.TypeContractAgreement, &m); err != nil {
				t.Errorf("the agreement sent after the restart: %v", err)
			}
			mu.Lock()
			agreements = append(agreements, m)
			mu.Unlock()
			got <- struct{}{}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(callbacks.Close)

	// The provider, behind a handler that outlives each dsp.Service.
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const providerID = "urn:xborder:provider"
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cat := newDNCatalogue()
	cat.add("OPEN01", dnOpen, dnContent("OPEN01"))
	dir := t.TempDir()
	open := func() *dsp.Service {
		ver, err := dsp.NewTokenVerifier(dsp.VerifierConfig{Audience: providerID, Participants: []dsp.ParticipantConfig{kitCfg}})
		if err != nil {
			t.Fatal(err)
		}
		cfg := dsp.DefaultConfig(dir)
		cfg.ParticipantID, cfg.PublicURL, cfg.CallbackTimeout, cfg.DeliveryAttempts = providerID, srv.URL, 2*time.Second, 1000
		svc, err := dsp.Open(cfg, dsp.Deps{Catalogue: cat, Policy: engine, Recorder: &dnRecorder{}, Verifier: ver,
			Tokens: dsp.NewSigner(providerID, key, nil), Participants: ver.Participant, Key: key,
			Self: policy.Node{Node: dnOwner, Country: "FR", Org: "Région Grand Est"}})
		if err != nil {
			t.Fatal(err)
		}
		h := svc.Handler()
		handler.Store(&h)
		return svc
	}
	svc := open()

	offer := dnOfferFor(t, svc, dsp.Participant{ID: kitCfg.ID, Country: "DE", Org: kitCfg.Org}, "OPEN01")
	offer.Target = "OPEN01"
	req, _ := json.Marshal(dsp.ContractRequestMessage{Header: dsp.NewMessage(dsp.TypeContractRequest),
		ConsumerPID: "urn:uuid:0b7e3a52-7d3c-4c57-9a8f-5f6a3f1f2e11", Offer: offer, CallbackAddress: callbacks.URL})
	code, body := dnPost(t, srv.URL+"/dsp/negotiations/request", dnToken(t, kit, providerID), string(req))
	if code != http.StatusCreated {
		t.Fatalf("contract request: %d %s", code, body)
	}
	var n dsp.ContractNegotiation
	if err := dsp.DecodeBytes([]byte(body), dsp.TypeNegotiation, &n); err != nil {
		t.Fatal(err)
	}
	// The provider agreed and tries to tell the consumer, which is down.
	testkit.Eventually(t, 20*time.Second, "the provider tried to deliver the agreement", func() bool {
		p, err := svc.Negotiation(n.ProviderPID)
		return err == nil && p.State == dsp.NegAgreed && p.Outbox != "" && p.Attempts > 0
	})
	before, err := svc.Negotiation(n.ProviderPID)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}

	// Started again from the same dsp.db, with the consumer back.
	up.Store(true)
	svc = open()
	t.Cleanup(func() { _ = svc.Close() })
	select {
	case <-got:
	case <-time.After(60 * time.Second):
		t.Fatal("the agreement owed before the restart was never delivered after it")
	}
	mu.Lock()
	a := agreements[0]
	mu.Unlock()
	if a.Agreement.ID != before.Agreement.ID || a.ProviderPID != n.ProviderPID || a.Agreement.Assignee != kitCfg.ID {
		t.Fatalf("delivered %+v, owed %+v", a, before.Agreement)
	}
	code, body = dnGet(t, srv.URL+"/dsp/negotiations/"+n.ProviderPID, dnToken(t, kit, providerID))
	if code != http.StatusOK || !strings.Contains(body, `"AGREED"`) {
		t.Fatalf("the negotiation after the restart: %d %s", code, body)
	}
	testkit.Eventually(t, 10*time.Second, "the delivery is no longer owed", func() bool {
		p, err := svc.Negotiation(n.ProviderPID)
		return err == nil && p.Outbox == ""
	})
}
