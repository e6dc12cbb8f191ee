package dsptck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// A flow is one case in progress: the steps the kit's pipelines take, as
// methods that fail the case when the provider does not do its part.
type flow struct {
	t   *testing.T
	ctx context.Context
	h   *harness
	ids Case
	p   *process

	// trailing names callbacks a case accepts after its last step.
	trailing []string

	// pull is the data address of the last TransferStartMessage, when
	// Config.Pull is set.
	pull *pullAddress
}

type pullAddress struct {
	endpoint      string
	authorization string
}

// --- requests to the provider ---

func (f *flow) post(body doc, segments ...string) reply {
	f.t.Helper()
	target := f.h.providerURL(segments...)
	r, err := f.h.send(f.ctx, http.MethodPost, target, body)
	if err != nil {
		f.t.Fatalf("POST %s: %v", target, err)
	}
	return r
}

func (f *flow) get(target string) reply {
	f.t.Helper()
	r, err := f.h.send(f.ctx, http.MethodGet, target, nil)
	if err != nil {
		f.t.Fatalf("GET %s: %v", target, err)
	}
	return r
}

// wantOK fails the case unless r is a 2xx (the kit takes any 2xx; it
// retries a 4xx other than 404 twice, which the mirror does not).
func (f *flow) wantOK(r reply, what string) {
	f.t.Helper()
	if r.status < 200 || r.status > 299 {
		f.t.Fatalf("%s: status %d, a 2xx was expected; body: %s", what, r.status, clip(r.raw))
	}
}

// wantRefused fails the case unless r is the refusal the kit expects: a
// 4xx that is not 404 (the kit's POST helper fails on any 404). The
// mirror also requires the protocol's error object (errType) as the body.
func (f *flow) wantRefused(r reply, what, errType string) {
	f.t.Helper()
	switch {
	case r.status == http.StatusNotFound:
		f.t.Fatalf("%s: status 404; the kit fails a refusal that is a 404 (answer 400 or 409 for a message not allowed in the state); body: %s", what, clip(r.raw))
	case r.status < 400 || r.status > 499:
		f.t.Fatalf("%s: status %d, a 4xx refusal was expected; body: %s", what, r.status, clip(r.raw))
	}
	d, err := f.h.check(errType, r.raw)
	if err != nil {
		f.t.Fatalf("%s: refused with %d, but the body is not a %s: %v; body: %s", what, r.status, errType, err, clip(r.raw))
	}
	f.samePIDs(d, what)
}

// body checks an answer against its type and returns it.
func (f *flow) body(r reply, typ, what string) doc {
	f.t.Helper()
	d, err := f.h.check(typ, r.raw)
	if err != nil {
		f.t.Fatalf("%s: the answer is not a valid %s: %v; body: %s", what, typ, err, clip(r.raw))
	}
	return d
}

// samePIDs checks that a document names this process.
func (f *flow) samePIDs(d doc, what string) {
	f.t.Helper()
	providerPID, _ := f.p.current()
	if got, _ := d["consumerPid"].(string); got != f.p.consumerPID {
		f.t.Fatalf("%s: consumerPid %q, this process is %q", what, got, f.p.consumerPID)
	}
	if got, _ := d["providerPid"].(string); providerPID != "" && got != providerPID {
		f.t.Fatalf("%s: providerPid %q, the provider answered %q", what, got, providerPID)
	}
}

// started records the providerPid of the answer to a request.
func (f *flow) started(d doc, what string) {
	f.t.Helper()
	got, _ := d["providerPid"].(string)
	if got == "" {
		f.t.Fatalf("%s: the answer has no providerPid", what)
	}
	if c, _ := d["consumerPid"].(string); c != f.p.consumerPID {
		f.t.Fatalf("%s: the answer names consumerPid %q, the request %q", what, c, f.p.consumerPID)
	}
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.providerPID != "" && f.p.providerPID != got {
		f.t.Fatalf("%s: the answer names providerPid %q, a callback before it named %q", what, got, f.p.providerPID)
	}
	f.p.providerPID = got
	if f.p.state == "" {
		f.p.state = "REQUESTED"
	}
}

// local moves the consumer's own state before it sends the message that
// moves it, as the kit does (so a callback the message causes finds it).
func (f *flow) local(state string) {
	f.t.Helper()
	if err := f.p.sent(state); err != nil {
		f.t.Fatalf("consumer: %v", err)
	}
}

// --- contract negotiation ---

