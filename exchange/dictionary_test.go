package exchange

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/testkit"
)

func icuDictionary() *tabular.Dictionary {
	return &tabular.Dictionary{Columns: []tabular.Column{
		{Name: "patient", Type: tabular.TypeText, Identifier: true},
		{Name: "age", Type: tabular.TypeInteger, Unit: "year"},
		{Name: "sex", Type: tabular.TypeCategorical, Levels: []string{"F", "M"}},
		{Name: "days", Type: tabular.TypeNumber, Unit: "d", Description: "length of stay"},
	}}
}

func TestDatasetEntriesCarryAValidDictionary(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	base := Publication{ID: "icu-2025", Title: "ICU admissions", Theme: "health", Classification: "sensitive", FileName: "icu.csv"}
	wide := &tabular.Dictionary{}
	for i := range tabular.MaxColumns {
		wide.Columns = append(wide.Columns, tabular.Column{Name: fmt.Sprintf("c%d", i), Type: tabular.TypeNumber,
			Description: strings.Repeat("d", 300)})
	}
	for _, tc := range []struct {
		name, want string
		mutate     func(*Publication)
	}{
		{"bad type", `dictionary: column "age": unknown type "int"`, func(p *Publication) {
			p.Dictionary = icuDictionary()
			p.Dictionary.Columns[1].Type = "int"
		}},
		{"every problem", `dictionary: column "sex": level "F" appears twice; dictionary: column "sex": the name appears twice`, func(p *Publication) {
			p.Dictionary = icuDictionary()
			p.Dictionary.Columns[1] = tabular.Column{Name: "sex", Type: tabular.TypeCategorical, Levels: []string{"F", "F"}}
		}},
		{"no columns", "dictionary: no columns", func(p *Publication) { p.Dictionary = &tabular.Dictionary{} }},
		{"model", "dictionary: only a dataset entry carries a data dictionary", func(p *Publication) {
			p.Kind, p.Model, p.Dictionary = KindModel, &ModelCard{Task: "triage"}, icuDictionary()
		}},
		{"over the entry size", "entry: ", func(p *Publication) { p.Dictionary = wide }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.mutate(&p)
			_, err := fr.cat.Publish(context.Background(), p, strings.NewReader("patient,age,sex,days\n"))
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Publish: %v, want a *ValidationError saying %q", err, tc.want)
			}
		})
	}
	if _, err := fr.cat.Get("fr-grandest", "icu-2025"); err == nil {
		t.Fatal("a refused publication was stored")
	}

	// A valid dictionary travels with the entry to the other members.
	p := base
	p.Dictionary = icuDictionary()
	e, err := fr.cat.Publish(context.Background(), p, strings.NewReader("patient,age,sex,days\nP1,54,F,3.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	p.Dictionary.Columns[2].Levels[0] = "changed after publishing"
	if !reflect.DeepEqual(e.Dictionary, icuDictionary()) {
		t.Fatalf("published dictionary: %+v", e.Dictionary)
	}
	testkit.Eventually(t, 20*time.Second, "de-bw sees the dictionary", func() bool {
		l, err := de.cat.Get("fr-grandest", "icu-2025")
		return err == nil && reflect.DeepEqual(l.Dictionary, icuDictionary())
	})
}

// An entry whose dictionary is invalid (from an older or dishonest node)
// is refused on receipt like an entry over the limits.
func TestCatalogueRefusesPartnerEntriesWithABadDictionary(t *testing.T) {
	nodes := newCatFederationWith(t, func(c *CatalogueConfig) { c.AnnounceEvery = time.Hour }, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	good := bigEntry(fr, "good", 10, []string{"k"})
	good.Dictionary, good.Version = icuDictionary(), 1
	bad := bigEntry(fr, "bad", 10, []string{"k"})
	bad.Dictionary, bad.Version = icuDictionary(), 2
	bad.Dictionary.Columns[0].Identifier = false // text is for identifiers only
	model := bigEntry(fr, "model", 10, []string{"k"})
	model.Kind, model.Model, model.Dictionary, model.Version = KindModel, &ModelCard{Task: "t"}, icuDictionary(), 3
	fr.h.SetStreamHandler(CatalogueProtocol, func(s network.Stream) {
		defer s.Close()
		var req deltaRequest
		if err := frame.Read(s, maxAnnouncement, &req); err != nil {
			s.Reset()
			return
		}
		_ = frame.Write(s, maxDeltaFrame, deltaPage{Owner: "fr-grandest", Version: 3, Entries: []Entry{good, bad, model}, Next: 3})
	})
	if err := de.cat.Pull(context.Background(), fr.m); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"good": true, "bad": false, "model": false} {
		if _, err := de.cat.Get("fr-grandest", id); (err == nil) != want {
			t.Errorf("entry %q held: %v, want %v", id, err == nil, want)
		}
	}
}
