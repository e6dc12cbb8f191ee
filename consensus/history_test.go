package consensus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/xborder/xborder/internal/testkit"
)

// The registry's history under faults, checked rather than assumed:
// clients attach datasets to joint projects through every member while a
// nemesis kills leaders (stop, restart from disk) and cuts minorities off;
// every invocation and response is recorded and the whole history is
// checked for linearizability by porcupine against a sequential model of
// the registry.
//
// What the registry promises, and so what is checked:
//
//   - Writes (Submit, through any member, forwarded to the leader) are
//     linearizable: an acknowledged write took effect exactly once,
//     between its invocation and its answer, in an order every replica
//     applies. A write refused with a *RejectedError, ErrStale or
//     ErrNoLeader never takes effect (ErrNoLeader says the command never
//     reached a leader). Any other failure (ErrOutcomeUnknown, a timeout,
//     ErrClosed when the member stops) is an unknown outcome: the write
//     may take effect at any time after its invocation, or never.
//   - Reads come from the local replica and may be stale by design, so a
//     plain local read is not linearizable and is not checked as if it
//     were. What a client may rely on is read-your-writes: once its write
//     through a member is acknowledged at log index i, and that member has
//     applied i (the wait Clerk.Submit does before answering), a
//     read there reflects the log at least up to i. Such a read is recorded
//     from the invocation of the client's own write to the read's answer:
//     the state it returns must have existed within that interval and
//     must hold the client's own write. A lost acknowledged write, a write
//     said to have failed that took effect, and a stale read-your-writes
//     read are all failures.
//
// The short run below is part of the normal test suite; a longer one runs
// with -registry.history=DURATION (e.g. go test ./consensus -run
// TestRegistryHistory -registry.history=2m), cycling the nemesis until the
// duration is over. On a violation the test writes porcupine's HTML
// visualisation to a temporary file and prints its path.

var historyFor = flag.Duration("registry.history", 0,
	"run TestRegistryHistoryIsLinearizable with faults for this long (e.g. 2m); 0 runs the short version")

// historyProjects are the keys of the model: joint projects every member
// is a partner of, so that every member may attach datasets to each.
var historyProjects = []string{"hist-a", "hist-b", "hist-c"}

// The model's inputs and outputs.
type (
	histInput struct {
		project string
		read    bool
		dataset string // attach: the dataset attached; read: the reader's own acknowledged dataset
	}
	histOutput struct {
		outcome  writeOutcome // attach only
		index    uint64       // attach: the acknowledged log index
		datasets string       // read: the project's datasets, sorted, joined by spaces
	}
	writeOutcome int
)

const (
	writeOK      writeOutcome = iota // acknowledged
	writeFailed                      // refused: never takes effect
	writeUnknown                     // may take effect, at any time after its invocation
)

func (o writeOutcome) String() string {
	return [...]string{"ok", "failed", "unknown"}[o]
}

// outcomeOf classifies Submit's result as the registry documents it.
func outcomeOf(err error) writeOutcome {
	var rej *RejectedError
	switch {
	case err == nil:
		return writeOK
	case errors.As(err, &rej), errors.Is(err, ErrStale), errors.Is(err, ErrNoLeader):
		return writeFailed
	default:
		return writeUnknown
	}
}

// registryModel is the sequential specification: per project, the set of
// attached datasets (kept as a sorted, space-separated string so states
// compare with ==). It is partitioned by project.
var registryModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byProject := map[string][]porcupine.Operation{}
		for _, op := range h {
			p := op.Input.(histInput).project
			byProject[p] = append(byProject[p], op)
		}
		var out [][]porcupine.Operation
		for _, p := range slices.Sorted(maps.Keys(byProject)) {
			out = append(out, byProject[p])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(histInput), output.(histOutput)
		if in.read {
			return out.datasets == s && hasDataset(s, in.dataset), s
		}
		if out.outcome == writeFailed {
			return true, s
		}
		if hasDataset(s, in.dataset) {
			return false, s // every dataset is attached once
		}
		return true, addDataset(s, in.dataset)
	},
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(state.(string)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(histInput), output.(histOutput)
		if in.read {
			return fmt.Sprintf("read %s after %s -> %d datasets", in.project, in.dataset, len(strings.Fields(out.datasets)))
		}
		if out.outcome == writeOK {
			return fmt.Sprintf("attach %s to %s -> ok at %d", in.dataset, in.project, out.index)
		}
		return fmt.Sprintf("attach %s to %s -> %s", in.dataset, in.project, out.outcome)
	},
	DescribeState: func(state any) string {
		return "{" + strings.ReplaceAll(state.(string), " ", ", ") + "}"
	},
}

