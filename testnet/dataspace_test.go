//go:build testnet

package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// The dataspace container's report (testnet/cmd/dataspace), reduced to
// what the scenario checks.
type (
	dsStep struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		MS    int64  `json:"ms"`
	}
	dsNegotiation struct {
		dsStep
		Dataset     string   `json:"dataset"`
		Offer       string   `json:"offer"`
		States      []string `json:"states"`
		State       string   `json:"state"`
		AgreementID string   `json:"agreement_id"`
		Code        string   `json:"code"`
		Reasons     []string `json:"reasons"`
	}
	dsVersion struct {
		Version string `json:"version"`
		Path    string `json:"path"`
		Binding string `json:"binding"`
	}
	dsReport struct {
		OK      bool  `json:"ok"`
		MS      int64 `json:"ms"`
		Version struct {
			dsStep
			Versions []dsVersion `json:"versions"`
		} `json:"version"`
		Catalogue struct {
			dsStep
			Datasets []struct {
				ID     string `json:"id"`
				Offers []struct {
					ID       string   `json:"id"`
					Operator string   `json:"purpose_operator"`
					Purposes []string `json:"purposes"`
				} `json:"offers"`
			} `json:"datasets"`
		} `json:"catalogue"`
		Refused     *dsNegotiation `json:"refused"`
		Negotiation *dsNegotiation `json:"negotiation"`
		Transfer    *struct {
			dsStep
			Bytes      int64  `json:"bytes"`
			SHA256     string `json:"sha256"`
			Stated     string `json:"stated_sha256"`
			ReprDigest string `json:"repr_digest"`
			Verified   bool   `json:"verified"`
			State      string `json:"state"`
			TokenAfter int    `json:"token_after_status"`
		} `json:"transfer"`
	}
)

// runDataspace runs the dataspace container once against fr-grandest
// (docker-compose run, as testnet/docker-compose.yml defines it) and
// returns its report: its stdout is one JSON object, whatever the outcome.
func runDataspace(t *testing.T, within time.Duration, args ...string) dsReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	// A container left by an interrupted run would hold the name.
	_, _ = dockerOut(nil, "rm", "-f", "dataspace")
	base := []string{"-p", "xborder-testnet", "-f", "docker-compose.yml", "run", "--rm", "-T", "--name", "dataspace", "dataspace", "run"}
	var cmd *exec.Cmd
	if _, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.CommandContext(ctx, "docker-compose", append(base, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, "docker", append([]string{"compose"}, append(base, args...)...)...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var rep dsReport
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("dataspace container: %v (%v); stdout %q; stderr %s", err, jerr, stdout.String(), stderr.String())
	}
	t.Logf("dataspace container: %s", strings.TrimSpace(stdout.String()))
	return rep
}

