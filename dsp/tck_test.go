package dsp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/dsp/dspschema"
	"github.com/xborder/xborder/dsp/dsptck"
)

// TestTCKProvider runs the compatibility kit's provider-side cases
// (dsp/dsptck, the Go mirror of eclipse-dataspacetck/dsp-tck) against a
// real provider: a dsp.Service on loopback with the shipped policies in
// the real engine, the real token verifier (the kit's participant has an
// Ed25519 key, its tokens come from a dsp.Signer), real content and an
// audit trail.
//
// Each case's dataset is classified so that the policy's own decision is
// the reaction the case expects: open data is agreed to (or, asked with
// the kit's own offer, answered with the provider's offer), sensitive
// health data is refused with the policy's reasons. What no policy says —
// the provider doing nothing, or its operator terminating, suspending,
// resuming or completing — is played by tckScript through Deps.Hold and
// the operator methods, keyed by dataset id.
func TestTCKProvider(t *testing.T) {
	kit, kitCfg := dnParticipant(t, "urn:tck:consumer", "DE")
	prov := newDNNode(t, "urn:xborder:grand-est")

	prov.cat.add("CAT0101", dnOpen, dnContent("CAT0101"))
	prov.cat.add("CAT0102", dnOpen, dnContent("CAT0102"))
	// CAT0103 must not exist.
	defaults := dsptck.DefaultCases()
	for _, id := range dsptck.CaseIDs() {
		c := defaults[id]
		switch {
		case id == "CN:02-01":
			prov.cat.add(c.DatasetID, dnSensitive, dnContent(c.DatasetID))
		case strings.HasPrefix(id, "CN:"):
			prov.cat.add(c.DatasetID, dnOpen, dnContent(c.DatasetID))
		case strings.HasPrefix(id, "TP:"):
			// The TP cases' datasets take the kit's agreement ids as
			// theirs; the agreements are negotiated first.
			prov.cat.add(c.AgreementID, dnOpen, dnContent(c.AgreementID))
		}
	}

	script := newTCKScript(t)
	prov.rec.watch = script.watch
	prov.open(t, dnEngine(t), script.hold, kitCfg)
	script.start(prov.svc)
	defer script.stop()

	cfg := dsptck.DefaultConfig(prov.base(), prov.id)
	cfg.Token = func(aud string) (string, error) { return kit.Token(aud, time.Minute) }
	cfg.ValidateSchema = tckValidateSchema
	me := kitCfg.Participant()
	// An agreement at once needs a request for one of the provider's own
	// offers; asked with the kit's offer (CD123:ACNxxxx:456) it answers
	// with its offer instead.
	for _, id := range []string{"CN:01-04", "CN:02-03", "CN:02-07", "CN:03-01"} {
		ds := defaults[id].DatasetID
		cfg.Cases[id] = dsptck.Case{DatasetID: ds, OfferID: dnOfferFor(t, prov.svc, me, ds).ID}
	}
	for _, id := range dsptck.CaseIDs() {
		if strings.HasPrefix(id, "TP:") {
			ds := defaults[id].AgreementID
			cfg.Cases[id] = dsptck.Case{Format: dsp.FormatHTTPPull,
				NegotiateFor: dsptck.OfferRef{DatasetID: ds, OfferID: dnOfferFor(t, prov.svc, me, ds).ID}}
		}
	}
	dsptck.Run(t, cfg)
	script.stop()

	// The refusal of CN:02-01 is the policy's, with its reasons.
	ns, err := prov.svc.Negotiations()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Dataset != "ACN0201" {
			continue
		}
		if n.State != dsp.NegTerminated || n.Code != dsp.CodeDenied || !strings.Contains(strings.Join(n.Reasons, " "), "personal health data") {
			t.Errorf("CN:02-01's negotiation is %s, code %q, reasons %q; the policy's refusal of personal health data was expected", n.State, n.Code, n.Reasons)
		}
	}
	decisions := prov.rec.of("dsp.negotiation.decision")
	if len(decisions) == 0 {
		t.Error("no dsp.negotiation.decision was recorded")
	}
	for _, d := range decisions {
		if d.Details["input_sha256"] == "" || d.Details["participant"] != me.ID {
			t.Errorf("decision record %+v lacks its input digest or names another participant", d)
		}
	}
	if len(prov.rec.of("dsp.transfer.served")) == 0 {
		t.Error("no dsp.transfer.served was recorded: the kit's pulls were not served")
	}
}

