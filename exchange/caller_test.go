package exchange

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// What a local caller sees of the transfers: operators and auditors all
// of them, anyone else those they started; only the researcher who
// started a transfer, or an operator, downloads it, once it is on record.
func TestCallersSeeAndDownloadTheirOwnTransfers(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	fr.src.add("fr-grandest", "air-quality", "open", testContent(1000))
	ctx := context.Background()
	anna := Caller{Subject: "anna", Org: "Uni Freiburg", Role: "researcher"}
	job, err := de.svc.StartFetch(ctx, anna, "fr-grandest", "air-quality", "research", "")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the transfer completes", func() bool {
		st, ok := de.svc.Job(job.ID)
		return ok && st.State == JobDone
	})
	// A second fetch reuses the grant held: no new request reaches the owner.
	decisions := len(fr.rec.of(RecordDecision))
	if _, err := de.svc.StartFetch(ctx, anna, "fr-grandest", "air-quality", "", ""); err != nil {
		t.Fatalf("fetch under the held grant: %v", err)
	}
	if got := len(fr.rec.of(RecordDecision)); got != decisions {
		t.Fatalf("the held grant was not reused: %d decisions, had %d", got, decisions)
	}

	for _, c := range []struct {
		who            Caller
		sees, download bool
	}{
		{anna, true, true},
		{Caller{Subject: "bob", Role: "researcher"}, false, false},
		{Caller{Subject: "op", Role: CallerOperator}, true, true},
		{Caller{Subject: "aud", Role: CallerAuditor}, true, false},
		{Caller{Role: "researcher"}, false, false}, // no subject owns a job started by someone
	} {
		_, sees := de.svc.Transfer(ctx, c.who, job.ID)
		listed := false
		for _, j := range de.svc.Transfers(ctx, c.who) {
			listed = listed || j.ID == job.ID
		}
		if sees != c.sees || listed != c.sees {
			t.Errorf("%+v sees the transfer: %v, listed %v, want %v", c.who, sees, listed, c.sees)
		}
		downloads := len(de.rec.of(RecordTransferDownloaded))
		_, f, err := de.svc.OpenTransfer(ctx, c.who, job.ID)
		if f != nil {
			f.Close()
		}
		if c.download != (err == nil) || !c.download && !errors.Is(err, ErrNotFound) {
			t.Errorf("%+v downloads: %v, want %v", c.who, err, c.download)
		}
		if want := downloads + map[bool]int{true: 1}[c.download]; len(de.rec.of(RecordTransferDownloaded)) != want {
			t.Errorf("%+v: %d download records, want %d", c.who, len(de.rec.of(RecordTransferDownloaded)), want)
		}
	}

	// No record, no file.
	de.rec.failWith(errors.New("disk full"))
	if _, f, err := de.svc.OpenTransfer(ctx, anna, job.ID); !errors.Is(err, ErrAuditUnavailable) || f != nil {
		t.Fatalf("download without a record: %v", err)
	}
	de.rec.failWith(nil)
	for _, g := range de.svc.Grants(ctx) {
		if g.Token != "" {
			t.Fatal("a grant is listed with its token")
		}
	}
	if _, err := os.Stat(filepath.Join(de.dir, "downloads", "fr-grandest", "air-quality")); err != nil {
		t.Fatal(err)
	}
}