// vocabulary is the federation's purpose vocabulary, as the shipped
// policies hold it.
func vocabulary(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../policies/data/purposes.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Purposes map[string]any `json:"purposes"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(v.Purposes))
}

// Scenario 12: a participant of a dataspace outside the federation (the
// dataspace container, known to fr-grandest's config.yaml by its key and
// address, to no other node) browses Grand Est over the Dataspace
// Protocol 2025-1: version, catalogue (the open dataset offered for the
// vocabulary's purposes), a contract request for the sensitive personal
// health dataset terminated with the policy's reasons, the open one
// negotiated to FINALIZED and pulled over HTTP, its SHA-256 the
// published one. fr-grandest's audit trail holds both decisions.
func TestScenario12DataspaceConsumer(t *testing.T) {
	healthy(t, settle)
	ctx := context.Background()
	fr := byName(t, "fr-grandest")
	run := runID()

	open := rows("no2", 20000)
	openPub := publication{ID: "air-quality-" + run, Title: "Air quality, Grand Est stations",
		Description: "Hourly NO2 by station (synthetic)", Theme: "bioeconomy",
		Classification: "open", License: "CC-BY-4.0", Keywords: []string{"air"}}
	e, err := fr.publish(ctx, openPub, bytes.NewReader(open))
	if err != nil {
		t.Fatal(err)
	}
	// Listed publicly by its owner, so the dataspace sees that it exists
	// and what access needs; the data itself it never gets.
	icu := publication{ID: "icu-stays-" + run, Title: "ICU stays, Grand Est hospitals",
		Description: "ICU stays by hospital and age band (synthetic)", Theme: "health",
		Classification: "sensitive", PersonalData: true, PublicListing: true, License: "CC-BY-NC-4.0"}
	if _, err := fr.publish(ctx, icu, bytes.NewReader(rows("icu", 500))); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	rep := runDataspace(t, 3*time.Minute, "--provider", "http://fr-grandest:7401", "--provider-id", "urn:xborder:fr-grandest",
		"--refused", icu.ID, "--open", openPub.ID, "--purpose", "research", "--json")
	t.Logf("dataspace run: %v (the container's own steps %d ms)", time.Since(start).Round(time.Millisecond), rep.MS)

	if !rep.Version.OK || !slices.Contains(rep.Version.Versions, dsVersion{"2025-1", "/dsp", "HTTPS"}) {
		t.Fatalf("version: %+v", rep.Version)
	}
	if !rep.Catalogue.OK {
		t.Fatalf("catalogue: %+v", rep.Catalogue)
	}
	vocab := vocabulary(t)
	var offered []string
	for _, d := range rep.Catalogue.Datasets {
		if d.ID != openPub.ID {
			continue
		}
		for _, o := range d.Offers {
			if o.Operator == "eq" && len(o.Purposes) == 1 && slices.Contains(vocab, o.Purposes[0]) {
				offered = append(offered, o.Purposes[0])
			}
		}
	}
	if len(offered) == 0 {
		t.Errorf("the catalogue offers %s for no purpose of the vocabulary %v: %+v", openPub.ID, vocab, rep.Catalogue.Datasets)
	}

	r := rep.Refused
	if r == nil || !r.OK || r.State != "TERMINATED" || r.Code != "denied" || len(r.Reasons) == 0 ||
		!strings.Contains(strings.Join(r.Reasons, " "), "members of the federation") {
		t.Errorf("the sensitive dataset's negotiation: %+v; want TERMINATED, denied, with the policy's reasons", r)
	} else {
		t.Logf("refused: %s", strings.Join(r.Reasons, " / "))
	}

	n := rep.Negotiation
	if n == nil || !n.OK || !slices.Equal(n.States, []string{"REQUESTED", "AGREED", "VERIFIED", "FINALIZED"}) || n.AgreementID == "" {
		t.Fatalf("the open dataset's negotiation: %+v", n)
	}
	tr := rep.Transfer
	if tr == nil || !tr.OK || !tr.Verified || tr.SHA256 != sha(open) || tr.SHA256 != e.SHA256 || tr.Bytes != int64(len(open)) ||
		tr.Stated != e.SHA256 || tr.ReprDigest != e.SHA256 || tr.State != "COMPLETED" {
		t.Fatalf("transfer: %+v; want %d bytes with sha256 %s, COMPLETED", tr, len(open), e.SHA256)
	}
	if tr.TokenAfter != http.StatusUnauthorized {
		t.Errorf("the data address's token answered %d once the transfer was completed; want 401", tr.TokenAfter)
	}
	if !rep.OK {
		t.Errorf("the container reports a step that did not end as expected: %+v", rep)
	}

	// Both decisions in Grand Est's audit trail, each with the policy's
	// answer.
	testkit.EventuallyNil(t, converge, "fr-grandest audits both negotiation decisions", func() error {
		var l struct {
			Records []struct {
				Details struct {
					Participant string   `json:"participant"`
					Dataset     string   `json:"dataset"`
					Purpose     string   `json:"purpose"`
					Allow       bool     `json:"allow"`
					Reasons     []string `json:"reasons"`
				} `json:"details"`
			} `json:"records"`
		}
		if err := fr.get(ctx, "/v1/audit?type=dsp.negotiation.decision&limit=1000", &l); err != nil {
			return err
		}
		got := map[string]bool{}
		for _, rec := range l.Records {
			d := rec.Details
			if d.Participant != "did:web:dataspace.testnet" || d.Purpose != "research" {
				continue
			}
			switch {
			case d.Dataset == openPub.ID && d.Allow:
				got["open"] = true
			case d.Dataset == icu.ID && !d.Allow && len(d.Reasons) > 0:
				got["refused"] = true
			}
		}
		if !got["open"] || !got["refused"] {
			return fmt.Errorf("decisions audited: %v of %d records", got, len(l.Records))
		}
		return nil
	})
}
