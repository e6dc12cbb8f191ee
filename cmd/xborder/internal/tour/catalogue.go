package tour

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

// datasets are generated sample datasets for the three themes.
var datasets = []struct {
	owner string
	pub   exchange.Publication
	rows  func(i int) string
}{
	{"fr-grandest", exchange.Publication{ID: "icu-admissions-2025", Title: "ICU admissions 2025, Grand Est hospitals",
		Description: "Daily intensive-care admissions by hospital and age band (synthetic sample).", Theme: "health",
		Classification: "sensitive", PersonalData: true, License: "CC-BY-NC-4.0", Keywords: []string{"icu", "hospital", "covid"}},
		func(i int) string {
			return fmt.Sprintf("2025-01-%02d,CHU-%d,%d-%d,%d\n", i%28+1, i%7, (i%9)*10, (i%9)*10+9, i%13)
		}},
	{"de-bw", exchange.Publication{ID: "machine-sensor-logs", Title: "Machine sensor logs, Stuttgart plants",
		Description: "Vibration and temperature of CNC machines for predictive maintenance (synthetic sample).", Theme: "industry",
		Classification: "restricted", License: "DL-DE-BY-2.0", Keywords: []string{"sensors", "maintenance"}},
		func(i int) string {
			return fmt.Sprintf("%d,cnc-%d,%.2f,%.1f\n", 1735689600+i*60, i%12, float64(i%97)/10, 40+float64(i%23)/2)
		}},
	{"ch-basel", exchange.Publication{ID: "crop-yield-upper-rhine", Title: "Crop yield, Upper Rhine plain",
		Description: "Yearly yield per parcel and crop for bioeconomy models (synthetic sample).", Theme: "bioeconomy",
		Classification: "open", License: "CC-BY-4.0", Keywords: []string{"agriculture", "yield"}},
		func(i int) string {
			return fmt.Sprintf("parcel-%d,%s,%d,%.2f\n", i, []string{"maize", "wheat", "rapeseed"}[i%3], 2015+i%10, 5+float64(i%40)/10)
		}},
}

// catalogue publishes the sample datasets and shows the federation
// catalogue from Luxembourg, which holds none of them.
func (t *tour) catalogue(ctx context.Context) error {
	t.p.Printf("\nCatalogue:\n")
	for _, d := range datasets {
		st := t.p.Start("dataset.publish", d.owner)
		path := filepath.Join(t.dir, d.pub.ID+".csv")
		var b strings.Builder
		for i := range 2000 {
			b.WriteString(d.rows(i))
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			return st.Fail(err)
		}
		var e exchange.Entry
		if err := t.byName[d.owner].Admin.Upload(ctx, "/v1/datasets", d.pub, path, &e); err != nil {
			return st.Fail(fmt.Errorf("%s publishes %s: %w", d.owner, d.pub.ID, err))
		}
		st.OK(Figures{ID: e.Ref(), Bytes: e.Size})
		t.p.Printf("  %s published %s (%s, %s, %d bytes)\n", d.owner, e.Ref(), e.Theme, e.Classification, e.Size)
	}
	lu := t.byName["lu-luxembourg"]
	st := t.p.Start("catalogue.sync", lu.Name)
	var l api.CatalogueList
	// A partner pulls an owner's catalogue when the owner announces it on
	// gossip; the API has no read that blocks until a sync, hence Retry.
	err := Retry(ctx, replicaWait, DefaultBackoff, func() (bool, error) {
		l = api.CatalogueList{}
		if err := lu.Admin.Get(ctx, "/v1/catalogue", &l); err != nil {
			return false, err
		}
		return len(l.Entries) == len(datasets), nil
	})
	if errors.Is(err, ErrGaveUp) {
		err = fmt.Errorf("lu-luxembourg sees %d of %d entries after 30s", len(l.Entries), len(datasets))
	}
	if err != nil {
		return st.Fail(err)
	}
	st.OK(Figures{Count: len(l.Entries)})
	t.p.Printf("  the federation catalogue as lu-luxembourg sees it:\n")
	for _, e := range l.Entries {
		t.p.Printf("    %-36s %-2s %-10s %-12s %s\n", e.Ref(), e.Country, e.Theme, e.Classification, e.Title)
	}
	return nil
}
