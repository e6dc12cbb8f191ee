package exchange

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xborder/xborder/policy"
)

// diskFull is the error a bbolt commit returns on a full disk.
var diskFull = &os.PathError{Op: "write", Path: "audit.db", Err: syscall.ENOSPC}

func TestOwnerWhoseAuditTrailFailsDecidesNothingAndIssuesNoGrant(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	fr.src.add("fr-grandest", "mobility", "open", testContent(4<<10))

	fr.rec.failWith(diskFull)
	ans, err := de.svc.Request(context.Background(), fr.m, "mobility", "research", "", testResearcher)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != RefusalAuditUnavailable || !errors.Is(err, ErrAuditUnavailable) {
		t.Fatalf("request to an owner whose trail fails: %+v, %v", ans, err)
	}
	if !strings.Contains(refused.Reason, "audit trail cannot be written") || ans.Grant != "" {
		t.Fatalf("the refusal does not say why, or carries a grant: %q %+v", refused.Reason, ans)
	}
	if gs := fr.svc.Grants(context.Background()); len(gs) != 0 {
		t.Fatalf("the owner stored grants it could not record: %+v", gs)
	}
	if gs := de.svc.Grants(context.Background()); len(gs) != 0 {
		t.Fatalf("the requester holds grants: %+v", gs)
	}

	// Once the trail can be written again, the owner decides as before.
	fr.rec.failWith(nil)
	ans = grantFor(t, de, fr, "mobility")
	if len(fr.rec.of(RecordDecision)) != 1 || len(fr.rec.of(RecordGrantIssued)) != 1 {
		t.Fatalf("records after recovery: %d decisions, %d grants", len(fr.rec.of(RecordDecision)), len(fr.rec.of(RecordGrantIssued)))
	}
	if _, ok := fr.svc.Grant(GrantIssued, ans.GrantID); !ok {
		t.Fatal("the grant issued after recovery is not stored")
	}
}

func TestOwnerWhoseAuditTrailFailsServesNoByte(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	e := fr.src.add("fr-grandest", "mobility", "open", testContent(1<<20))
	ans := grantFor(t, de, fr, "mobility")

	fr.rec.failWith(diskFull)
	job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	st, err := waitJob(t, job)
	var refused *RefusedError
	if st.State != JobFailed || !errors.As(err, &refused) || refused.Code != RefusalAuditUnavailable {
		t.Fatalf("transfer from an owner whose trail fails: %+v, %v", st, err)
	}
	if st.Received != 0 {
		t.Fatalf("%d bytes arrived from an owner that could not record the transfer", st.Received)
	}
	if fi, err := os.Stat(filepath.Join(de.dir, "downloads", "fr-grandest", "mobility.partial")); err == nil && fi.Size() != 0 {
		t.Fatalf("the partial file holds %d bytes", fi.Size())
	}

	fr.rec.failWith(nil)
	job, err = de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := waitJob(t, job); err != nil || st.State != JobDone || fileSHA256(t, st.Path) != e.SHA256 {
		t.Fatalf("transfer after recovery: %+v, %v", st, err)
	}
}

func TestRequesterWhoseAuditTrailFailsKeepsNoGrantAndFetchesNothing(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	fr.src.add("fr-grandest", "mobility", "open", testContent(64<<10))
	ans := grantFor(t, de, fr, "mobility")

	de.rec.failWith(diskFull)
	_, err := de.svc.Request(context.Background(), fr.m, "mobility", "research", "", testResearcher)
	if !errors.Is(err, ErrAuditUnavailable) {
		t.Fatalf("request while the requester's trail fails: %v", err)
	}
	if gs := de.svc.Grants(context.Background()); len(gs) != 1 || gs[0].ID != ans.GrantID {
		t.Fatalf("the requester kept a grant it could not record: %+v", gs)
	}
	job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	st, err := waitJob(t, job)
	if st.State != JobFailed || !errors.Is(err, ErrAuditUnavailable) || st.Attempts != 0 || st.Received != 0 {
		t.Fatalf("transfer while the requester's trail fails: %+v, %v", st, err)
	}
	if n := len(fr.rec.of(RecordTransferStarted)); n != 0 {
		t.Fatalf("the owner was asked for the content %d times", n)
	}
}

