package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/policy"
)

func TestCatalogueConvergesWithPolicyFiltering(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw", "ch-basel")
	fr, de, ch := nodes[0], nodes[1], nodes[2]
	open := publish(t, fr, "air-quality", "open")
	if open.SHA256 == "" || open.Size == 0 || open.MediaType != "text/csv; charset=utf-8" || open.Country != "FR" {
		t.Fatalf("published entry %+v", open)
	}
	publish(t, fr, "oncology-cohort", "confidential", "de-bw")
	publish(t, de, "machine-sensors", "restricted")

	testkit.Eventually(t, 20*time.Second, "de-bw sees both FR entries", func() bool {
		_, err1 := de.cat.Get("fr-grandest", "air-quality")
		_, err2 := de.cat.Get("fr-grandest", "oncology-cohort")
		return err1 == nil && err2 == nil
	})
	testkit.Eventually(t, 20*time.Second, "ch-basel sees the open FR entry and the DE one", func() bool {
		_, err1 := ch.cat.Get("fr-grandest", "air-quality")
		_, err2 := ch.cat.Get("de-bw", "machine-sensors")
		return err1 == nil && err2 == nil
	})
	if _, err := ch.cat.Get("fr-grandest", "oncology-cohort"); err == nil {
		t.Fatal("a confidential entry reached a partner it does not name")
	}
	// Search and filters over the federation catalogue.
	if got := de.cat.Search(context.Background(), Filter{Q: "oncology"}); len(got) != 1 || got[0].Ref() != "fr-grandest/oncology-cohort" {
		t.Fatalf("search: %+v", got)
	}
	if got := ch.cat.Search(context.Background(), Filter{Country: "FR"}); len(got) != 1 || got[0].FetchedAt.IsZero() {
		t.Fatalf("filter by country: %+v", got)
	}

	// Withdrawal and a change of classification propagate.
	if _, err := fr.cat.Withdraw(context.Background(), "air-quality"); err != nil {
		t.Fatal(err)
	}
	publish(t, fr, "oncology-cohort", "confidential", "ch-basel")
	testkit.Eventually(t, 20*time.Second, "the withdrawal and the new partner propagate", func() bool {
		_, gone := de.cat.Get("fr-grandest", "air-quality")
		_, hidden := de.cat.Get("fr-grandest", "oncology-cohort")
		_, shown := ch.cat.Get("fr-grandest", "oncology-cohort")
		return gone != nil && hidden != nil && shown == nil
	})
}

func TestCatalogueCacheSurvivesAnOfflineOwner(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	for i := range 3 {
		publish(t, fr, fmt.Sprintf("ds-%d", i), "open")
	}
	testkit.Eventually(t, 20*time.Second, "de-bw caches FR's entries", func() bool { _, remote := de.cat.Counts(); return remote == 3 })
	_ = fr.cat.Close()
	_ = fr.h.Close()
	if got := de.cat.Search(context.Background(), Filter{Owner: "fr-grandest"}); len(got) != 3 {
		t.Fatalf("cache lost while the owner is offline: %d entries", len(got))
	}
	if ps := de.cat.Peers(); len(ps) != 1 || ps[0].SyncedAt.IsZero() {
		t.Fatalf("peer state %+v", ps)
	}
}

