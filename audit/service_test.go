package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/policy"
)

// fakeRegistry holds anchors in memory, as the replicated registry would.
type fakeRegistry struct {
	mu      sync.Mutex
	anchors []Anchor
	leader  bool
}

func (r *fakeRegistry) LatestAnchor(string) (string, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.anchors) == 0 {
		return "", 0, nil
	}
	a := r.anchors[len(r.anchors)-1]
	return a.Head, a.Seq, nil
}

func (r *fakeRegistry) AnchorChain(string) ([]Anchor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Anchor(nil), r.anchors...), nil
}

func (r *fakeRegistry) CommitAnchor(_ context.Context, seq uint64, head, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.anchors = append(r.anchors, Anchor{Seq: seq, Head: head})
	return nil
}

func (r *fakeRegistry) State() (bool, bool) { return true, r.leader }

type fakeMembers struct{}

func (fakeMembers) MemberByName(name string) (Member, error) {
	return Member{}, errors.New("no member " + name)
}
func (fakeMembers) MemberByPeer(peer.ID) (Member, bool) {
	return Member{Name: "de-bw", Country: "DE"}, true
}

// chainOnly discloses the links of the trail, never its records.
type chainOnly struct{}

func (chainOnly) Audit(_ context.Context, in policy.AuditInput) (policy.Decision, error) {
	if in.Detail == string(DetailChain) {
		return policy.Decision{Allow: true, Reasons: []string{"links only"}}, nil
	}
	return policy.Decision{Reasons: []string{"records are withheld"}}, nil
}

// failingTrail fails every append while full is set, as a full disk would.
type failingTrail struct {
	Appender
	full atomic.Bool
}

func (f *failingTrail) Append(typ, subject string, details any) (Record, error) {
	if f.full.Load() {
		return Record{}, errors.New("no space left on device")
	}
	return f.Appender.Append(typ, subject, details)
}