func hasDataset(set, d string) bool {
	_, found := slices.BinarySearch(strings.Fields(set), d)
	return found
}

func addDataset(set, d string) string {
	ds := strings.Fields(set)
	i, _ := slices.BinarySearch(ds, d)
	return strings.Join(slices.Insert(ds, i, d), " ")
}

// history records operations from concurrent clients.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// counts
	acked, failed, unknown, reads atomic.Int64
	unread                        atomic.Int64 // acknowledged, but not applied by its member in time to read (cut off, stopped, end of run)
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// histCluster is a test cluster whose members clients reach through
// atomic pointers, so the nemesis can stop and restart them under load.
type histCluster struct {
	*cluster
	regs []atomic.Pointer[Registry]
}

func (hc *histCluster) publish() {
	for i, tn := range hc.nodes {
		hc.regs[i].Store(tn.reg)
	}
}

// kill stops a member as a crash would; restart brings it back from its
// data dir.
func (hc *histCluster) kill(tn *tnode) {
	hc.regs[slices.Index(hc.nodes, tn)].Store(nil)
	hc.stop(tn)
}

func (hc *histCluster) restart(tn *tnode) {
	hc.startHost(tn)
	hc.open(tn)
	hc.regs[slices.Index(hc.nodes, tn)].Store(tn.reg)
}

// client attaches datasets through the members in turn and, after each
// acknowledged attach, reads its own write back at the same member.
func (hc *histCluster) client(h *history, id int, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		i := (id + n) % len(hc.nodes)
		reg := hc.regs[i].Load()
		if reg == nil {
			// The member is down: its clients go to the next one.
			continue
		}
		project := historyProjects[(id*7+n)%len(historyProjects)]
		dataset := fmt.Sprintf("%s/c%d-%d", hc.nodes[i].name, id, n)
		in := histInput{project: project, dataset: dataset}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		call := h.now()
		idx, err := reg.Submit(ctx, OpProjectAttach, DatasetAttachment{ID: project, Dataset: dataset})
		ret := h.now()
		cancel()
		out := histOutput{outcome: outcomeOf(err), index: idx}
		switch out.outcome {
		case writeOK:
			h.acked.Add(1)
		case writeFailed:
			h.failed.Add(1)
		case writeUnknown:
			h.unknown.Add(1)
			ret = math.MaxInt64 // it may take effect at any later time
		}
		meta := hc.nodes[i].name
		if err != nil {
			meta += ": " + err.Error()
		}
		h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret, Metadata: meta})
		if out.outcome != writeOK {
			continue
		}
		// Read your own write: wait until this member has applied it, as
		// Clerk.Submit does, then read the local replica. A
		// member that stops meanwhile answers nothing, and a read that
		// was never answered claims nothing.
		if !appliedWithin(reg, idx, 5*time.Second, stop) {
			h.unread.Add(1)
			continue
		}
		p, err := reg.Project(project)
		rret := h.now()
		if err != nil {
			continue
		}
		h.reads.Add(1)
		h.add(porcupine.Operation{ClientId: id, Input: histInput{project: project, read: true, dataset: dataset}, Call: call,
			Output: histOutput{datasets: strings.Join(p.Datasets, " ")}, Return: rret, Metadata: hc.nodes[i].name})
	}
}

