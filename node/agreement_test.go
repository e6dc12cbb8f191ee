package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// chShortAgreements is a rule Basel's legal team adds to the shipped
// agreements policy: Basel signs for at most one year at a time.
const chShortAgreements = `package xborder.agreements

deny contains {
	"rule": "basel_one_year_at_most",
	"reason": sprintf("Basel signs model-sharing agreements for one year at most; agreement %s runs longer.", [agreement_id]),
} if {
	until_ns - from_ns > (366 * 24) * 3600000000000
}
`

func TestModelSharingAgreementNegotiatedSignedEnforcedRevoked(t *testing.T) {
	// Every member reads one clock, which the test moves past an
	// agreement's end instead of waiting for it.
	clock := &testkit.Clock{}
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	f.opts = []Option{WithClock(clock.Now)}
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))
	fr, de, ch, lu := nodes[0], nodes[1], nodes[2], nodes[4]
	ctx := context.Background()

	// Strasbourg trained a tumour-segmentation model on its ICU data.
	_, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: "icu-admissions", Title: "ICU admissions", Theme: "health",
		Classification: "sensitive", PersonalData: true, FileName: "icu.csv"}, strings.NewReader("a,b\n1,2\n"))
	must(t, err)
	weights := strings.Repeat("model-weights ", 5000)
	model, err := fr.catalogue.Publish(ctx, exchange.Publication{ID: "tumour-seg", Kind: exchange.KindModel, Title: "Tumour segmentation",
		Theme: "health", Classification: "restricted", License: "research-only", FileName: "tumour-seg.onnx",
		Model: &exchange.ModelCard{Task: "tumour segmentation on CT", Architecture: "3D U-Net",
			TrainingDatasets: []string{"fr-grandest/icu-admissions"}, Metrics: map[string]float64{"dice": 0.87},
			IntendedUses: []string{"research"}, ExcludedUses: []string{"diagnosis"}}}, strings.NewReader(weights))
	must(t, err)
	for _, n := range []*Node{de, ch} {
		testkit.Eventually(t, 30*time.Second, n.cfg.Name+" sees the model", func() bool {
			_, err := n.catalogue.Entry(ctx, "fr-grandest", "tumour-seg")
			return err == nil
		})
	}
	// Basel's legal team adds its own rule.
	must(t, os.WriteFile(filepath.Join(ch.cfg.PoliciesPath(ch.dataDir), "basel.rego"), []byte(chShortAgreements), 0o644))
	_, err = ch.policy.Reload(ctx)
	must(t, err)

	now := time.Now().UTC()
	proposal := func(id string, until time.Time, purposes ...string) consensus.Agreement {
		return consensus.Agreement{ID: id, Model: "fr-grandest/tumour-seg", Parties: []string{"fr-grandest", "de-bw", "ch-basel"},
			Purposes: purposes, Conditions: "Research use only; no re-identification.", ValidFrom: now.Add(-time.Minute), ValidUntil: until}
	}

	// A party whose policy refuses blocks the agreement, with its reason.
	v, err := fr.agreements.ProposeAgreement(ctx, proposal("seg-long", now.AddDate(2, 0, 0), "research"))
	var refused *exchange.AgreementRefusedError
	if !errors.As(err, &refused) || v.Status != api.AgreementRefused {
		t.Fatalf("a two-year agreement: %+v %v", v, err)
	}
	// A party that could not decide (unreachable, out of time) refuses
	// with an error and no decision.
	if rs := refused.Draft.Refusals(); len(rs) != 1 || rs[0].Member != "ch-basel" || rs[0].Decision == nil ||
		!strings.Contains(strings.Join(rs[0].Decision.Reasons, " "), "one year at most") {
		t.Fatalf("refusals: %+v (ch-basel's error: %q)", rs, refusalError(rs))
	}
	// de-bw accepted it, but nobody completes an agreement a party refused.
	if _, err := de.agreements.SignAgreement(ctx, "seg-long"); err == nil || !strings.Contains(err.Error(), "refused by ch-basel") {
		t.Fatalf("de-bw signs an agreement ch-basel refused: %v", err)
	}

	// The proposer's own policy refuses a purpose outside the vocabulary.
	_, err = fr.agreements.ProposeAgreement(ctx, proposal("seg-ads", now.AddDate(1, 0, 0), "advertising"))
	var denied *policy.DeniedError
	if !errors.As(err, &denied) || !strings.Contains(strings.Join(denied.Decision.Rules, " "), "unknown_purpose") {
		t.Fatalf("an advertising agreement: %v", err)
	}

	// The real agreement: every policy accepts, every party signs, and
	// the last signature commits it.
	v, err = fr.agreements.ProposeAgreement(ctx, proposal("seg-2026", now.AddDate(1, 0, 0), "research"))
	must(t, err)
	for _, p := range v.PartyStates {
		if p.Decision == nil || !p.Decision.Allow || p.Signed {
			t.Fatalf("after the proposal: %+v", v.PartyStates)
		}
	}
	if _, err := lu.agreements.SignAgreement(ctx, "seg-2026"); !errors.Is(err, exchange.ErrNoDraft) {
		t.Fatalf("a non-party signs: %v", err)
	}
	for _, n := range []*Node{de, ch} {
		v, err := n.agreements.SignAgreement(ctx, "seg-2026")
		must(t, err)
		if v.InRegistry {
			t.Fatalf("%s's signature committed an agreement fr-grandest has not signed", n.cfg.Name)
		}
	}
	v, err = fr.agreements.SignAgreement(ctx, "seg-2026")
	must(t, err)
	for _, n := range nodes {
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+" reads the agreement in the registry", func() bool {
			a, _, err := n.agreements.Agreement(ctx, "seg-2026")
			return err == nil && a.InRegistry && a.Status == consensus.AgreementActive && len(a.Document.Signatures) == 3
		})
	}

	researcher := api.User{Subject: "bob@uni-freiburg.de", Org: "Universität Freiburg", Role: api.RoleResearcher}
	// Enforcement: a party, for a covered purpose, gets a grant naming
	// the agreement; a member that is not a party, or another purpose,
	// does not.
	ans, err := de.exchange.RequestAccess(ctx, researcher.Caller(), "fr-grandest", "tumour-seg", "research", "")
	must(t, err)
	if !ans.Decision.Allow || ans.Decision.Agreement != "seg-2026" {
		t.Fatalf("de-bw's request: %+v", ans.Decision)
	}
	if g, ok := grantByID(de, ans.GrantID); !ok || g.Agreement != "seg-2026" {
		t.Fatalf("the grant does not name the agreement: %+v", g)
	}
	for who, purpose := range map[*Node]string{lu: "research", de: "statistics"} {
		_, err := who.exchange.RequestAccess(ctx, researcher.Caller(), "fr-grandest", "tumour-seg", purpose, "")
		if !errors.As(err, &denied) || !strings.Contains(strings.Join(denied.Decision.Rules, " "), "model_requires_agreement") {
			t.Fatalf("%s asking for %s: %v", who.cfg.Name, purpose, err)
		}
	}

	// Revocation: the grant de-bw holds is refused at transfer from the
	// commit on, and a new request is denied, saying why.
	_, err = fr.agreements.RevokeAgreement(ctx, "seg-2026", "the model is retrained")
	must(t, err)
	for _, n := range nodes {
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+" reads the revocation", func() bool {
			a, _, err := n.agreements.Agreement(ctx, "seg-2026")
			return err == nil && a.Status == consensus.AgreementRevoked && a.RevokedBy == "fr-grandest" && a.RevokeReason == "the model is retrained"
		})
	}
	m, ok := exchangeRegistry{de}.MemberByName("fr-grandest")
	if !ok {
		t.Fatal("fr-grandest is not a member")
	}
	j, err := de.exchange.Fetch(ctx, m, "tumour-seg", ans.Grant)
	must(t, err)
	job := j.Status()
	testkit.Eventually(t, 30*time.Second, "the transfer under the old grant ends", func() bool {
		st, ok := de.exchange.Transfer(ctx, operator.Caller(), job.ID)
		return ok && st.State != exchange.JobRunning
	})
	if st, _ := de.exchange.Transfer(ctx, operator.Caller(), job.ID); st.State != exchange.JobFailed || !strings.Contains(st.Error, "revoked") {
		t.Fatalf("transfer under a revoked agreement: %+v", st)
	}
	_, err = de.exchange.StartFetch(ctx, researcher.Caller(), "fr-grandest", "tumour-seg", "research", "")
	if !errors.As(err, &denied) || !strings.Contains(strings.Join(denied.Decision.Rules, " "), "agreement_not_active") {
		t.Fatalf("fetch after the revocation: %v", err)
	}

	// Expiry: an agreement past its end authorises nothing, revoked or not.
	// It lasts an hour by the members' clock, which then moves past its end.
	expiring := proposal("seg-short", clock.Now().UTC().Add(time.Hour), "research")
	_, err = fr.agreements.ProposeAgreement(ctx, expiring)
	must(t, err)
	for _, n := range []*Node{de, ch, fr} {
		_, err := n.agreements.SignAgreement(ctx, "seg-short")
		must(t, err)
	}
	testkit.Eventually(t, 20*time.Second, "seg-short is committed and in force", func() bool {
		a, _, err := de.agreements.Agreement(ctx, "seg-short")
		return err == nil && a.InRegistry && a.Status == consensus.AgreementActive
	})
	clock.Advance(2 * time.Hour)
	if a, _, err := de.agreements.Agreement(ctx, "seg-short"); err != nil || a.Status != consensus.AgreementExpired {
		t.Fatalf("seg-short an hour past its end: %+v %v", a, err)
	}
	_, err = de.exchange.RequestAccess(ctx, researcher.Caller(), "fr-grandest", "tumour-seg", "research", "")
	if !errors.As(err, &denied) || !strings.Contains(strings.Join(denied.Decision.Rules, " "), "agreement_not_in_force") {
		t.Fatalf("request under an expired agreement: %v", err)
	}
	_ = model

	// Every node's audit trail holds and verifies the decisions.
	for _, n := range []*Node{fr, de, ch} {
		rep, err := n.audit.VerifyAudit(ctx)
		if err != nil || !rep.OK {
			t.Fatalf("%s audit: %+v %v", n.cfg.Name, rep, err)
		}
	}
}

func grantByID(n *Node, id string) (exchange.GrantInfo, bool) {
	for _, g := range n.exchange.Grants(context.Background()) {
		if g.ID == id {
			return g, true
		}
	}
	return exchange.GrantInfo{}, false
}

// refusalError is the first refusal's error, for a failure message.
func refusalError(rs []exchange.PartyState) string {
	if len(rs) == 0 {
		return ""
	}
	return rs[0].Error
}
