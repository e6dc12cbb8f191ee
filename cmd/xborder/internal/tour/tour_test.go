package tour

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRetry(t *testing.T) {
	ctx := context.Background()
	fast := Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	calls := 0
	if err := Retry(ctx, time.Minute, fast, func() (bool, error) { calls++; return calls == 3, nil }); err != nil || calls != 3 {
		t.Fatalf("done on the third try: err %v after %d calls", err, calls)
	}
	boom := errors.New("boom")
	if err := Retry(ctx, time.Minute, fast, func() (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed try ends the retry with its error, got %v", err)
	}
	if err := Retry(ctx, 20*time.Millisecond, fast, func() (bool, error) { return false, nil }); !errors.Is(err, ErrGaveUp) {
		t.Fatalf("want ErrGaveUp once within elapses, got %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Retry(cctx, time.Minute, fast, func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("want the context's error, got %v", err)
	}
}

func TestProgressJSONLines(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true)
	p.Printf("prose is not for programs\n")
	st := p.Start("project.propose", "ch-basel")
	st.OK(Figures{ID: "upper-rhine-bioeconomy", Index: 7})
	p.Start("transfer", "de-bw").Fail(errors.New("transfer failed: reset"))

	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got %q", b.String())
	}
	var events []Event
	for _, l := range lines {
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		events = append(events, e)
	}
	if e := events[0]; e.Step != "project.propose" || e.Status != Started || e.Node != "ch-basel" || e.Index != 0 {
		t.Errorf("started: %+v", e)
	}
	if e := events[1]; e.Status != OK || e.ID != "upper-rhine-bioeconomy" || e.Index != 7 {
		t.Errorf("ok: %+v", e)
	}
	if e := events[3]; e.Status != Failed || e.Error != "transfer failed: reset" {
		t.Errorf("failed: %+v", e)
	}
	if strings.Contains(lines[0], "elapsed_ms") || strings.Contains(lines[0], "bytes") {
		t.Errorf("a started line carries no figures: %s", lines[0])
	}
}

func TestProgressProse(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false)
	p.Start("mesh", "").OK(Figures{Count: 5})
	p.Printf("Full mesh: %d ms\n", 12)
	if b.String() != "Full mesh: 12 ms\n" {
		t.Fatalf("prose mode prints only prose, got %q", b.String())
	}
}
