package dsp_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/policy"
)

// TestConsumerAgainstProvider runs two xborder participants against each
// other on loopback, each with the shipped policies in the real engine:
// the consumer negotiates open data (agreed, FINALIZED at both), is
// refused sensitive health data with the provider's reasons, transfers and
// pulls the open data (sha256 verified, COMPLETED at both); and a third
// participant, a wrong token and a finished transfer get nothing.
func TestConsumerAgainstProvider(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prov := newDNNode(t, "urn:xborder:provider")
	cons := newDNNode(t, "urn:xborder:consumer")
	intruder, intruderCfg := dnParticipant(t, "urn:xborder:intruder", "DE")
	openSum := prov.cat.add("OPEN01", dnOpen, dnContent("OPEN01"))
	prov.cat.add("HEALTH01", dnSensitive, dnContent("HEALTH01"))

	engine := dnEngine(t)
	prov.open(t, engine, nil, cons.as(t, "DE", "Consumer Org", true), intruderCfg)
	cons.open(t, engine, nil, prov.as(t, "FR", "Région Grand Est", true))
	alice := policy.Researcher{Sub: "alice", Org: "Consumer Org", Role: "researcher"}

	// Open data: agreed for the purpose asked, FINALIZED at both.
	n, err := cons.svc.Negotiate(ctx, dsp.NegotiateRequest{Provider: prov.id, Dataset: "OPEN01", Purpose: "research", Researcher: alice})
	if err != nil {
		t.Fatalf("negotiating open data: %v", err)
	}
	n, err = cons.svc.WaitNegotiation(ctx, n.Key())
	if err != nil || n.State != dsp.NegFinalized || n.Agreement == nil {
		t.Fatalf("the consumer's negotiation of open data: %+v, %v", n, err)
	}
	pn, err := prov.svc.Negotiation(n.ProviderPID)
	if err != nil || pn.State != dsp.NegFinalized || pn.Agreement == nil || pn.Agreement.ID != n.Agreement.ID || pn.Purpose != "research" {
		t.Fatalf("the provider's negotiation: %+v, %v", pn, err)
	}

	// Sensitive health data: the provider's policy refuses, with its
	// reasons at the consumer.
	refused, err := cons.svc.Negotiate(ctx, dsp.NegotiateRequest{Provider: prov.id, Dataset: "HEALTH01", Purpose: "research", Researcher: alice})
	if err != nil {
		t.Fatalf("negotiating sensitive data: %v (the provider was to refuse, not the consumer)", err)
	}
	refused, err = cons.svc.WaitNegotiation(ctx, refused.Key())
	if err != nil || refused.State != dsp.NegTerminated || refused.Code != dsp.CodeDenied ||
		!strings.Contains(strings.Join(refused.Reasons, " "), "personal health data") {
		t.Fatalf("the consumer's negotiation of sensitive data: %s, code %q, reasons %q, %v; the provider's policy reasons were expected", refused.State, refused.Code, refused.Reasons, err)
	}

	// The transfer: STARTED, pulled, verified, COMPLETED at both.
	tr, err := cons.svc.StartTransfer(ctx, n.Agreement.ID, alice)
	if err != nil {
		t.Fatalf("starting the transfer: %v", err)
	}
	tr, err = cons.svc.WaitTransfer(ctx, tr.Key(), dsp.TPStarted)
	if err != nil || tr.State != dsp.TPStarted || tr.DataAddress == nil {
		t.Fatalf("the transfer: %+v, %v", tr, err)
	}
	token, _ := tr.DataAddress.Property("authorization")
	endpoint := tr.DataAddress.Endpoint

	// Adversarial, while the transfer runs.
	t.Run("data plane refuses a wrong token", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", dnToken(t, intruder, prov.id)} {
			if status, body := dnGet(t, endpoint, auth); status != http.StatusUnauthorized {
				t.Errorf("data plane with Authorization %.20q…: status %d, 401 expected; %s", auth, status, body)
			}
		}
	})
	t.Run("another participant's process is unknown to a participant", func(t *testing.T) {
		for _, path := range []string{"/negotiations/" + n.ProviderPID, "/transfers/" + tr.ProviderPID} {
			if status, body := dnGet(t, prov.base()+path, dnToken(t, intruder, prov.id)); status != http.StatusNotFound {
				t.Errorf("GET %s by %s: status %d, 404 expected; %s", path, intruder.ParticipantID(), status, body)
			}
		}
		term := `{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"TransferTerminationMessage","providerPid":"` +
			tr.ProviderPID + `","consumerPid":"` + tr.ConsumerPID + `","code":"x"}`
		if status, body := dnPost(t, prov.base()+"/transfers/"+tr.ProviderPID+"/termination", dnToken(t, intruder, prov.id), term); status != http.StatusNotFound {
			t.Errorf("a termination of another's transfer: status %d, 404 expected; %s", status, body)
		}
		if pt, err := prov.svc.Transfer(tr.ProviderPID); err != nil || pt.State != dsp.TPStarted {
			t.Errorf("the transfer after another's termination: %+v, %v", pt, err)
		}
	})
	t.Run("the consumer's token is the consumer's only", func(t *testing.T) {
		// A token the consumer gave a third participant (its audience)
		// is refused when that one presents it here.
		forwarded, err := cons.signer.Token(intruder.ParticipantID(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if status, body := dnGet(t, prov.base()+"/negotiations/"+n.ProviderPID, "Bearer "+forwarded); status != http.StatusUnauthorized {
			t.Errorf("the consumer's token for %s presented here: status %d, 401 expected; %s", intruder.ParticipantID(), status, body)
		}
		// A token for this provider, seen once, is not good twice.
		tok, err := cons.signer.Token(prov.id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if status, body := dnGet(t, prov.base()+"/negotiations/"+n.ProviderPID, "Bearer "+tok); status != http.StatusOK {
			t.Fatalf("the consumer reading its negotiation: status %d; %s", status, body)
		}
		if status, body := dnGet(t, prov.base()+"/negotiations/"+n.ProviderPID, "Bearer "+tok); status != http.StatusUnauthorized {
			t.Errorf("the consumer's token replayed: status %d, 401 expected; %s", status, body)
		}
		// A token the intruder signs in the consumer's name fails its
		// signature.
		_, otherKey, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		forged := dsp.NewSigner(cons.id, otherKey, nil)
		if status, body := dnGet(t, prov.base()+"/negotiations/"+n.ProviderPID, dnToken(t, forged, prov.id)); status != http.StatusUnauthorized {
			t.Errorf("a token signed in the consumer's name by another key: status %d, 401 expected; %s", status, body)
		}
	})

	path, err := cons.svc.Pull(ctx, tr.Key(), nil)
	if err != nil {
		t.Fatalf("pulling: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != openSum {
		t.Fatalf("the pulled file has sha256 %x, the provider's content %s", sum, openSum)
	}
	if ct, err := cons.svc.Transfer(tr.Key()); err != nil || ct.State != dsp.TPCompleted || ct.SHA256 != openSum {
		t.Fatalf("the consumer's transfer after the pull: %+v, %v", ct, err)
	}
	if pt, err := prov.svc.Transfer(tr.ProviderPID); err != nil || pt.State != dsp.TPCompleted || pt.BytesServed != int64(len(raw)) {
		t.Fatalf("the provider's transfer after the pull: %+v, %v", pt, err)
	}
	if status, body := dnGet(t, endpoint, "Bearer "+token); status != http.StatusUnauthorized {
		t.Errorf("the data plane after completion: status %d, 401 expected; %s", status, body)
	}

	// What each side recorded.
	if got := cons.rec.of("dsp.consumer.decision"); len(got) != 2 || got[0].Details["allow"] != true {
		t.Errorf("consumer decisions recorded: %+v", got)
	}
	fetched := cons.rec.of("dsp.fetch")
	if len(fetched) != 1 || fetched[0].Details["verified"] != true || fetched[0].Details["sha256"] != openSum {
		t.Errorf("dsp.fetch records: %+v", fetched)
	}
	if len(prov.rec.of("dsp.transfer.served")) != 1 {
		t.Errorf("dsp.transfer.served records: %+v", prov.rec.of("dsp.transfer.served"))
	}
}

// dnToken is an Authorization header value with a fresh token of s for aud.
func dnToken(t testing.TB, s *dsp.Signer, aud string) string {
	t.Helper()
	tok, err := s.Token(aud, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

func dnGet(t testing.TB, target, auth string) (int, string) {
	t.Helper()
	return dnDo(t, http.MethodGet, target, auth, "")
}

func dnPost(t testing.TB, target, auth, body string) (int, string) {
	t.Helper()
	return dnDo(t, http.MethodPost, target, auth, body)
}

func dnDo(t testing.TB, method, target, auth, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}