// appliedWithin waits until the replica has applied index.
func appliedWithin(reg *Registry, index uint64, within time.Duration, stop <-chan struct{}) bool {
	deadline := time.Now().Add(within)
	for reg.AppliedIndex() < index {
		if time.Now().After(deadline) || reg.ctx.Err() != nil {
			return false
		}
		select {
		case <-stop:
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
	return true
}

// waitAcked waits until n more writes are acknowledged.
func (h *history) waitAcked(t *testing.T, n int64, what string) {
	t.Helper()
	want := h.acked.Load() + n
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("%d more acknowledged writes %s", n, what), func() bool { return h.acked.Load() >= want })
}

// caughtUp waits until every live member has applied what a leader has
// committed.
func (hc *histCluster) caughtUp(t *testing.T) {
	t.Helper()
	l := hc.waitLeader()
	commit := l.reg.Status().CommitIndex
	for _, tn := range hc.nodes {
		if tn.reg != nil {
			testkit.Eventually(t, 60*time.Second, tn.name+" catches up", func() bool { return tn.reg.AppliedIndex() >= commit })
		}
	}
}

// liveLeader waits for a leader other than the excluded members.
func (hc *histCluster) liveLeader(t *testing.T, not ...*tnode) *tnode {
	t.Helper()
	var l *tnode
	testkit.Eventually(t, 60*time.Second, "a new leader is elected", func() bool {
		for _, tn := range hc.nodes {
			if tn.reg != nil && !slices.Contains(not, tn) && tn.reg.Leader() {
				l = tn
				return true
			}
		}
		return false
	})
	return l
}

// Faults the nemesis injects; each ends with the cluster whole again.
func (hc *histCluster) killLeader(t *testing.T, h *history) {
	old := hc.waitLeader()
	t.Logf("nemesis: kill leader %s", old.name)
	hc.kill(old)
	hc.liveLeader(t, old)
	h.waitAcked(t, 15, "under the new leader")
	t.Logf("nemesis: restart %s", old.name)
	hc.restart(old)
	hc.caughtUp(t)
}

func (hc *histCluster) killFollower(t *testing.T, h *history, rnd *rand.Rand) {
	l := hc.waitLeader()
	var fs []*tnode
	for _, tn := range hc.nodes {
		if tn != l {
			fs = append(fs, tn)
		}
	}
	f := fs[rnd.IntN(len(fs))]
	t.Logf("nemesis: kill follower %s", f.name)
	hc.kill(f)
	h.waitAcked(t, 15, "without "+f.name)
	t.Logf("nemesis: restart %s", f.name)
	hc.restart(f)
	hc.caughtUp(t)
}

// cutMinority cuts two of the five members off, the leader among them
// when withLeader.
func (hc *histCluster) cutMinority(t *testing.T, h *history, rnd *rand.Rand, withLeader bool) {
	l := hc.waitLeader()
	var others []*tnode
	for _, tn := range hc.nodes {
		if tn != l {
			others = append(others, tn)
		}
	}
	rnd.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	minority := others[:2]
	if withLeader {
		minority = []*tnode{l, others[0]}
	}
	t.Logf("nemesis: cut %s and %s off (leader %s)", minority[0].name, minority[1].name, l.name)
	hc.partition(minority...)
	hc.liveLeader(t, minority...)
	h.waitAcked(t, 15, "in the majority")
	t.Logf("nemesis: heal")
	hc.heal()
	hc.caughtUp(t)
}

func TestRegistryHistoryIsLinearizable(t *testing.T) {
	c := newCluster(t, 5, 5)
	c.openAll(5)
	hc := &histCluster{cluster: c, regs: make([]atomic.Pointer[Registry], len(c.nodes))}
	hc.publish()
	leader := c.waitLeader()
	var names []string
	for _, tn := range c.nodes {
		names = append(names, tn.name)
	}
	for _, p := range historyProjects {
		if _, err := leader.reg.Submit(context.Background(), OpProjectPropose,
			ProjectProposal{ID: p, Title: "History " + p, Themes: []string{"health"}, Partners: names}); err != nil {
			t.Fatal(err)
		}
	}
	hc.caughtUp(t)

	seed := uint64(time.Now().UnixNano())
	t.Logf("nemesis seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	h := &history{start: time.Now()}
	stop := make(chan struct{})
	var clients sync.WaitGroup
	const nClients = 6
	for id := range nClients {
		clients.Go(func() { hc.client(h, id, stop) })
	}
	stopClients := sync.OnceFunc(func() { close(stop); clients.Wait() })
	defer stopClients()

	h.waitAcked(t, 30, "before any fault")
	if *historyFor == 0 {
		hc.killLeader(t, h)
		hc.cutMinority(t, h, rnd, true)
	} else {
		faults := []func(){
			func() { hc.killLeader(t, h) },
			func() { hc.killFollower(t, h, rnd) },
			func() { hc.cutMinority(t, h, rnd, true) },
			func() { hc.cutMinority(t, h, rnd, false) },
		}
		for deadline := time.Now().Add(*historyFor); time.Now().Before(deadline); {
			faults[rnd.IntN(len(faults))]()
		}
	}
	h.waitAcked(t, 30, "after healing")
	stopClients()

	// A last write and read through every member, once the cluster is
	// whole: every acknowledged write must be in it.
	hc.caughtUp(t)
	for i := range c.nodes {
		for n := range historyProjects {
			hc.finalCheck(t, h, nClients+i, i, n)
		}
	}
	testkit.Eventually(t, 30*time.Second, "identical replicas", c.sameState(c.nodes...))

	ops := h.snapshot()
	t.Logf("history: %d operations: %d writes acknowledged, %d refused, %d with an unknown outcome; %d read-your-writes reads (%d acknowledged writes not read back: their member was cut off or stopped, or the run ended, first)",
		len(ops), h.acked.Load(), h.failed.Load(), h.unknown.Load(), h.reads.Load(), h.unread.Load())
	checkHistory(t, ops)
}

func (h *history) snapshot() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops)
}

