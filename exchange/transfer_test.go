package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/internal/testkit"
)

func withAfterChunk(f func(network.Stream, int64) error) serviceOption {
	return func(s *Service) { s.hooks.afterChunk = f }
}

// grantFor has requester ask owner for id and returns the answer, which
// must carry a grant.
func grantFor(t *testing.T, requester, owner *testNode, id string) Answer {
	t.Helper()
	ans, err := requester.svc.Request(context.Background(), owner.m, id, "research", "", testResearcher)
	if err != nil || ans.Grant == "" {
		t.Fatalf("request %s: %+v, %v", id, ans, err)
	}
	return ans
}

// waitJob waits for a job to finish, at most a minute.
func waitJob(t *testing.T, j *Job) (JobStatus, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := j.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("job %s still running: %+v", j.ID(), st)
	}
	return st, err
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestTransferCompletesAndVerifies(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	e := fr.src.add("fr-grandest", "mobility", "open", testContent(5<<20))
	ans := grantFor(t, de, fr, "mobility")

	job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	st, err := waitJob(t, job)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(de.dir, "downloads", "fr-grandest", "mobility")
	if st.State != JobDone || st.Path != want || st.Received != e.Size || st.Size != e.Size || st.SHA256 != e.SHA256 || st.FinishedAt.IsZero() {
		t.Errorf("status = %+v", st)
	}
	if got := fileSHA256(t, want); got != e.SHA256 {
		t.Errorf("file SHA-256 %s, want %s", got, e.SHA256)
	}
	if _, err := os.Stat(want + partialSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial file left behind: %v", err)
	}
	if jobs := de.svc.Jobs(); len(jobs) != 1 || jobs[0].ID != job.ID() || jobs[0].State != JobDone {
		t.Errorf("jobs = %+v", jobs)
	}
	if got, ok := de.svc.Job(job.ID()); !ok || got.State != JobDone {
		t.Errorf("job %s = %+v, %v", job.ID(), got, ok)
	}
	// The owner records its side once its last write is done, which may
	// be after the requester has verified the file.
	testkit.Eventually(t, 10*time.Second, "the owner records the completed transfer", func() bool {
		return len(fr.rec.of(RecordTransferCompleted)) == 1
	})
	for name, rec := range map[string]*testRecorder{"owner": fr.rec, "requester": de.rec} {
		if len(rec.of(RecordTransferStarted)) != 1 || len(rec.of(RecordTransferCompleted)) != 1 || len(rec.of(RecordTransferFailed)) != 0 {
			t.Errorf("%s records: started %d, completed %d, failed %d", name,
				len(rec.of(RecordTransferStarted)), len(rec.of(RecordTransferCompleted)), len(rec.of(RecordTransferFailed)))
		}
	}
}

func TestTransferOfACorruptBlobFailsWithIntegrityError(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	e := fr.src.add("fr-grandest", "mobility", "open", testContent(1<<20))
	ans := grantFor(t, de, fr, "mobility")
	fr.src.corrupt("mobility")

	job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	st, err := waitJob(t, job)
	var ie *IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an *IntegrityError", err)
	}
	if ie.Want != e.SHA256 || ie.Got == e.SHA256 || ie.Size != e.Size {
		t.Errorf("integrity error = %+v", ie)
	}
	if st.State != JobFailed || st.Error == "" || st.Path != "" {
		t.Errorf("status = %+v", st)
	}
	final := filepath.Join(de.dir, "downloads", "fr-grandest", "mobility")
	for _, p := range []string{final, final + partialSuffix} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after an integrity failure (%v)", p, err)
		}
	}
	if len(de.rec.of(RecordTransferFailed)) != 1 || len(de.rec.of(RecordTransferCompleted)) != 0 {
		t.Error("the requester did not record the failure")
	}
}