func TestGrantWithinAProjectEndsWithTheProject(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw", "ch-basel")
	fr, de, ch := fed["fr-grandest"], fed["de-bw"], fed["ch-basel"]
	fr.src.add("fr-grandest", "mobility", "open", testContent(64<<10))
	reg := fr.reg
	request := func(n *testNode) Answer {
		t.Helper()
		ans, err := n.svc.Request(context.Background(), fr.m, "mobility", "research", "cardio-x", testResearcher)
		if err != nil || ans.Grant == "" {
			t.Fatalf("%s's request within cardio-x: %+v %v", n.m.Name, ans, err)
		}
		return ans
	}
	fetch := func(n *testNode, grant string) (JobStatus, error) {
		t.Helper()
		job, err := n.svc.Fetch(context.Background(), fr.m, "mobility", grant)
		if err != nil {
			t.Fatal(err)
		}
		return waitJob(t, job)
	}

	// ch-basel is no partner of cardio-x: a grant naming the project is
	// no use to it, whatever the policy allowed.
	st, err := fetch(ch, request(ch).Grant)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != RefusalNotAPartner || !strings.Contains(refused.Reason, "ch-basel is not a partner of project cardio-x") {
		t.Fatalf("a non-partner's transfer: %+v %v", st, err)
	}

	// de-bw is a partner: served while the project runs, refused once
	// it is closed.
	ans := request(de)
	if st, err := fetch(de, ans.Grant); err != nil || st.State != JobDone {
		t.Fatalf("a partner's transfer: %+v %v", st, err)
	}
	reg.setProject(policy.Project{ID: "cardio-x", Title: "Cardio cross-border", Themes: []string{"health"}, Lead: "fr-grandest",
		Partners: []string{"fr-grandest", "de-bw"}, Status: "closed"})
	st, err = fetch(de, ans.Grant)
	if !errors.As(err, &refused) || refused.Code != RefusalProjectClosed || !strings.Contains(refused.Reason, "project cardio-x, within which the grant was issued, is closed") {
		t.Fatalf("a transfer under a grant of a closed project: %+v %v", st, err)
	}
	if st.Received != 0 {
		t.Fatalf("%d bytes served under a closed project", st.Received)
	}
	refusals := fr.rec.of(RecordTransferRefused)
	if len(refusals) != 2 || refusals[1].details.(refusalRecord).Code != RefusalProjectClosed {
		t.Fatalf("the owner's refusals on record: %+v", refusals)
	}
}

// An owner whose registry replica is older than before its restart (a
// revocation or a closure may not be applied yet) neither decides nor
// serves under a project, saying why, until it has caught up.
func TestOwnerWhoseRegistryIsCatchingUpDecidesAndServesNothing(t *testing.T) {
	fed := newReqFed(t, fedOptions{}, "fr-grandest", "de-bw")
	fr, de := fed["fr-grandest"], fed["de-bw"]
	fr.src.add("fr-grandest", "mobility", "open", testContent(64<<10))
	ans, err := de.svc.Request(context.Background(), fr.m, "mobility", "research", "cardio-x", testResearcher)
	if err != nil || ans.Grant == "" {
		t.Fatalf("request within cardio-x: %+v %v", ans, err)
	}

	fr.reg.setBehind(errors.New("applied up to index 3 of the 9 it held before"))
	_, err = de.svc.Request(context.Background(), fr.m, "mobility", "research", "cardio-x", testResearcher)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != RefusalRegistryBehind || !strings.Contains(refused.Reason, "catching up after a restart") {
		t.Fatalf("request to an owner catching up: %v", err)
	}
	job, err := de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	st, err := waitJob(t, job)
	if !errors.As(err, &refused) || refused.Code != RefusalRegistryBehind || st.Received != 0 {
		t.Fatalf("transfer under a project grant from an owner catching up: %+v %v", st, err)
	}

	fr.reg.setBehind(nil)
	job, err = de.svc.Fetch(context.Background(), fr.m, "mobility", ans.Grant)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := waitJob(t, job); err != nil || st.State != JobDone {
		t.Fatalf("transfer once caught up: %+v %v", st, err)
	}
}
