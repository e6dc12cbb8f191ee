package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

func TestSensitiveHealthDataNeedsAJointProjectThenTransfersVerified(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	fr, de := nodes[0], nodes[1]
	ctx := context.Background()
	content := strings.Repeat("2025-01-01,CHU-1,40-49,3\n", 40000)
	e, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: "icu-admissions", Title: "ICU admissions", Theme: "health",
		Classification: "sensitive", PersonalData: true, FileName: "icu.csv"}, strings.NewReader(content))
	must(t, err)
	alice := api.User{Subject: "alice@uni-freiburg.de", Org: "Universität Freiburg", Role: api.RoleResearcher}

	// Without a project the owner's policy refuses, with its reasons.
	_, err = de.exchange.RequestAccess(ctx, alice.Caller(), "fr-grandest", "icu-admissions", "research", "")
	var denied *policy.DeniedError
	if !errors.As(err, &denied) || len(denied.Decision.Reasons) == 0 {
		t.Fatalf("request without a project: %v", err)
	}

	// A Franco-German project listing the dataset, with ethics approval.
	p := consensus.ProjectProposal{ID: "fr-de-oncology", Title: "Franco-German oncology", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/icu-admissions"}, EthicsRef: "CPP-EST-2026-114"}
	testkit.Eventually(t, 30*time.Second, "the project is committed", func() bool {
		_, err = fr.clerk.Submit(ctx, consensus.OpProjectPropose, p)
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	must(t, err)
	testkit.Eventually(t, 20*time.Second, "fr-grandest's replica has the project", func() bool { _, _, err := fr.clerk.Project(ctx, p.ID); return err == nil })

	ans, err := de.exchange.RequestAccess(ctx, alice.Caller(), "fr-grandest", "icu-admissions", "research", "fr-de-oncology")
	must(t, err)
	if !ans.Decision.Allow || ans.GrantID == "" || len(ans.Decision.Obligations) == 0 || time.Until(ans.ExpiresAt) > 31*24*time.Hour {
		t.Fatalf("request within the project: %+v", ans)
	}

	// The fetch uses the grant just received and verifies the bytes.
	job, err := de.exchange.StartFetch(ctx, alice.Caller(), "fr-grandest", "icu-admissions", "", "")
	must(t, err)
	testkit.Eventually(t, 60*time.Second, "the transfer ends", func() bool {
		st, ok := de.exchange.Transfer(ctx, operator.Caller(), job.ID)
		job = st
		return ok && st.State != exchange.JobRunning
	})
	if job.State != exchange.JobDone || job.SHA256 != e.SHA256 {
		t.Fatalf("transfer: %+v", job)
	}
	raw, err := os.ReadFile(job.Path)
	must(t, err)
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != e.SHA256 || len(raw) != len(content) {
		t.Fatal("the transferred file differs from the published one")
	}
	// Both sides audited the exchange.
	for _, n := range []*Node{fr, de} {
		rep, err := n.audit.VerifyAudit(ctx)
		if err != nil || !rep.OK || rep.Records < 3 {
			t.Fatalf("%s audit: %+v %v", n.cfg.Name, rep, err)
		}
	}
}
