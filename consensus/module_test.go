package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/internal/testkit"
)

// wasmHash is a module hash for tests.
func wasmHash(n int) string { return fmt.Sprintf("%064x", 0xc0ffee00+n) }

// writer submits commands through one member and waits until that
// member's replica applied each one.
type writer struct {
	t *testing.T
}

func (w writer) submit(tn *tnode, op string, args any) error {
	w.t.Helper()
	idx, err := tn.reg.Submit(context.Background(), op, args)
	if err == nil {
		testkit.Eventually(w.t, 10*time.Second, "the submitter applies its command", func() bool { return tn.reg.AppliedIndex() >= idx })
	}
	return err
}

func (w writer) must(tn *tnode, op string, args any) {
	w.t.Helper()
	if err := w.submit(tn, op, args); err != nil {
		w.t.Fatalf("%s %s: %v", tn.name, op, err)
	}
}

// refused checks that a command was refused, saying says.
func (w writer) refused(what string, err error, says string) {
	w.t.Helper()
	var rej *RejectedError
	if !errors.As(err, &rej) || !strings.Contains(rej.Reason, says) {
		w.t.Fatalf("%s: got %v, want a rejection saying %q", what, err, says)
	}
}

func cohortModule(project string) ModuleProposal {
	return ModuleProposal{Project: project, SHA256: wasmHash(1), Name: "cohort-describe", Kind: ModuleAnalysis,
		Source: "https://git.example.org/xborder/cohort-describe@4191fff", Description: "Counts and quantiles of a cohort.",
		Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"}}}`)}
}

// The lead proposes a module; only the owners of datasets attached to the
// project approve it, each for its own data; the lead withdraws it, an
// approver only its own approval. Every replica refuses the same commands.
func TestModulesAreProposedByTheLeadAndApprovedByTheDatasetOwners(t *testing.T) {
	c := newCluster(t, 4, 4)
	c.openAll(4)
	c.waitLeader()
	w := writer{t}
	fr, de, ch, be := c.nodes[0], c.nodes[1], c.nodes[2], c.nodes[3]

	// fr leads p1 with de (dataset attached) and be (partner, no data);
	// ch offers a dataset, which waits for the lead's approval.
	p := project("p1", fr.name, de.name, be.name)
	p.Datasets = []string{fr.name + "/icu"}
	w.must(fr, OpProjectPropose, p)
	w.must(de, OpProjectAttach, DatasetAttachment{ID: "p1", Dataset: de.name + "/cohort"})
	w.must(ch, OpProjectAttach, DatasetAttachment{ID: "p1", Dataset: ch.name + "/genomics"})

	mod := cohortModule("p1")
	w.refused("a partner proposes", w.submit(de, OpModulePropose, mod), "only the lead of \"p1\", m0, proposes")
	w.refused("unknown project", w.submit(fr, OpModulePropose, cohortModule("p9")), `no project "p9"`)
	bad := func(change func(*ModuleProposal)) ModuleProposal {
		m := cohortModule("p1")
		change(&m)
		return m
	}
	w.refused("upper-case hash", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.SHA256 = strings.ToUpper(m.SHA256) })), "lower-case hex SHA-256")
	w.refused("short hash", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.SHA256 = m.SHA256[:63] })), "lower-case hex SHA-256")
	w.refused("no name", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Name = "  " })), "name is empty")
	w.refused("long name", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Name = strings.Repeat("é", MaxModuleName+1) })), "at most 128 characters")
	w.refused("control characters", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Name = "cohort\x1b[2J" })), "plain text")
	w.refused("no source", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Source = "" })), "source is empty")
	w.refused("unknown kind", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Kind = "trainer" })), `kind "trainer" is not analysis or predictor`)
	w.refused("analysis without schema", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Schema = nil })), "declares its output schema")
	w.refused("analysis with a null schema", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Schema = json.RawMessage("null") })), "declares its output schema")
	w.refused("predictor with schema", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Kind = ModulePredictor })), "declares no output schema")
	big := `{"description":"` + strings.Repeat("x", MaxModuleSchema) + `"}`
	w.refused("schema over 16 KiB", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.Schema = json.RawMessage(big) })), "over 16384")
	if ms, _ := fr.reg.Modules(""); len(ms) != 0 {
		t.Fatalf("refused proposals stored modules: %+v", ms)
	}

	w.must(fr, OpModulePropose, mod)
	if err := w.submit(fr, OpModulePropose, mod); !errors.Is(err, ErrExists) {
		t.Fatalf("the same module again: %v", err)
	}
	ref := ModuleRef{Project: "p1", SHA256: mod.SHA256}

	// Approvals: an attached dataset's owner; not a partner without data,
	// nor the owner of a dataset that only waits to be attached.
	w.must(de, OpModuleApprove, ref)
	w.refused("double approval", w.submit(de, OpModuleApprove, ref), "m1 has already approved module cohort-describe")
	w.refused("a partner without data", w.submit(be, OpModuleApprove, ref), "m3 owns no dataset attached to \"p1\"")
	w.refused("a pending attachment's owner", w.submit(ch, OpModuleApprove, ref), "m2 owns no dataset attached to \"p1\"")
	w.refused("an unknown module", w.submit(de, OpModuleApprove, ModuleRef{Project: "p1", SHA256: wasmHash(9)}), "has no module")
	w.must(fr, OpModuleApprove, ref) // the lead owns an attached dataset too
	m, err := fr.reg.Module("p1", mod.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Approvals, []string{fr.name, de.name}) || !m.ApprovedBy(de.name) || m.ApprovedBy(ch.name) ||
		m.ProposedBy != fr.name || m.Proposed == 0 || m.ApprovedAt[de.name] == 0 || m.Name != "cohort-describe" || len(m.Schema) == 0 {
		t.Fatalf("after two approvals: %+v", m)
	}

	// Withdrawals: an approver takes back its own approval only; nobody
	// else withdraws anything.
	w.refused("a bystander withdraws", w.submit(be, OpModuleWithdraw, ref), "m3 may not withdraw module cohort-describe")
	w.must(de, OpModuleWithdraw, ref)
	m, _ = de.reg.Module("p1", mod.SHA256)
	if m.ApprovedBy(de.name) || !m.ApprovedBy(fr.name) || m.Withdrawn != 0 {
		t.Fatalf("after the approver withdrew its approval: %+v", m)
	}
	w.refused("withdrawing an approval twice", w.submit(de, OpModuleWithdraw, ref), "m1 may not withdraw")
	w.must(de, OpModuleApprove, ref) // and approves again

	// The lead withdraws the module: nobody runs it, whoever approved.
	w.must(fr, OpModuleWithdraw, ref)
	m, _ = fr.reg.Module("p1", mod.SHA256)
	if m.Withdrawn == 0 || m.ApprovedBy(de.name) || m.ApprovedBy(fr.name) {
		t.Fatalf("after the lead withdrew it: %+v", m)
	}
	w.refused("approving a withdrawn module", w.submit(de, OpModuleApprove, ref), "was withdrawn by the lead")
	w.refused("withdrawing it twice", w.submit(fr, OpModuleWithdraw, ref), "was withdrawn by the lead")
	if err := w.submit(fr, OpModulePropose, mod); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "withdrawn") {
		t.Fatalf("proposing a withdrawn module again: %v", err)
	}

	// In a closed project nothing is proposed or approved, but the lead
	// still withdraws.
	pred := ModuleProposal{Project: "p1", SHA256: wasmHash(2), Name: "sepsis-predictor", Kind: ModulePredictor, Source: "https://git.example.org/p@1"}
	w.must(fr, OpModulePropose, pred)
	w.must(fr, OpProjectClose, ProjectRef{ID: "p1"})
	pref := ModuleRef{Project: "p1", SHA256: pred.SHA256}
	w.refused("approval in a closed project", w.submit(de, OpModuleApprove, pref), `project "p1" is closed`)
	w.refused("proposal in a closed project", w.submit(fr, OpModulePropose, bad(func(m *ModuleProposal) { m.SHA256 = wasmHash(3) })), `project "p1" is closed`)
	w.must(fr, OpModuleWithdraw, pref)

	testkit.Eventually(t, 20*time.Second, "identical replicas", c.sameState(c.nodes...))
	for _, tn := range c.nodes {
		all, err := tn.reg.Modules("")
		if err != nil {
			t.Fatal(err)
		}
		inP1, _ := tn.reg.Modules("p1")
		if len(all) != 2 || len(inP1) != 2 || all[0].SHA256 != mod.SHA256 || all[1].SHA256 != pred.SHA256 || all[1].Schema != nil {
			t.Fatalf("%s lists %+v", tn.name, all)
		}
		if other, _ := tn.reg.Modules("p"); len(other) != 0 {
			t.Fatalf("%s lists modules of p1 under p: %+v", tn.name, other)
		}
	}
	if _, err := fr.reg.Module("p1", wasmHash(9)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown module: %v", err)
	}
}