func TestCataloguePullIsRetriedAfterAFailure(t *testing.T) {
	// No re-announcement during the test: only the retry can fetch.
	nodes := newCatFederationWith(t, func(c *CatalogueConfig) { c.AnnounceEvery = time.Hour }, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	fr.h.RemoveStreamHandler(CatalogueProtocol)
	publish(t, fr, "air-quality", "open")
	de.cat.PullAsync(fr.m)
	testkit.Eventually(t, 20*time.Second, "the first pull fails", func() bool {
		ps := de.cat.Peers()
		return len(ps) == 1 && ps[0].LastError != ""
	})
	fr.h.SetStreamHandler(CatalogueProtocol, fr.cat.serveDelta)
	testkit.Eventually(t, 20*time.Second, "a retry fetches the entry", func() bool {
		_, err := de.cat.Get("fr-grandest", "air-quality")
		return err == nil
	})
}

func TestCatalogueReannouncementsSlowDown(t *testing.T) {
	const every = 100 * time.Millisecond
	nodes := newCatFederationWith(t, func(c *CatalogueConfig) { c.AnnounceEvery = every }, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	// A plain gossip peer on the topic observes the announcements.
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(func() { cancel(); _ = h.Close() })
	for _, n := range nodes {
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := pubsub.NewGossipSub(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join("/xborder/test/catalogue")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	testkit.Eventually(t, 20*time.Second, "the observer joins the topic", func() bool {
		return len(fr.ps.ListPeers("/xborder/test/catalogue")) == 2 && len(topic.ListPeers()) == 2
	})
	publish(t, fr, "air-quality", "open")
	var at []time.Time
	for len(at) < 6 {
		msg, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("%d announcements of fr-grandest seen: %v", len(at), err)
		}
		switch from, _ := peer.IDFromBytes(msg.From); from {
		case de.h.ID():
			t.Fatal("an empty catalogue was re-announced")
		case fr.h.ID():
			at = append(at, time.Now())
		}
	}
	// At a fixed rate the gaps would stay near every; backing off, the
	// sixth announcement comes at least 4 intervals after the fifth.
	if gap := at[5].Sub(at[4]); gap < 4*every {
		t.Fatalf("re-announcements of an unchanged version did not slow down: %v apart (every %v)", gap, every)
	}
}

func TestJittered(t *testing.T) {
	for range 1000 {
		if d := jittered(time.Second); d < 750*time.Millisecond || d > 1250*time.Millisecond {
			t.Fatalf("jittered(1s) = %v", d)
		}
	}
	if jittered(0) != 0 {
		t.Fatal("jittered(0) != 0")
	}
}

func TestPublicationValidation(t *testing.T) {
	for _, p := range []Publication{
		{ID: "Bad ID", Title: "t", Theme: "health", Classification: "open"},
		{ID: "x", Title: "", Theme: "health", Classification: "open"},
		{ID: "x", Title: "t", Theme: "tourism", Classification: "open"},
		{ID: "x", Title: "t", Theme: "health", Classification: "secret"},
		{ID: "x", Title: "t", Theme: "health", Classification: "confidential"},
		{ID: "x", Title: "t", Theme: "health", Classification: "open", Kind: "notebook"},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("accepted %+v", p)
		}
	}
}

func TestDCATExportListsOpenEntriesWithChecksums(t *testing.T) {
	nodes := newCatFederation(t, "ch-basel")
	ch := nodes[0]
	open := publish(t, ch, "crop-yield", "open")
	publish(t, ch, "patients", "sensitive")
	nt, err := ch.cat.DCAT(context.Background()).NTriples()
	if err != nil {
		t.Fatal(err)
	}
	ds := "<https://ch-basel.example.org/datasets/ch-basel/crop-yield>"
	dist := "<https://ch-basel.example.org/datasets/ch-basel/crop-yield#distribution>"
	for _, want := range []string{
		"<https://ch-basel.example.org/v1/dcat> <http://www.w3.org/ns/dcat#dataset> " + ds + " .",
		ds + " <http://purl.org/dc/terms/identifier> \"ch-basel/crop-yield\" .",
		ds + " <http://www.w3.org/ns/dcat#theme> <http://publications.europa.eu/resource/authority/data-theme/HEAL> .",
		ds + " <http://purl.org/dc/terms/spatial> <http://publications.europa.eu/resource/authority/country/CHE> .",
		ds + " <http://purl.org/dc/terms/publisher> <https://ch-basel.example.org/publishers/ch-basel> .",
		dist + " <http://www.w3.org/ns/dcat#byteSize> \"" + strconv.FormatInt(open.Size, 10) + "\"^^<http://www.w3.org/2001/XMLSchema#nonNegativeInteger> .",
		dist + " <http://www.w3.org/ns/dcat#mediaType> <https://www.iana.org/assignments/media-types/text/csv> .",
		dist + " <http://purl.org/dc/terms/license> <http://publications.europa.eu/resource/authority/licence/CC_BY_4_0> .",
		"<http://spdx.org/rdf/terms#checksumValue> \"" + open.SHA256 + "\"^^<http://www.w3.org/2001/XMLSchema#hexBinary> .",
	} {
		if !strings.Contains(string(nt), want+"\n") {
			t.Errorf("no %s in\n%s", want, nt)
		}
	}
	if strings.Contains(string(nt), "patients") {
		t.Errorf("a sensitive entry is in the public catalogue:\n%s", nt)
	}
}

func FuzzCatalogueMessages(f *testing.F) {
	f.Add([]byte(`{"node":"fr-grandest","version":3,"digest":"ab"}`))
	f.Add([]byte(`{"owner":"fr-grandest","version":2,"entries":[{"id":"x","owner":"y","version":1}],"next":2,"more":false}`))
	f.Add([]byte(`{"since":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a announcement
		_ = frame.Decode(data, &a)
		var p deltaPage
		_ = frame.Decode(data, &p)
		var r deltaRequest
		_ = frame.Decode(data, &r)
		var framed bytes.Buffer
		_ = frame.Write(&framed, 64, json.RawMessage(`{"since":1}`))
		_ = frame.Read(bytes.NewReader(append(framed.Bytes(), data...)), 64, &r)
		_ = frame.Read(bytes.NewReader(data), 64, &r)
	})
}

// An open entry's own graph is served at its IRI, a partner's included;
// a protected entry is ErrNotFound like an unknown one.
func TestDatasetDCATOnlyForOpenEntries(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	publish(t, de, "air", "open")
	publish(t, de, "icu", "restricted", "fr-grandest")
	publish(t, fr, "beds", "sensitive")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fr.cat.Pull(ctx, de.m); err != nil {
		t.Fatal(err)
	}
	g, l, err := fr.cat.DatasetDCAT(ctx, "de-bw", "air")
	if err != nil || l.Owner != "de-bw" {
		t.Fatalf("de-bw/air: %v %+v", err, l)
	}
	nt, err := g.NTriples()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<https://fr-grandest.example.org/datasets/de-bw/air> <http://purl.org/dc/terms/publisher> <https://fr-grandest.example.org/publishers/de-bw> .\n",
		"<https://fr-grandest.example.org/datasets/de-bw/air> <http://www.w3.org/ns/dcat#landingPage> <https://fr-grandest.example.org/datasets/de-bw/air?format=html> .\n",
	} {
		if !strings.Contains(string(nt), want) {
			t.Errorf("de-bw/air's graph lacks %s:\n%s", want, nt)
		}
	}
	if strings.Contains(string(nt), "dcat#Catalog") {
		t.Errorf("an entry's graph describes a catalogue:\n%s", nt)
	}
	if _, err := fr.cat.Get("de-bw", "icu"); err != nil {
		t.Fatalf("the restricted entry shared with fr-grandest did not sync: %v", err)
	}
	for _, ref := range [][2]string{{"de-bw", "icu"}, {"fr-grandest", "beds"}, {"de-bw", "nothing"}} {
		if _, _, err := fr.cat.DatasetDCAT(ctx, ref[0], ref[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s/%s: %v, want ErrNotFound", ref[0], ref[1], err)
		}
	}
	// Once its owner lists it publicly, the sensitive entry answers, with
	// its access rights and how to ask, and no download.
	if _, err := fr.cat.Publish(ctx, Publication{ID: "beds", Title: "Beds", Theme: "health", Classification: "sensitive",
		PublicListing: true, FileName: "beds.csv"}, strings.NewReader("a\n1\n")); err != nil {
		t.Fatal(err)
	}
	g, l, err = fr.cat.DatasetDCAT(ctx, "fr-grandest", "beds")
	if err != nil || !l.PublicListing {
		t.Fatalf("listed fr-grandest/beds: %v %+v", err, l)
	}
	if nt, err = g.NTriples(); err != nil {
		t.Fatal(err)
	}
	beds := "<https://fr-grandest.example.org/datasets/fr-grandest/beds"
	for _, want := range []string{
		beds + "> <http://purl.org/dc/terms/accessRights> <http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC> .\n",
		beds + "#distribution> <http://www.w3.org/ns/dcat#accessURL> " + beds + "?format=html> .\n",
		"xborder request fr-grandest/beds --purpose PURPOSE",
	} {
		if !strings.Contains(string(nt), want) {
			t.Errorf("fr-grandest/beds's graph lacks %s:\n%s", want, nt)
		}
	}
	if strings.Contains(string(nt), "checksum") || strings.Contains(string(nt), "/v1/catalogue/") {
		t.Errorf("a protected entry's graph offers its content or digest:\n%s", nt)
	}
}

// The shipped catalogue policy shows the public what the test fake does:
// open entries, restricted and sensitive ones their owner lists (personal
// data included), never confidential or unlisted ones.
func TestCataloguePublicVisibilityOfTheShippedPolicy(t *testing.T) {
	ctx := context.Background()
	engine, err := policy.NewEngine(ctx, "../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	for _, c := range Classifications {
		for _, listed := range []bool{false, true} {
			for _, personal := range []bool{false, true} {
				e := Entry{ID: "x", Owner: "fr-grandest", Kind: KindDataset, Classification: c, Theme: "health",
					Partners: []string{"de-bw"}, PersonalData: personal, PublicListing: listed}
				got, err := engine.CatalogueVisible(ctx, publicInput(e))
				if err != nil {
					t.Fatal(err)
				}
				want, _ := (&testAuthz{}).CatalogueVisible(ctx, publicInput(e))
				if got != want {
					t.Errorf("%s listed=%v personal=%v: the public sees it %v, want %v", c, listed, personal, got, want)
				}
				// A member's view does not depend on the flag.
				m := Member{Name: "lu-luxembourg", Country: "LU"}
				member, err := engine.CatalogueVisible(ctx, visibleInput(m, e))
				if err != nil {
					t.Fatal(err)
				}
				if member != (c != "confidential") {
					t.Errorf("%s listed=%v: lu-luxembourg sees it %v", c, listed, member)
				}
			}
		}
	}
}