// TestTransferReplacesAStalePartialFile starts a job over a partial file
// left by an older version of the dataset: the resumed file fails its
// check, and the job downloads again from zero instead of failing.
func TestTransferReplacesAStalePartialFile(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	e := fr.src.add("fr-grandest", "mobility", "open", testContent(1<<20))
	ans := grantFor(t, de, fr, "mobility")
	dir := filepath.Join(de.dir, "downloads", "fr-grandest")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mobility"+partialSuffix), make([]byte, 100<<10), 0o600); err != nil {
		t.Fatal(err)
	}

	job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	st, err := waitJob(t, job)
	if err != nil {
		t.Fatal(err)
	}
	if st.Attempts != 2 || fileSHA256(t, st.Path) != e.SHA256 {
		t.Errorf("status = %+v; want a second download from zero and a verified file", st)
	}
}

// TestTransferResumesAfterABreak breaks the first stream from the owner's
// side after 2 MiB; the job must resume from its partial file, not start
// over, and end with a verified file.
func TestTransferResumesAfterABreak(t *testing.T) {
	for _, closeConn := range []bool{false, true} {
		name := "stream reset"
		if closeConn {
			name = "connection closed"
		}
		t.Run(name, func(t *testing.T) {
			var broken atomic.Bool
			hook := func(st network.Stream, sent int64) error {
				if sent >= 2<<20 && broken.CompareAndSwap(false, true) {
					if closeConn {
						_ = st.Conn().Close()
					}
					return errors.New("test: break the transfer")
				}
				return nil
			}
			fed := newReqFed(t, fedOptions{opts: map[string][]serviceOption{"fr-grandest": {withAfterChunk(hook)}}}, "fr-grandest", "de-bw")
			fr, de := fed["fr-grandest"], fed["de-bw"]
			e := fr.src.add("fr-grandest", "mobility", "open", testContent(5<<20))
			ans := grantFor(t, de, fr, "mobility")

			job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
			if err != nil {
				t.Fatal(err)
			}
			st, err := waitJob(t, job)
			if err != nil {
				t.Fatal(err)
			}
			if !broken.Load() || st.State != JobDone || st.Attempts < 2 {
				t.Errorf("broken %v, status %+v; want a resumed, completed job", broken.Load(), st)
			}
			if got := fileSHA256(t, st.Path); got != e.SHA256 {
				t.Errorf("file SHA-256 %s, want %s", got, e.SHA256)
			}
			testkit.Eventually(t, 10*time.Second, "the owner records the broken stream", func() bool {
				return len(fr.rec.of(RecordTransferFailed)) == 1
			})
			starts := fr.rec.of(RecordTransferStarted)
			if len(starts) < 2 || len(fr.rec.of(RecordTransferFailed)) != 1 {
				t.Fatalf("owner records: %d started, %d failed", len(starts), len(fr.rec.of(RecordTransferFailed)))
			}
			if off := starts[len(starts)-1].details.(transferRecord).Offset; off <= 0 {
				t.Errorf("the last stream started at offset %d: the transfer started over", off)
			}
		})
	}
}