// finalCheck is one client's write and read-your-writes read of one
// project through member i; on the healed cluster both must succeed.
func (hc *histCluster) finalCheck(t *testing.T, h *history, client, i, project int) {
	t.Helper()
	reg := hc.regs[i].Load()
	p := historyProjects[project]
	dataset := fmt.Sprintf("%s/final-%d", hc.nodes[i].name, project)
	call := h.now()
	idx, err := reg.Submit(context.Background(), OpProjectAttach, DatasetAttachment{ID: p, Dataset: dataset})
	ret := h.now()
	if err != nil {
		t.Fatalf("final attach through %s: %v", hc.nodes[i].name, err)
	}
	h.add(porcupine.Operation{ClientId: client, Input: histInput{project: p, dataset: dataset}, Call: call,
		Output: histOutput{outcome: writeOK, index: idx}, Return: ret, Metadata: hc.nodes[i].name})
	testkit.Eventually(t, 30*time.Second, hc.nodes[i].name+" applies its final write", func() bool { return reg.AppliedIndex() >= idx })
	got, err := reg.Project(p)
	rret := h.now()
	if err != nil {
		t.Fatal(err)
	}
	h.add(porcupine.Operation{ClientId: client, Input: histInput{project: p, read: true, dataset: dataset}, Call: call,
		Output: histOutput{datasets: strings.Join(got.Datasets, " ")}, Return: rret, Metadata: hc.nodes[i].name})
}

// checkHistory checks the history against the model and, on a violation,
// writes porcupine's visualisation to a temporary file.
func checkHistory(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(registryModel, ops, 5*time.Minute)
	t.Logf("porcupine: %s in %v", res, time.Since(began).Round(time.Millisecond))
	if res == porcupine.Ok {
		return
	}
	f, err := os.CreateTemp("", "registry-history-*.html")
	if err != nil {
		t.Fatalf("history is %s; and its visualisation: %v", res, err)
	}
	defer f.Close()
	if err := porcupine.Visualize(registryModel, info, f); err != nil {
		t.Fatalf("history is %s; and its visualisation: %v", res, err)
	}
	if res == porcupine.Unknown {
		t.Fatalf("porcupine could not decide the history within its time limit; visualisation: %s", f.Name())
	}
	t.Fatalf("the registry's history is not linearizable:\n%s\nvisualisation: %s", explain(ops), f.Name())
}

// explain names the operations that break the model on their own: a
// refused write that took effect, an acknowledged write a later read
// lacks, a read without its own write. (A violation may also need several
// operations together; the visualisation shows it.)
func explain(ops []porcupine.Operation) string {
	var b strings.Builder
	seen := map[string]porcupine.Operation{} // dataset -> a read that saw it
	for _, op := range ops {
		in := op.Input.(histInput)
		if !in.read {
			continue
		}
		for _, d := range strings.Fields(op.Output.(histOutput).datasets) {
			if _, ok := seen[d]; !ok {
				seen[d] = op
			}
		}
		if !hasDataset(op.Output.(histOutput).datasets, in.dataset) {
			fmt.Fprintf(&b, "  stale read: the client that attached %s read %s at %v without it\n", in.dataset, in.project, op.Metadata)
		}
	}
	for _, w := range ops {
		in, out := w.Input.(histInput), w.Output.(histOutput)
		if in.read {
			continue
		}
		if r, ok := seen[in.dataset]; ok && out.outcome == writeFailed {
			fmt.Fprintf(&b, "  refused write took effect: attach %s (%v) was read by the client of %s\n", in.dataset, w.Metadata, r.Input.(histInput).dataset)
		}
		if out.outcome != writeOK {
			continue
		}
		for _, r := range ops {
			rin := r.Input.(histInput)
			if rin.read && rin.project == in.project && r.Call > w.Return && !hasDataset(r.Output.(histOutput).datasets, in.dataset) {
				fmt.Fprintf(&b, "  lost write: attach %s acknowledged at index %d (%v) is missing from a read invoked later, after %s (%v)\n",
					in.dataset, out.index, w.Metadata, rin.dataset, r.Metadata)
				break
			}
		}
	}
	if b.Len() == 0 {
		return "  no single operation explains it"
	}
	return b.String()
}