func offer(id, target string, extra doc) doc {
	o := doc{"@id": id, "@type": "Offer", "target": target, "permission": []doc{{"action": "use"}}}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// request sends the initial ContractRequestMessage for the case's dataset
// and offer (ProviderNegotiationPipelineImpl.sendRequestMessage).
func (f *flow) request() {
	f.t.Helper()
	f.p = f.h.newProcess("negotiations")
	msg := message("ContractRequestMessage", doc{
		"consumerPid":     f.p.consumerPID,
		"offer":           offer(f.ids.OfferID, f.ids.DatasetID, nil),
		"callbackAddress": f.h.callbackAddress(),
	})
	r := f.post(msg, "negotiations", "request")
	f.wantOK(r, "ContractRequestMessage to negotiations/request")
	f.started(f.body(r, "ContractNegotiation", "negotiations/request"), "negotiations/request")
}

// counter sends a ContractRequestMessage on the negotiation (a consumer
// counter-offer), as sendCounterOfferMessage does: the offer names the
// kit's participant as assignee and no assigner.
func (f *flow) counter(offerID, target string, wantErr bool) {
	f.t.Helper()
	providerPID, _ := f.p.current()
	msg := message("ContractRequestMessage", doc{
		"providerPid": providerPID,
		"consumerPid": f.p.consumerPID,
		"offer":       offer(offerID, target, doc{"assignee": tckParticipant}),
	})
	if wantErr {
		f.wantRefused(f.post(msg, "negotiations", providerPID, "request"), "second counter-offer", "ContractNegotiationError")
		return
	}
	f.local("REQUESTED")
	f.wantOK(f.post(msg, "negotiations", providerPID, "request"), "counter-offer to negotiations/{pid}/request")
}

// tckParticipant is the kit's own participant id (DspConstants).
const tckParticipant = "TCK_PARTICIPANT"

// accept sends the ACCEPTED event (acceptLastOffer).
func (f *flow) accept() {
	f.t.Helper()
	providerPID, _ := f.p.current()
	f.local("ACCEPTED")
	msg := message("ContractNegotiationEventMessage", doc{"providerPid": providerPID, "consumerPid": f.p.consumerPID, "eventType": "ACCEPTED"})
	f.wantOK(f.post(msg, "negotiations", providerPID, "events"), "ACCEPTED event to negotiations/{pid}/events")
}

// verify sends the ContractAgreementVerificationMessage (sendVerifiedEvent).
func (f *flow) verify(wantErr bool) {
	f.t.Helper()
	providerPID, _ := f.p.current()
	msg := message("ContractAgreementVerificationMessage", doc{"providerPid": providerPID, "consumerPid": f.p.consumerPID})
	if wantErr {
		f.wantRefused(f.post(msg, "negotiations", providerPID, "agreement", "verification"), "verification not allowed in this state", "ContractNegotiationError")
		return
	}
	f.local("VERIFIED")
	f.wantOK(f.post(msg, "negotiations", providerPID, "agreement", "verification"), "verification to negotiations/{pid}/agreement/verification")
}

// terminate sends the consumer's ContractNegotiationTerminationMessage
// (sendTermination: code "1", no reason).
func (f *flow) terminate(wantErr bool) {
	f.t.Helper()
	providerPID, _ := f.p.current()
	msg := message("ContractNegotiationTerminationMessage", doc{"providerPid": providerPID, "consumerPid": f.p.consumerPID, "code": "1"})
	r := f.post(msg, "negotiations", providerPID, "termination")
	if wantErr {
		f.wantRefused(r, "termination of a finalized negotiation", "ContractNegotiationError")
		return
	}
	f.wantOK(r, "termination to negotiations/{pid}/termination")
	f.local("TERMINATED")
}

// --- transfer process ---

// transferRequest sends the TransferRequestMessage for the case's
// agreement (sendTransferRequest: no dataAddress, as for a pull).
func (f *flow) transferRequest() {
	f.t.Helper()
	agreementID := f.ids.AgreementID
	if agreementID == "" {
		agreementID = f.negotiate(f.ids.NegotiateFor)
	}
	f.p = f.h.newProcess("transfers")
	msg := message("TransferRequestMessage", doc{
		"consumerPid":     f.p.consumerPID,
		"agreementId":     agreementID,
		"format":          f.ids.Format,
		"callbackAddress": f.h.callbackAddress(),
	})
	r := f.post(msg, "transfers", "request")
	f.wantOK(r, "TransferRequestMessage to transfers/request")
	f.started(f.body(r, "TransferProcess", "transfers/request"), "transfers/request")
}

var transferMessages = map[string]struct{ typ, state string }{
	"start":       {"TransferStartMessage", "STARTED"},
	"completion":  {"TransferCompletionMessage", "COMPLETED"},
	"suspension":  {"TransferSuspensionMessage", "SUSPENDED"},
	"termination": {"TransferTerminationMessage", "TERMINATED"},
}

// tp sends the consumer's transfer message kind (start, completion,
// suspension, termination) to transfers/{providerPid}/{kind}.
func (f *flow) tp(kind string, wantErr bool) {
	f.t.Helper()
	m := transferMessages[kind]
	providerPID, _ := f.p.current()
	fields := doc{"providerPid": providerPID, "consumerPid": f.p.consumerPID}
	if kind == "suspension" || kind == "termination" {
		fields["code"] = "1"
	}
	r := f.post(message(m.typ, fields), "transfers", providerPID, kind)
	if wantErr {
		f.wantRefused(r, m.typ+" not allowed in this state", "TransferError")
		return
	}
	f.wantOK(r, m.typ+" to transfers/{pid}/"+kind)
	f.local(m.state)
}

// maxNegotiationRounds bounds the offers the harness accepts while it
// negotiates an agreement for a TP case: a provider that keeps offering
// never agrees.
const maxNegotiationRounds = 4

// negotiate negotiates ref to FINALIZED before a TP case's transfer (the
// case has no AgreementID): the initial request for the offer, ACCEPTED for
// each offer the provider makes, the verification of its agreement. It
// returns the agreement's @id. The negotiation is a process of its own; a
// termination or a callback out of turn fails the case.
func (f *flow) negotiate(ref OfferRef) string {
	f.t.Helper()
	caseIDs := f.ids
	f.ids.DatasetID, f.ids.OfferID = ref.DatasetID, ref.OfferID
	defer func() { f.ids = caseIDs }()
	f.request()
	agreementID := ""
	for offers := 0; ; {
		cb := f.next("offers, agreement or events (FINALIZED)")
		switch cb.kind {
		case "offers":
			if offers++; offers > maxNegotiationRounds {
				f.t.Fatalf("negotiating an agreement for %s: the provider made %d offers without agreeing", ref.DatasetID, offers)
			}
			f.accept()
		case "agreement":
			a, _ := cb.body["agreement"].(map[string]any)
			agreementID, _ = a["@id"].(string)
			if agreementID == "" {
				f.t.Fatalf("negotiating an agreement for %s: the ContractAgreementMessage has no agreement @id", ref.DatasetID)
			}
			f.verify(false)
		case "events":
			if agreementID == "" {
				f.t.Fatalf("negotiating an agreement for %s: FINALIZED before any agreement", ref.DatasetID)
			}
			f.finish()
			f.t.Logf("negotiated agreement %s for dataset %s (offer %s)", agreementID, ref.DatasetID, ref.OfferID)
			f.p = nil
			return agreementID
		default:
			f.t.Fatalf("negotiating an agreement for dataset %s, offer %s: the provider sent a %s: %s", ref.DatasetID, ref.OfferID, cb.typ, clip(cb.raw))
		}
	}
}

// --- what the provider sends ---

// expect waits for the provider's next callback on this process and fails
// the case unless it is kind.
func (f *flow) expect(kind string) callback {
	f.t.Helper()
	cb := f.next(kind)
	if cb.kind != kind {
		f.t.Fatalf("the provider sent a %s to %s/{pid}/%s; a message to .../%s was expected", cb.typ, f.p.area, cb.kind, kind)
	}
	return cb
}

// next waits for the provider's next callback on this process, whatever
// it is (what names what is awaited, for the failure).
func (f *flow) next(what string) callback {
	f.t.Helper()
	timer := time.NewTimer(f.h.cfg.wait())
	defer timer.Stop()
	select {
	case cb := <-f.p.inbox:
		failOnProblems(f.t, f.p)
		f.samePIDs(cb.body, cb.typ)
		if cb.kind == "start" && f.h.cfg.Pull {
			f.readAddress(cb.body)
		}
		return cb
	case <-timer.C:
		failOnProblems(f.t, f.p)
		_, state := f.p.current()
		f.t.Fatalf("no callback to %s/%s/%s within %v (consumer state %s)", f.p.area, f.p.consumerPID, what, f.h.cfg.wait(), state)
	case <-f.ctx.Done():
		f.t.Fatalf("waiting for %s: %v", what, f.ctx.Err())
	}
	return callback{}
}

// finish fails the case if the provider sent callbacks the case did not
// wait for (the kit answers them 404 and does not fail; the mirror does).
func (f *flow) finish() {
	f.t.Helper()
	if f.p == nil {
		return
	}
	failOnProblems(f.t, f.p)
	for {
		select {
		case cb := <-f.p.inbox:
			if !slices.Contains(f.trailing, cb.kind) {
				f.t.Errorf("the provider sent an unexpected %s to %s/{pid}/%s", cb.typ, f.p.area, cb.kind)
			}
		default:
			return
		}
	}
}

// providerState checks the provider's view of the process. Negotiations:
// one GET right away (the kit reads once, 100 ms after its message).
// Transfers: polled until the state shows or the wait ends, as the kit does.
func (f *flow) providerState(want string) {
	f.t.Helper()
	providerPID, _ := f.p.current()
	typ := "ContractNegotiation"
	if f.p.area == "transfers" {
		typ = "TransferProcess"
	}
	target := f.h.providerURL(f.p.area, providerPID)
	read := func() (string, error) {
		r := f.get(target)
		if r.status != http.StatusOK {
			return "", fmt.Errorf("GET %s: status %d; body: %s", target, r.status, clip(r.raw))
		}
		d, err := f.h.check(typ, r.raw)
		if err != nil {
			return "", fmt.Errorf("GET %s: not a valid %s: %w", target, typ, err)
		}
		if d["providerPid"] != providerPID || d["consumerPid"] != f.p.consumerPID {
			return "", fmt.Errorf("GET %s names providerPid %v and consumerPid %v", target, d["providerPid"], d["consumerPid"])
		}
		s, _ := d["state"].(string)
		return s, nil
	}
	if f.p.area == "negotiations" {
		got, err := read()
		if err != nil {
			f.t.Fatal(err)
		}
		if got != want {
			f.t.Fatalf("the provider's negotiation is %s, %s was expected", got, want)
		}
		return
	}
	testkit.EventuallyNil(f.t, f.h.cfg.wait(), "the provider's transfer process to be "+want, func() error {
		got, err := read()
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("it is %s", got)
		}
		return nil
	})
	f.checkPull(want)
}