// TestTransferGrantChecks presents grants to the owner from bare streams:
// the owner, not only the requester's own checks, must refuse them.
func TestTransferGrantChecks(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw", "ch-basel")
	fr, de, ch := fed["fr-grandest"], fed["de-bw"], fed["ch-basel"]
	e := fr.src.add("fr-grandest", "air-quality", "open", testContent(1000))
	fr.src.add("fr-grandest", "traffic", "open", testContent(2000))
	ans := grantFor(t, de, fr, "air-quality")

	mint := func(t *testing.T, signer *testNode, mod func(*grantClaims)) string {
		t.Helper()
		now := time.Now()
		c := grantClaims{Issuer: fr.m.PeerID.String(), Audience: de.m.PeerID.String(), Subject: "fr-grandest/air-quality",
			ID: newTokenID(), IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix(), SHA256: e.SHA256, Size: e.Size,
			Obligations: []string{}, Purpose: "research"}
		mod(&c)
		tok, err := nodejws.Sign(signer.key, fr.m.PeerID, grantTokenType, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	expired := mint(t, fr, func(c *grantClaims) {
		c.IssuedAt, c.Expires = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	})
	forged := mint(t, de, func(*grantClaims) {})

	cases := []struct {
		name    string
		from    *testNode
		grant   string
		dataset string
		offset  int64
		want    RefusalCode
	}{
		{"expired grant", de, expired, "air-quality", 0, RefusalGrantExpired},
		{"grant presented by another peer", ch, ans.Grant, "air-quality", 0, RefusalWrongPeer},
		{"grant for another dataset", de, ans.Grant, "traffic", 0, RefusalWrongDataset},
		{"grant not signed by the owner", de, forged, "air-quality", 0, RefusalBadGrant},
		{"request JWT as a grant", de, "a.b.c", "air-quality", 0, RefusalBadGrant},
		{"offset past the end", de, ans.Grant, "air-quality", e.Size + 1, RefusalBadOffset},
		{"negative offset", de, ans.Grant, "air-quality", -1, RefusalBadOffset},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refused := len(fr.rec.of(RecordTransferRefused))
			var hdr transferHeader
			if err := rawExchange(t, tc.from, fr.m.PeerID, TransferProtocol, transferFrame{Grant: tc.grant, Dataset: tc.dataset, Offset: tc.offset}, &hdr); err != nil {
				t.Fatalf("no header: %v", err)
			}
			if hdr.Code != tc.want || hdr.Reason == "" || hdr.Size != 0 {
				t.Errorf("header = %+v, want refusal %q", hdr, tc.want)
			}
			if got := len(fr.rec.of(RecordTransferRefused)); got != refused+1 {
				t.Errorf("%d refusal records, want %d", got, refused+1)
			}
		})
	}

	t.Run("the requester checks before sending", func(t *testing.T) {
		ctx := context.Background()
		for name, fetch := range map[string]func() (*Job, error){
			"expired":         func() (*Job, error) { return de.svc.Fetch(ctx, fr.m, "air-quality", expired) },
			"another dataset": func() (*Job, error) { return de.svc.Fetch(ctx, fr.m, "traffic", ans.Grant) },
			"another peer":    func() (*Job, error) { return ch.svc.Fetch(ctx, fr.m, "air-quality", ans.Grant) },
			"forged":          func() (*Job, error) { return de.svc.Fetch(ctx, fr.m, "air-quality", forged) },
		} {
			if _, err := fetch(); !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("%s: err = %v, want ErrInvalidGrant", name, err)
			}
		}
		if _, err := de.svc.Fetch(ctx, fr.m, "air-quality", expired); !errors.Is(err, ErrGrantExpired) {
			t.Errorf("expired: err = %v, want ErrGrantExpired", err)
		}
		if _, err := de.svc.Fetch(ctx, fr.m, "../etc", ans.Grant); !errors.Is(err, ErrBadID) {
			t.Errorf("path traversal: err = %v, want ErrBadID", err)
		}
	})

	t.Run("dataset changed since the grant", func(t *testing.T) {
		fr.src.add("fr-grandest", "air-quality", "open", testContent(1001))
		job, err := de.svc.Fetch(context.Background(), fr.m, "air-quality", ans.Grant)
		if err != nil {
			t.Fatal(err)
		}
		_, err = waitJob(t, job)
		var r *RefusedError
		if !errors.As(err, &r) || r.Code != RefusalWrongDataset {
			t.Errorf("err = %v, want a %q refusal", err, RefusalWrongDataset)
		}
	})
}