func newService(t *testing.T) (*Service, *fakeRegistry, *failingTrail) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	cfg := DefaultConfig(filepath.Join(t.TempDir(), "audit.db"))
	cfg.Name = "fr-grandest"
	reg := &fakeRegistry{leader: true}
	disk := &failingTrail{}
	s, err := OpenService(cfg, Deps{Key: key, Registry: reg, Members: fakeMembers{}, Policy: chainOnly{},
		WrapTrail: func(a Appender) Appender { disk.Appender = a; return disk }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, reg, disk
}

func TestServiceAnchorsAndVerifiesItsTrail(t *testing.T) {
	s, reg, _ := newService(t)
	ctx := context.Background()
	for i := range 3 {
		if err := s.Record("test.event", "event", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Anchor(ctx); err != nil || len(reg.anchors) != 1 {
		t.Fatalf("an unmoved head was anchored again: %v %+v", err, reg.anchors)
	}
	rep, err := s.VerifyAudit(ctx)
	if err != nil || !rep.OK || len(rep.Anchors) != 1 || !rep.Anchors[0].OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// A clean stop records itself and anchors it.
	s.Stop()
	if recs, head, err := s.AuditRecords(ctx, Filter{Type: TypeStop}); err != nil || len(recs) != 1 || reg.anchors[len(reg.anchors)-1].Seq != head.Seq {
		t.Fatalf("stop: %+v %+v %v", recs, reg.anchors, err)
	}
}

func TestServiceDisclosesByPolicyAndFailsClosed(t *testing.T) {
	s, _, disk := newService(t)
	ctx := context.Background()
	requester := peer.ID("requester")
	if ok, _, err := s.DiscloseAudit(ctx, requester, DetailChain); err != nil || !ok {
		t.Fatalf("chain: %v %v", ok, err)
	}
	if ok, reasons, err := s.DiscloseAudit(ctx, requester, DetailRecords); err != nil || ok || reasons[0] != "records are withheld" {
		t.Fatalf("records: %v %v %v", ok, reasons, err)
	}
	recs, _, err := s.AuditRecords(ctx, Filter{Type: TypeDisclosure})
	if err != nil || len(recs) != 2 {
		t.Fatalf("the decisions are not on record: %+v %v", recs, err)
	}
	for _, r := range recs {
		var details map[string]any
		if err := json.Unmarshal(r.Details, &details); err != nil || len(details["input_sha256"].(string)) != 64 || details["allow"] == nil {
			t.Fatalf("decision record: %s", r.Details)
		}
	}

	// The trail fails: nothing is disclosed, and the trail is not ready
	// until a probe writes the record of its recovery.
	disk.full.Store(true)
	if ok, _, err := s.DiscloseAudit(ctx, requester, DetailChain); ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("disclosed without a record: %v %v", ok, err)
	}
	if ok, check := s.Health(); ok || !strings.Contains(check, "no space left") {
		t.Fatalf("health while failing: %v %q", ok, check)
	}
	disk.full.Store(false)
	if ok, check := s.Health(); !ok || check != "writable" {
		t.Fatalf("health after recovery: %v %q", ok, check)
	}
	if recs, _, _ := s.AuditRecords(ctx, Filter{Type: TypeRecovered}); len(recs) != 1 {
		t.Fatalf("recovery records: %+v", recs)
	}
}

// A trail behind the registry's anchors (restored from a backup taken
// before the anchored records) says so once, and is not anchored until
// it passes them.
func TestTrailBehindItsAnchorsRecordsTheGapOnce(t *testing.T) {
	s, reg, _ := newService(t)
	ctx := context.Background()
	if err := s.Record("test.event", "kept", nil); err != nil {
		t.Fatal(err)
	}
	reg.anchors = []Anchor{{Seq: 1, Head: "h1"}, {Seq: 5, Head: "h5"}} // records 2..5 were lost
	for range 2 {
		if err := s.Anchor(ctx); err != nil {
			t.Fatal(err)
		}
	}
	recs, head, err := s.AuditRecords(ctx, Filter{Type: TypeAnchorsAhead})
	if err != nil || len(recs) != 1 || recs[0].Seq != 2 || head.Seq != 2 {
		t.Fatalf("records %+v, head %+v, %v", recs, head, err)
	}
	var d struct {
		HeadSeq     uint64 `json:"head_seq"`
		AnchoredSeq uint64 `json:"anchored_seq"`
	}
	if err := json.Unmarshal(recs[0].Details, &d); err != nil || d.HeadSeq != 1 || d.AnchoredSeq != 5 {
		t.Fatalf("details %s: %v", recs[0].Details, err)
	}
	if len(reg.anchors) != 2 {
		t.Fatalf("a trail behind its anchors was anchored: %+v", reg.anchors)
	}
}

// A trail that went on writing past its anchored record with other
// records (restored, then written to before the registry caught up) is
// noticed too; one that holds what the registry anchored is not.
func TestTrailDivergedFromItsAnchorRecordsTheGap(t *testing.T) {
	s, reg, _ := newService(t)
	ctx := context.Background()
	for i := range 3 {
		if err := s.Record("test.event", "event", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	// A new run over the same trail finds its own anchor: nothing to say.
	s.anchoredSeq = 0 // as at a restart
	if err := s.Record("test.event", "event", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	if recs, _, _ := s.AuditRecords(ctx, Filter{Type: TypeAnchorsAhead}); len(recs) != 0 {
		t.Fatalf("a trail holding its anchors reported %+v", recs)
	}
	// The registry anchored another record 2 than the trail holds.
	reg.mu.Lock()
	reg.anchors = append(reg.anchors, Anchor{Seq: 5, Head: strings.Repeat("ab", 32)})
	reg.mu.Unlock()
	for range 2 {
		if err := s.Record("test.event", "event", nil); err != nil {
			t.Fatal(err)
		}
	}
	s.anchoredSeq = 0 // as at a restart
	if err := s.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	recs, _, err := s.AuditRecords(ctx, Filter{Type: TypeAnchorsAhead})
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Details), `"trail":"diverged"`) {
		t.Fatalf("diverged trail: %+v %v", recs, err)
	}
}