// --- HTTP pull (Config.Pull) ---

// readAddress checks the data address of a TransferStartMessage the way
// an EDC consumer reads it for an HTTP pull.
func (f *flow) readAddress(start doc) {
	f.t.Helper()
	da, ok := start["dataAddress"].(map[string]any)
	if !ok {
		f.t.Fatalf("TransferStartMessage without a dataAddress; an HTTP-pull consumer needs one")
	}
	if et := da["endpointType"]; et != httpEndpointType {
		f.t.Fatalf("dataAddress endpointType %v, %s was expected", et, httpEndpointType)
	}
	ep, _ := da["endpoint"].(string)
	if u, err := url.Parse(ep); err != nil || u.Scheme == "" || u.Host == "" {
		f.t.Fatalf("dataAddress endpoint %q is not an absolute URL", ep)
	}
	props := map[string]string{}
	list, _ := da["endpointProperties"].([]any)
	for _, p := range list {
		if m, ok := p.(map[string]any); ok {
			n, _ := m["name"].(string)
			v, _ := m["value"].(string)
			props[n] = v
		}
	}
	if props["authorization"] == "" {
		f.t.Fatalf("dataAddress has no \"authorization\" endpoint property: %v", props)
	}
	if at, ok := props["authType"]; ok && !strings.EqualFold(at, "bearer") {
		f.t.Fatalf("dataAddress authType %q, \"bearer\" was expected", at)
	}
	f.pull = &pullAddress{endpoint: ep, authorization: props["authorization"]}
}