// contribution signs the claims of an evaluation contribution as signer.
func contribution(t *testing.T, signer *tnode, claims map[string]any) string {
	t.Helper()
	tok, err := nodejws.Sign(signer.key, signer.id, nodejws.TypeAnalysisContribution, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func evalClaims(owner, analysis, model string) map[string]any {
	return map[string]any{"owner": owner, "analysis": analysis, "kind": EvaluationKind, "model": model,
		"dataset": "cohort", "rows": 1200, "auc": 0.81, "issued_at": "2026-11-26T09:00:00Z"}
}

// An evaluation is stored only when every contribution verifies against
// the key of the member it names as owner, all are of the same analysis
// and model, and no owner contributes twice; once per (model, analysis).
func TestEvaluationsNeedEveryOwnersSignature(t *testing.T) {
	c := newCluster(t, 4, 3) // m3 is not a member
	c.openAll(3)
	c.waitLeader()
	w := writer{t}
	fr, de, ch, stranger := c.nodes[0], c.nodes[1], c.nodes[2], c.nodes[3]
	const model, analysis = "m0/sepsis-risk", "20261126T090000Z-a1b2c3d4e5f6"
	good := func(tn *tnode) string { return contribution(t, tn, evalClaims(tn.name, analysis, model)) }
	commit := func(by *tnode, toks ...string) error {
		return w.submit(by, OpEvaluationCommit, EvaluationCommit{Model: model, Analysis: analysis, Contributions: toks})
	}

	// A signature bit flipped.
	forged := good(de)
	parts := strings.Split(forged, ".")
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[10] ^= 1
	forged = parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig)
	w.refused("forged signature", commit(ch, good(fr), forged), "contribution 2 does not verify: signed by its owner m1?")
	// Signed by m0, claiming to be m1's.
	w.refused("signed by another member", commit(ch, good(fr), contribution(t, fr, evalClaims(de.name, analysis, model))),
		"contribution 2 does not verify: signed by its owner m1?")
	// Signed by a non-member, as itself.
	w.refused("a non-member's contribution", commit(ch, good(fr), good(stranger)), `its owner "m3" is not a member`)
	// Of another analysis, another model, another kind.
	w.refused("mixed analyses", commit(ch, good(fr), contribution(t, de, evalClaims(de.name, "other-analysis", model))),
		`contribution 2 (of m1) is of analysis "other-analysis", not "`+analysis+`"`)
	w.refused("another model", commit(ch, good(fr), contribution(t, de, evalClaims(de.name, analysis, "m0/other"))),
		`contribution 2 (of m1) evaluates model "m0/other"`)
	summary := evalClaims(de.name, analysis, model)
	summary["kind"] = "summary"
	w.refused("kind is not evaluate", commit(ch, good(fr), contribution(t, de, summary)), `is of kind "summary", not "evaluate"`)
	// One owner twice (two distinct tokens).
	again := evalClaims(fr.name, analysis, model)
	again["rows"] = 1201
	w.refused("duplicate owner", commit(ch, good(fr), good(de), contribution(t, fr, again)), "m0 has more than one contribution")
	// Another token type signed by the right key.
	query, err := nodejws.Sign(de.key, de.id, "xborder-analysis-query+jwt", evalClaims(de.name, analysis, model))
	if err != nil {
		t.Fatal(err)
	}
	w.refused("another token type", commit(ch, good(fr), query), "contribution 2 does not verify")
	w.refused("not a JWS", commit(ch, "not-a-token"), "contribution 1 does not verify: not a compact JWS")
	w.refused("no owner claimed", commit(ch, contribution(t, fr, map[string]any{"kind": EvaluationKind})), "names no owner")
	w.refused("no contribution", commit(ch), "1 to 32 contributions, not 0")
	w.refused("too many", commit(ch, slices.Repeat([]string{good(fr)}, MaxEvaluationContributions+1)...), "not 33")
	w.refused("malformed model", w.submit(ch, OpEvaluationCommit, EvaluationCommit{Model: "sepsis-risk", Analysis: analysis, Contributions: []string{good(fr)}}), "is not owner/id")
	w.refused("a non-member's model", w.submit(ch, OpEvaluationCommit, EvaluationCommit{Model: "m3/x", Analysis: analysis, Contributions: []string{good(fr)}}), "is not a member")
	w.refused("no analysis", w.submit(ch, OpEvaluationCommit, EvaluationCommit{Model: model, Contributions: []string{good(fr)}}), "analysis ID")
	for _, tn := range c.nodes[:3] {
		if evs, _ := tn.reg.Evaluations(""); len(evs) != 0 {
			t.Fatalf("%s stored refused evaluations: %+v", tn.name, evs)
		}
	}

	// Any member commits the good one (here one that contributed nothing);
	// the record lists the owners sorted, each with its token.
	toks := []string{good(ch), good(fr)}
	if err := commit(de, toks...); err != nil {
		t.Fatal(err)
	}
	if err := commit(fr, good(fr), good(ch)); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "already committed by m1") {
		t.Fatalf("a second commit of the same model and analysis: %v", err)
	}
	testkit.Eventually(t, 20*time.Second, "identical replicas", c.sameState(c.nodes[:3]...))
	for _, tn := range c.nodes[:3] {
		evs, err := tn.reg.Evaluations(model)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%s holds %d evaluations of %s", tn.name, len(evs), model)
		}
		e := evs[0]
		if e.Model != model || e.Analysis != analysis || e.CommittedBy != de.name || e.Committed == 0 ||
			!slices.Equal(e.Owners, []string{fr.name, ch.name}) || !slices.Equal(e.Contributions, []string{toks[1], toks[0]}) {
			t.Fatalf("%s holds %+v", tn.name, e)
		}
		if all, _ := tn.reg.Evaluations(""); len(all) != 1 {
			t.Fatalf("%s lists %d evaluations", tn.name, len(all))
		}
		if other, _ := tn.reg.Evaluations("m0/sepsis"); len(other) != 0 {
			t.Fatalf("%s lists %s's evaluation under m0/sepsis", tn.name, model)
		}
	}
}