// tckStep is what the provider's operator does once a process is in a
// state and its message for that state is delivered.
type tckStep struct {
	state string
	what  string
	act   func(ctx context.Context, svc *dsp.Service, pid string) error
}

func terminateNegotiation(ctx context.Context, svc *dsp.Service, pid string) error {
	_, err := svc.TerminateNegotiation(ctx, pid, "The provider's operator ended this negotiation.")
	return err
}

func terminateTransfer(ctx context.Context, svc *dsp.Service, pid string) error {
	_, err := svc.TerminateTransfer(ctx, pid, "The provider's operator ended this transfer.")
	return err
}

func suspendTransfer(ctx context.Context, svc *dsp.Service, pid string) error {
	_, err := svc.SuspendTransfer(ctx, pid, "The provider's operator paused this transfer.")
	return err
}

func resumeTransfer(ctx context.Context, svc *dsp.Service, pid string) error {
	_, err := svc.ResumeTransfer(ctx, pid)
	return err
}

func completeTransfer(ctx context.Context, svc *dsp.Service, pid string) error {
	_, err := svc.CompleteTransfer(ctx, pid)
	return err
}

// tckScript plays the provider's operator in the kit's cases, keyed by
// dataset id as the connectors that pass the Java kit do (tck.md,
// correction 5): holds (the provider does not react in a state) and steps
// (an operator's action once a process reached a state). It learns of each
// process from the audit trail and follows it with Service.Changed.
type tckScript struct {
	t     *testing.T
	holds map[dsp.Hold]bool
	steps map[string][]tckStep // "negotiation/ACN0205", "transfer/ATP0101"

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	svc  *dsp.Service
	seen map[string]bool
}

func newTCKScript(t *testing.T) *tckScript {
	neg := func(ds, state string) dsp.Hold { return dsp.Hold{Kind: "negotiation", Dataset: ds, State: state} }
	tp := func(ds string) dsp.Hold {
		return dsp.Hold{Kind: "transfer", Dataset: ds, State: string(dsp.TPRequested)}
	}
	started, suspended := string(dsp.TPStarted), string(dsp.TPSuspended)
	ctx, cancel := context.WithCancel(context.Background())
	return &tckScript{
		t: t, ctx: ctx, cancel: cancel, seen: map[string]bool{},
		holds: map[dsp.Hold]bool{
			neg("ACN0202", "REQUESTED"): true, // CN:02-02: nothing; the consumer terminates
			neg("ACN0206", "ACCEPTED"):  true, // CN:02-06: terminated after ACCEPTED
			neg("ACN0207", "VERIFIED"):  true, // CN:02-07: terminated after the verification
			neg("ACN0303", "ACCEPTED"):  true, // CN:03-03: nothing after ACCEPTED
			tp("ATP0105"):               true, // TP:01-05: terminated instead of started
			tp("ATP0205"):               true, // TP:02-05, 03-01, 03-02: nothing
			tp("ATP0301"):               true,
			tp("ATP0302"):               true,
		},
		steps: map[string][]tckStep{
			"negotiation/ACN0205": {{"OFFERED", "terminate", terminateNegotiation}},
			"negotiation/ACN0206": {{"ACCEPTED", "terminate", terminateNegotiation}},
			"negotiation/ACN0207": {{"VERIFIED", "terminate", terminateNegotiation}},
			"transfer/ATP0101":    {{started, "terminate", terminateTransfer}},
			"transfer/ATP0102":    {{started, "complete", completeTransfer}},
			"transfer/ATP0103":    {{started, "suspend", suspendTransfer}, {suspended, "terminate", terminateTransfer}},
			"transfer/ATP0104": {{started, "suspend", suspendTransfer}, {suspended, "resume", resumeTransfer},
				{started, "complete", completeTransfer}},
			"transfer/ATP0105": {{string(dsp.TPRequested), "terminate", terminateTransfer}},
		},
	}
}

