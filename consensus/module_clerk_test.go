package consensus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/policy"
)

// decisions is an audit trail in memory: the inputs and decisions a
// write records.
type decisions struct {
	mu     sync.Mutex
	inputs []policy.RegistryInput
	ds     []policy.Decision
}

func (r *decisions) RecordDecision(_, _ string, input any, d policy.Decision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in, ok := input.(policy.RegistryInput); ok {
		r.inputs = append(r.inputs, in)
		r.ds = append(r.ds, d)
	}
	return nil
}

func (r *decisions) Record(string, string, any) error { return nil }

func (r *decisions) last() (policy.RegistryInput, policy.Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inputs[len(r.inputs)-1], r.ds[len(r.ds)-1]
}

// Through the Clerk, the shipped registry policy decides module and
// evaluation commands from the facts admission gives it, before anything
// is signed; the Clerk's reads show what was committed.
func TestClerkAdmitsModuleCommandsWithTheShippedPolicy(t *testing.T) {
	ctx := context.Background()
	engine, err := policy.NewEngine(ctx, "../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	c := newCluster(t, 3, 3)
	c.openAll(3)
	c.waitLeader()
	clerks := map[*tnode]*Clerk{}
	recs := map[*tnode]*decisions{}
	for i, tn := range c.nodes {
		recs[tn] = &decisions{}
		cl, err := NewClerk(ClerkConfig{Self: policy.Node{Node: tn.name, PeerID: tn.id.String(), Country: testCountries[i]}},
			ClerkDeps{Registry: tn.reg, Policy: engine, Recorder: recs[tn]})
		if err != nil {
			t.Fatal(err)
		}
		clerks[tn] = cl
	}
	fr, de, ch := c.nodes[0], c.nodes[1], c.nodes[2]
	// A write is waited for on every replica, so that the next member's
	// policy reads it.
	submit := func(tn *tnode, op string, args any) error {
		idx, err := clerks[tn].Submit(ctx, op, args)
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			for _, o := range c.nodes {
				if err := o.reg.WaitApplied(wctx, idx); err != nil {
					t.Fatalf("%s applies index %d: %v", o.name, idx, err)
				}
			}
		}
		return err
	}
	denied := func(what string, err error, rule string) {
		t.Helper()
		var d *policy.DeniedError
		if !errors.As(err, &d) || !slices.Contains(d.Decision.Rules, rule) {
			t.Fatalf("%s: %v, want a denial by %s", what, err, rule)
		}
	}
	p := project("p1", fr.name, de.name, ch.name)
	p.Datasets = []string{fr.name + "/icu"}
	if err := submit(fr, OpProjectPropose, p); err != nil {
		t.Fatal(err)
	}
	mod := cohortModule("p1")
	denied("a partner proposes", submit(de, OpModulePropose, mod), "module_not_lead")
	if err := submit(fr, OpModulePropose, mod); err != nil {
		t.Fatal(err)
	}
	denied("proposed twice", submit(fr, OpModulePropose, mod), "module_exists")
	ref := ModuleRef{Project: "p1", SHA256: mod.SHA256}
	denied("a partner without data approves", submit(ch, OpModuleApprove, ref), "not_dataset_owner")
	in, _ := recs[ch].last()
	facts, _ := in.State["module"].(map[string]any)
	if facts["name"] != "cohort-describe" || facts["kind"] != ModuleAnalysis || facts["proposed_by"] != fr.name || facts["withdrawn"] != false {
		t.Fatalf("module facts: %+v", in.State)
	}
	if err := submit(fr, OpModuleApprove, ref); err != nil {
		t.Fatal(err)
	}
	denied("approved twice", submit(fr, OpModuleApprove, ref), "module_already_approved")
	denied("withdrawn by a bystander", submit(de, OpModuleWithdraw, ref), "not_lead_or_approver")

	const model = "m0/sepsis-risk"
	ev := EvaluationCommit{Model: model, Analysis: "a1", Contributions: []string{
		contribution(t, de, evalClaims(de.name, "a1", model)), contribution(t, fr, evalClaims(fr.name, "a1", model))}}
	if err := submit(ch, OpEvaluationCommit, ev); err != nil {
		t.Fatal(err)
	}
	in, d := recs[ch].last()
	if _, ok := in.Command.Args["contributions"]; ok || in.State["model_owner"] != fr.name ||
		!slices.Equal(in.State["owners"].([]any), []any{fr.name, de.name}) {
		t.Fatalf("evaluation input: %+v", in)
	}
	if !d.Allow || !strings.Contains(d.Reasons[0], "signed by m0, m1") {
		t.Fatalf("evaluation decision: %+v", d)
	}
	denied("committed twice", submit(de, OpEvaluationCommit, ev), "evaluation_exists")

	ms, idx, err := clerks[de].Modules(ctx, "p1")
	if err != nil || idx == 0 || len(ms) != 1 || !ms[0].ApprovedBy(fr.name) {
		t.Fatalf("Clerk.Modules: %+v %d %v", ms, idx, err)
	}
	if _, _, err := clerks[de].Module(ctx, "p1", wasmHash(9)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Clerk.Module of an unknown module: %v", err)
	}
	es, idx, err := clerks[ch].Evaluations(ctx, model)
	if err != nil || idx == 0 || len(es) != 1 || es[0].CommittedBy != ch.name {
		t.Fatalf("Clerk.Evaluations: %+v %d %v", es, idx, err)
	}
}