// Modules and evaluations reach a member that was away for longer than
// the log is kept, through a snapshot, and a member restarted from its
// own data: every replica holds the same state.
func TestModulesAndEvaluationsSurviveSnapshotAndRestore(t *testing.T) {
	c := newCluster(t, 3, 3)
	c.openAll(3)
	leader := c.waitLeader()
	w := writer{t}
	fr, de := c.nodes[0], c.nodes[1]
	lagging := c.nodes[2]
	if lagging == leader {
		lagging = c.nodes[1]
		fr, de = c.nodes[0], c.nodes[2]
	}
	c.stop(lagging)
	p := project("p1", fr.name, de.name)
	p.Datasets = []string{fr.name + "/icu"}
	w.must(fr, OpProjectPropose, p)
	w.must(fr, OpModulePropose, cohortModule("p1"))
	w.must(fr, OpModuleApprove, ModuleRef{Project: "p1", SHA256: cohortModule("p1").SHA256})
	const model = "m0/sepsis-risk"
	w.must(de, OpEvaluationCommit, EvaluationCommit{Model: model, Analysis: "a1", Contributions: []string{
		contribution(t, fr, evalClaims(fr.name, "a1", model)), contribution(t, de, evalClaims(de.name, "a1", model))}})
	// Enough entries for the log to be truncated past the module's.
	for i := range 80 {
		w.must(fr, OpPolicyPut, PolicyArgs{Hash: fmt.Sprintf("%064x", i)})
	}
	if err := leader.reg.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	c.startHost(lagging)
	c.open(lagging)
	testkit.Eventually(t, 30*time.Second, "the restored member reaches the same state", c.sameState(c.nodes...))
	testkit.Eventually(t, 10*time.Second, "the member installed a snapshot", func() bool {
		return lagging.reg.raft.Stats()["last_snapshot_index"] != "0"
	})
	check := func(tn *tnode) {
		t.Helper()
		m, err := tn.reg.Module("p1", cohortModule("p1").SHA256)
		if err != nil || !m.ApprovedBy(fr.name) {
			t.Fatalf("%s: module %+v, %v", tn.name, m, err)
		}
		evs, err := tn.reg.Evaluations(model)
		if err != nil || len(evs) != 1 || !slices.Equal(evs[0].Owners, []string{fr.name, de.name}) {
			t.Fatalf("%s: evaluations %+v, %v", tn.name, evs, err)
		}
	}
	check(lagging)
	// A member restarted from its own data dir too.
	c.stop(de)
	c.startHost(de)
	c.open(de)
	testkit.Eventually(t, 30*time.Second, "the restarted member reaches the same state", c.sameState(c.nodes...))
	check(de)
}