// httpEndpointType is the endpoint type of an HTTP data address (the
// spec's example and EDC's).
const httpEndpointType = "https://w3id.org/idsa/v4.1/HTTP"

// checkPull reads the data while the transfer is STARTED and requires a
// refusal once it is over.
func (f *flow) checkPull(state string) {
	f.t.Helper()
	if !f.h.cfg.Pull || f.pull == nil {
		return
	}
	switch state {
	case "STARTED":
		status, n, err := f.fetch()
		if err != nil || status != http.StatusOK {
			f.t.Fatalf("pulling %s while STARTED: status %d, %v", f.pull.endpoint, status, err)
		}
		f.t.Logf("pulled %d bytes from %s", n, f.pull.endpoint)
	case "COMPLETED", "TERMINATED":
		status, _, err := f.fetch()
		if err != nil {
			f.t.Fatalf("pulling %s once %s: %v", f.pull.endpoint, state, err)
		}
		if status < 400 || status > 499 {
			f.t.Fatalf("pulling %s once the transfer is %s: status %d; the token must no longer work", f.pull.endpoint, state, status)
		}
	}
}

// fetch GETs the pull endpoint with the "authorization" property as the
// Authorization header, verbatim, as EDC's consumer does.
func (f *flow) fetch() (status int, n int64, err error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, f.pull.endpoint, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", f.pull.authorization)
	resp, err := f.h.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err = io.Copy(io.Discard, resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		return resp.StatusCode, n, err
	}
	return resp.StatusCode, n, nil
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	const max = 600
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		return s[:max] + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}
