//go:build testnet

package testnet

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// Scenario 4: a model-sharing agreement FR–DE–CH is negotiated (every
// party's policy accepts), signed by all three and committed; a DE
// researcher fetches the model under it, LU (not a party) is refused; FR
// revokes it and DE's next fetch is denied with the reason.
func TestScenario4ModelSharingAgreement(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	fr, de, ch, lu := byName(t, "fr-grandest"), byName(t, "de-bw"), byName(t, "ch-basel"), byName(t, "lu-luxembourg")
	run := runID()

	icu := publication{ID: "s4-icu-" + run, Title: "ICU admissions (training data)", Description: "Scenario 4 training data",
		Theme: "health", Classification: "sensitive", PersonalData: true, License: "CC-BY-NC-4.0"}
	if _, err := fr.publish(ctx, icu, bytes.NewReader(rows(icu.ID, 200))); err != nil {
		t.Fatal(err)
	}
	weights := rows("weights-"+run, 20000)
	model := publication{ID: "s4-seg-" + run, Kind: "model", Title: "Tumour segmentation", Description: "Scenario 4 model",
		Theme: "health", Classification: "restricted", License: "research-only",
		Model: &modelCard{Task: "tumour segmentation on CT", Architecture: "3D U-Net", TrainingDatasets: []string{"fr-grandest/" + icu.ID},
			Metrics: map[string]float64{"dice": 0.87}, IntendedUses: []string{"research"}, ExcludedUses: []string{"diagnosis"}}}
	m, err := fr.publish(ctx, model, bytes.NewReader(weights))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*tnode{de, ch} {
		testkit.EventuallyNil(t, converge, n.Name+" sees "+model.ID, func() error {
			c, err := n.catalogue(ctx, "?owner=fr-grandest")
			if err != nil {
				return err
			}
			if !c.has("fr-grandest", model.ID) {
				return fmt.Errorf("not yet")
			}
			return nil
		})
	}

	id := "s4-agr-" + run
	proposal := map[string]any{"id": id, "model": "fr-grandest/" + model.ID, "parties": []string{"fr-grandest", "de-bw", "ch-basel"},
		"purposes": []string{"research"}, "conditions": "Research use only.", "valid_until": time.Now().AddDate(1, 0, 0)}
	var a agreement
	if err := fr.post(ctx, "/v1/agreements", proposal, &a); err != nil {
		t.Fatal(err)
	}
	for _, p := range a.PartyStates {
		if p.Decision == nil || !p.Decision.Allow {
			t.Fatalf("%s does not accept: %+v", p.Member, p)
		}
	}
	for _, n := range []*tnode{de, ch, fr} {
		if err := n.post(ctx, "/v1/agreements/"+id+"/sign", struct{}{}, &a); err != nil {
			t.Fatalf("%s signs: %v", n.Name, err)
		}
	}
	for _, n := range nodes(t) {
		testkit.EventuallyNil(t, converge, n.Name+" reads "+id+" as active", func() error {
			var ans struct {
				Agreement agreement `json:"agreement"`
			}
			if err := n.get(ctx, "/v1/agreements/"+id, &ans); err != nil {
				return err
			}
			if ans.Agreement.Status != "active" || len(ans.Agreement.Document.Signatures) != 3 {
				return fmt.Errorf("status %s, %d signatures", ans.Agreement.Status, len(ans.Agreement.Document.Signatures))
			}
			return nil
		})
	}

	bob := de.as(researcherToken(t, "de-bw", "bob@uni-freiburg.de", "Universität Freiburg"))
	req := accessRequest{Owner: "fr-grandest", ID: model.ID, Purpose: "research"}
	var j job
	if err := bob.post(ctx, "/v1/fetch", req, &j); err != nil {
		t.Fatal(err)
	}
	j = bob.waitJob(t, j.ID, converge)
	if j.State != "done" || j.SHA256 != m.SHA256 {
		t.Fatalf("model transfer %+v; want done with sha256 %s", j, m.SHA256)
	}

	carla := lu.as(researcherToken(t, "lu-luxembourg", "carla@uni.lu", "Université du Luxembourg"))
	err = carla.post(ctx, "/v1/requests", req, nil)
	if ae, ok := err.(*apiErr); !ok || ae.Status != http.StatusForbidden || !slices.Contains(ae.Rules, "model_requires_agreement") {
		t.Fatalf("lu-luxembourg, not a party: %v; want 403 model_requires_agreement", err)
	}

	if err := fr.post(ctx, "/v1/agreements/"+id+"/revoke", map[string]string{"reason": "retraining"}, &a); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes(t) {
		testkit.EventuallyNil(t, converge, n.Name+" reads the revocation", func() error {
			var ans struct {
				Agreement agreement `json:"agreement"`
			}
			if err := n.get(ctx, "/v1/agreements/"+id, &ans); err != nil {
				return err
			}
			if ans.Agreement.Status != "revoked" || ans.Agreement.RevokedBy != "fr-grandest" {
				return fmt.Errorf("status %s, revoked by %q", ans.Agreement.Status, ans.Agreement.RevokedBy)
			}
			return nil
		})
	}
	err = bob.post(ctx, "/v1/fetch", req, &j)
	if ae, ok := err.(*apiErr); !ok || ae.Status != http.StatusForbidden || !slices.Contains(ae.Rules, "agreement_not_active") {
		t.Fatalf("fetch after the revocation: %v; want 403 agreement_not_active", err)
	}
}