// TestTransferConcurrencyLimitPerPeer holds one transfer open without
// reading it; a second one from the same peer is refused as busy until
// the first ends.
func TestTransferConcurrencyLimitPerPeer(t *testing.T) {
	fed := newReqFed(t, fedOptions{cfg: func(c *ServiceConfig) { c.MaxTransfersPerPeer = 1 }}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	fr.src.add("fr-grandest", "mobility", "open", testContent(5<<20))
	ans := grantFor(t, de, fr, "mobility")
	req := transferFrame{Grant: ans.Grant, Dataset: "mobility"}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := de.h.NewStream(ctx, fr.m.PeerID, TransferProtocol)
	if err != nil {
		t.Fatal(err)
	}
	_ = first.SetDeadline(time.Now().Add(10 * time.Second))
	var hdr transferHeader
	if err := frame.Write(first, 1<<20, req); err != nil {
		t.Fatal(err)
	}
	if err := frame.Read(first, 1<<20, &hdr); err != nil || hdr.Code != "" {
		t.Fatalf("first transfer: %+v, %v", hdr, err)
	}

	var busy transferHeader
	if err := rawExchange(t, de, fr.m.PeerID, TransferProtocol, req, &busy); err != nil || busy.Code != RefusalBusy {
		t.Fatalf("second transfer: %+v, %v; want refusal %q", busy, err, RefusalBusy)
	}

	_ = first.Reset()
	testkit.Eventually(t, 10*time.Second, "a slot is free again", func() bool {
		var h transferHeader
		st, err := de.h.NewStream(ctx, fr.m.PeerID, TransferProtocol)
		if err != nil {
			return false
		}
		defer st.Reset()
		_ = st.SetDeadline(time.Now().Add(5 * time.Second))
		return frame.Write(st, 1<<20, req) == nil && frame.Read(st, 1<<20, &h) == nil && h.Code == ""
	})
}

// TestCloseStopsJobsAndARestartResumes closes the requester's service in
// the middle of a transfer: Close must end the job (keeping its partial
// file), and a new service on the same data dir resumes from it.
func TestCloseStopsJobsAndARestartResumes(t *testing.T) {
	reached, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(_ network.Stream, sent int64) error {
		if sent >= 1<<20 {
			once.Do(func() { close(reached); <-unblock })
		}
		return nil
	}
	fed := newReqFed(t, fedOptions{opts: map[string][]serviceOption{"fr-grandest": {withAfterChunk(hook)}}}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	e := fr.src.add("fr-grandest", "mobility", "open", testContent(5<<20))
	ans := grantFor(t, de, fr, "mobility")

	job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Fatal("the transfer never reached 1 MiB")
	}
	if err := de.svc.Close(); err != nil {
		t.Fatal(err)
	}
	close(unblock)
	select {
	case <-job.Done():
	default:
		t.Fatal("Close returned before the job ended")
	}
	if st := job.Status(); st.State != JobFailed || !errors.Is(job.Err(), ErrServiceClosed) {
		t.Errorf("after Close: %+v, %v", st, job.Err())
	}
	partial := filepath.Join(de.dir, "downloads", "fr-grandest", "mobility"+partialSuffix)
	if fi, err := os.Stat(partial); err != nil || fi.Size() == 0 {
		t.Fatalf("partial file after Close: %v", err)
	}
	if _, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant); !errors.Is(err, ErrServiceClosed) {
		t.Errorf("Fetch after Close: %v, want ErrServiceClosed", err)
	}

	de.startService(t, testServiceConfig())
	job, err = de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	st, err := waitJob(t, job)
	if err != nil {
		t.Fatal(err)
	}
	if got := fileSHA256(t, st.Path); got != e.SHA256 {
		t.Errorf("file SHA-256 %s, want %s", got, e.SHA256)
	}
	starts := fr.rec.of(RecordTransferStarted)
	if off := starts[len(starts)-1].details.(transferRecord).Offset; off <= 0 {
		t.Errorf("the restarted job began at offset %d, want a resume", off)
	}
	// The held grant survived the restart in exchange.db.
	if _, ok := de.svc.Grant(GrantHeld, ans.GrantID); !ok {
		t.Error("the held grant is gone after a restart")
	}
}