// hold is Deps.Hold.
func (s *tckScript) hold(h dsp.Hold) bool { return s.holds[h] }

func (s *tckScript) start(svc *dsp.Service) {
	s.mu.Lock()
	s.svc = svc
	s.mu.Unlock()
}

// stop ends the followers and waits for them (before the test ends: they
// report with t.Errorf).
func (s *tckScript) stop() {
	s.cancel()
	s.wg.Wait()
}

// watch is the recorder's watcher: the first record of a provider's
// process whose dataset has steps starts its follower.
func (s *tckScript) watch(rec dnRecord) {
	kind, ok := map[string]string{"dsp.negotiation.state": "negotiation", "dsp.transfer.state": "transfer"}[rec.Type]
	if !ok || rec.Details["role"] != string(dsp.RoleProvider) {
		return
	}
	ds, _ := rec.Details["dataset"].(string)
	steps := s.steps[kind+"/"+ds]
	if len(steps) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[rec.Subject] || s.ctx.Err() != nil {
		return
	}
	s.seen[rec.Subject] = true
	s.wg.Add(1)
	go s.follow(s.svc, kind, ds, rec.Subject, steps)
}

// tckStepWait bounds how long a follower waits for each state.
const tckStepWait = 20 * time.Second

// follow waits, for each step, until the process is in the step's state
// with nothing left to send the consumer, then acts.
func (s *tckScript) follow(svc *dsp.Service, kind, ds, pid string, steps []tckStep) {
	defer s.wg.Done()
	for _, st := range steps {
		deadline := time.NewTimer(tckStepWait)
		for reached := false; !reached; {
			changed := svc.Changed(pid)
			state, outbox, err := tckState(svc, kind, pid)
			switch {
			case err != nil:
				s.t.Errorf("script %s %s (%s): %v", kind, pid, ds, err)
				return
			case state == st.state && outbox == "":
				reached = true
				continue
			case state == "TERMINATED" || state == "COMPLETED" || state == "FINALIZED":
				s.t.Errorf("script %s %s (%s): it is %s; the operator was to %s it in %s", kind, pid, ds, state, st.what, st.state)
				return
			}
			select {
			case <-changed:
			case <-deadline.C:
				s.t.Errorf("script %s %s (%s): not %s with its message delivered within %v (it is %s, owing %q)", kind, pid, ds, st.state, tckStepWait, state, outbox)
				return
			case <-s.ctx.Done():
				return
			}
		}
		deadline.Stop()
		if err := st.act(s.ctx, svc, pid); err != nil {
			s.t.Errorf("script %s %s (%s): %s in %s: %v", kind, pid, ds, st.what, st.state, err)
			return
		}
	}
}

func tckState(svc *dsp.Service, kind, pid string) (state, outbox string, err error) {
	if kind == "negotiation" {
		n, err := svc.Negotiation(pid)
		if err != nil {
			return "", "", err
		}
		return string(n.State), n.Outbox, nil
	}
	tr, err := svc.Transfer(pid)
	if err != nil {
		return "", "", err
	}
	return string(tr.State), tr.Outbox, nil
}

// tckValidateSchema checks each document the kit's consumer receives
// against its official DSP 2025-1 schema (embedded in dsp/dspschema).
func tckValidateSchema(name string, doc []byte) error {
	sch, ok := dspschema.ForType(name)
	if name == "ProtocolVersion" {
		sch, ok = dspschema.ProtocolVersion, true
	}
	if !ok {
		return fmt.Errorf("no schema for %s", name)
	}
	return dspschema.Validate(sch, doc)
}
