package tour

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/node/api"
)

// dataspace: Baden-Württemberg's researcher reaches Basel and Grand Est
// the way a dataspace connector would, over the Dataspace Protocol (each
// demo region lists the others as dataspace participants): Basel's
// catalogue with the offers its policy derives, Grand Est's personal
// health data out of reach, Basel's open data agreed and pulled, verified.
func (t *tour) dataspace(ctx context.Context) error {
	de := t.byName["de-bw"]
	alice, err := de.Researcher("alice@uni-freiburg.de", "Universität Freiburg")
	if err != nil {
		return err
	}
	const basel, grandEst, dataset = "urn:xborder:ch-basel", "urn:xborder:fr-grandest", "crop-yield-upper-rhine"
	t.p.Printf("\nDataspace Protocol (alice@uni-freiburg.de through de-bw, to Basel and Grand Est as dataspace participants):\n")

	st := t.p.Start("dsp.catalogue", de.Name)
	var cat dsp.Catalog
	if err := alice.Post(ctx, "/v1/dsp/catalogue", api.DataspaceCatalogRequest{Provider: basel}, &cat); err != nil {
		return st.Fail(fmt.Errorf("the DSP catalogue of Basel: %w", err))
	}
	var purposes []string
	for _, d := range cat.Dataset {
		if d.ID != dataset {
			continue
		}
		for _, o := range d.HasPolicy {
			for _, r := range o.Permission {
				for _, c := range r.Constraint {
					if p, ok := c.RightOperand.(string); ok && c.LeftOperand == dsp.LeftPurpose {
						purposes = append(purposes, p)
					}
				}
			}
		}
	}
	if len(purposes) == 0 {
		return st.Fail(fmt.Errorf("the DSP catalogue of Basel offers %s for no purpose", dataset))
	}
	st.OK(Figures{ID: basel, Count: len(cat.Dataset)})
	t.p.Printf("  Basel's catalogue for de-bw: %d dataset(s); %s offered for %s\n", len(cat.Dataset), dataset, strings.Join(purposes, ", "))

	st = t.p.Start("dsp.refused", de.Name)
	var n api.DataspaceNegotiation
	err = alice.Post(ctx, "/v1/dsp/negotiations", api.DataspaceNegotiateRequest{Provider: grandEst, Dataset: "icu-admissions-2025", Purpose: "research"}, &n)
	var denied *DeniedError
	var status *StatusError
	if !errors.As(err, &denied) && !errors.As(err, &status) {
		return st.Fail(fmt.Errorf("the personal health data of Grand Est should be out of a dataspace participant's reach, got %v", err))
	}
	st.OK(Figures{ID: "fr-grandest/icu-admissions-2025"})
	t.p.Printf("  Grand Est's ICU admissions: %s\n", indent(err))

	st = t.p.Start("dsp.agreed", de.Name)
	if err := alice.Post(ctx, "/v1/dsp/negotiations", api.DataspaceNegotiateRequest{Provider: basel, Dataset: dataset, Purpose: "research"}, &n); err != nil {
		return st.Fail(fmt.Errorf("negotiating %s: %w", dataset, err))
	}
	if n.State != string(dsp.NegFinalized) {
		return st.Fail(fmt.Errorf("the negotiation of %s is %s, not FINALIZED", dataset, n.State))
	}
	st.OK(Figures{ID: n.Agreement})
	t.p.Printf("  agreement %s with Basel for %s, purpose research, signed by Basel's node, valid until %s\n",
		n.Agreement, dataset, n.ValidUntil.Format("2006-01-02"))

	st = t.p.Start("dsp.fetched", de.Name)
	var tr api.DataspaceTransfer
	if err := alice.Post(ctx, "/v1/dsp/transfers", api.DataspaceTransferRequest{Agreement: n.Agreement}, &tr); err != nil {
		return st.Fail(fmt.Errorf("pulling %s: %w", dataset, err))
	}
	if tr.State != string(dsp.TPCompleted) {
		return st.Fail(fmt.Errorf("the transfer of %s is %s, not COMPLETED", dataset, tr.State))
	}
	st.OK(Figures{ID: tr.PID, Bytes: tr.Size})
	t.p.Printf("  HTTP-pull of %s: %d bytes, SHA-256 %s… verified, transfer COMPLETED at both ends\n", dataset, tr.Size, tr.SHA256[:16])
	return nil
}