// The FSM's own snapshot, restored into a fresh replica, holds the same
// modules and evaluations and hashes the same; a log with the new
// commands applied twice gives the same state.
func TestModuleLogAppliesDeterministicallyAndRestores(t *testing.T) {
	c := newCluster(t, 2, 2)
	a, b := c.nodes[0], c.nodes[1]
	c.genesis[1].Country = "DE"
	var logs []*raft.Log
	ts := int64(1_764_000_000_000)
	add := func(tn *tnode, op string, args any) {
		signed, err := SignCommand(tn.key, tn.id, op, args, ts)
		if err != nil {
			t.Fatal(err)
		}
		ts += 1000
		logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogCommand, Data: []byte(fmt.Sprintf(`{"cmds":[%q]}`, signed))})
	}
	p := project("p", a.name, b.name)
	p.Datasets = []string{a.name + "/icu"}
	add(a, OpProjectPropose, p)
	add(b, OpProjectAttach, DatasetAttachment{ID: "p", Dataset: b.name + "/cohort"})
	add(a, OpModulePropose, cohortModule("p"))
	add(b, OpModuleApprove, ModuleRef{Project: "p", SHA256: cohortModule("p").SHA256})
	add(b, OpModulePropose, ModuleProposal{Project: "p", SHA256: wasmHash(5), Name: "x", Kind: ModulePredictor, Source: "s"}) // refused: not the lead
	const model = "m0/sepsis-risk"
	add(b, OpEvaluationCommit, EvaluationCommit{Model: model, Analysis: "a1", Contributions: []string{
		contribution(t, b, evalClaims(b.name, "a1", model)), contribution(t, a, evalClaims(a.name, "a1", model))}})
	add(a, OpEvaluationCommit, EvaluationCommit{Model: model, Analysis: "a2", Contributions: []string{
		contribution(t, b, evalClaims(a.name, "a2", model))}}) // refused: b signs as a

	var hashes []string
	var first *fsm
	for run := range 2 {
		f, err := openFSM(filepath.Join(t.TempDir(), "registry.db"), c.genesis)
		if err != nil {
			t.Fatal(err)
		}
		refused := 0
		for _, l := range logs {
			for _, err := range f.Apply(l).([]error) {
				if err != nil {
					refused++
				}
			}
		}
		if refused != 2 {
			t.Fatalf("run %d: %d commands refused, want 2", run, refused)
		}
		hashes = append(hashes, hashOf(f))
		if run == 0 {
			first = f
		} else {
			f.close()
		}
	}
	defer first.close()
	if hashes[0] != hashes[1] {
		t.Fatalf("same log, different states: %s vs %s", hashes[0], hashes[1])
	}

	// Snapshot, then restore into a replica that holds something else.
	snap, err := first.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	other, err := openFSM(filepath.Join(t.TempDir(), "registry.db"), c.genesis)
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	other.Apply(logs[0])
	if err := other.Restore(sink.reader()); err != nil {
		t.Fatal(err)
	}
	if got := hashOf(other); got != hashes[0] {
		t.Fatalf("restored state hashes %s, want %s", got, hashes[0])
	}
	reg := &Registry{fsm: other}
	ms, err := reg.Modules("p")
	if err != nil || len(ms) != 1 || !ms[0].ApprovedBy(b.name) {
		t.Fatalf("restored modules %+v, %v", ms, err)
	}
	evs, err := reg.Evaluations("")
	if err != nil || len(evs) != 1 || evs[0].Analysis != "a1" || !slices.Equal(evs[0].Owners, []string{a.name, b.name}) {
		t.Fatalf("restored evaluations %+v, %v", evs, err)
	}
}

// memSink is a raft snapshot sink in memory.
type memSink struct {
	bytes.Buffer
	closed bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func (s *memSink) reader() io.ReadCloser { return io.NopCloser(bytes.NewReader(s.Bytes())) }
