package exchange

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/testkit"
)

// storeOwn writes entries straight into a catalogue's store, as a catalogue
// kept from before the entry limits, or one filled faster than Publish
// would, holds them.
func storeOwn(t testing.TB, c *Catalogue, entries []Entry) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.db.Update(func(tx *bolt.Tx) error {
		for _, e := range entries {
			e, err := putOwn(tx, e)
			if err != nil {
				return err
			}
			c.setOwn(e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bigEntry is an own entry of n whose description is descBytes long.
func bigEntry(n *testNode, id string, descBytes int, keywords []string) Entry {
	now := time.Now().UTC().Truncate(time.Second)
	return Entry{ID: id, Kind: KindDataset, Title: "Dataset " + id, Description: strings.Repeat("d", descBytes),
		Owner: n.m.Name, Publisher: n.m.Org, Country: n.m.Country, Theme: "health", Classification: "open",
		Partners: []string{}, License: "CC-BY-4.0", Keywords: keywords, MediaType: "text/csv",
		Size: 8, SHA256: strings.Repeat("ab", 32), Issued: now, Modified: now}
}

func remoteCount(n *testNode) int { _, remote := n.cat.Counts(); return remote }

// A catalogue of entries within the limits whose sum exceeds the reader's
// frame cap used to be served as one page the owner could not send: the
// owner reset the stream without a word and the partner never synced.
func TestCatalogueSyncOfManyLargeEntriesIsPaged(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	keywords := make([]string, MaxKeywords)
	for i := range keywords {
		keywords[i] = fmt.Sprintf("%03d-%s", i, strings.Repeat("k", MaxKeywordBytes-4))
	}
	// As many entries as one page holds by count, each just under the
	// limits: together well over the frame cap.
	count := DefaultCatalogueConfig("d", "t").PageSize
	entries := make([]Entry, count)
	total := 0
	for i := range entries {
		entries[i] = bigEntry(fr, fmt.Sprintf("large-%04d", i), MaxDescriptionBytes-1, keywords)
		if probs := entryLimitProblems(entries[i]); len(probs) > 0 {
			t.Fatalf("test setup: the entry is over the limits: %v", probs)
		}
		total += encodedSize(entries[i])
	}
	if total <= maxDeltaFrame {
		t.Fatalf("test setup: %d bytes of entries do not exceed the frame cap %d", total, maxDeltaFrame)
	}
	storeOwn(t, fr.cat, entries)

	// The owner announces its version; the partner pulls it all.
	testkit.Eventually(t, 120*time.Second, fmt.Sprintf("de-bw syncs all %d entries (%d MB)", count, total>>20), func() bool {
		return remoteCount(de) == count
	})
	if ps := de.cat.Peers(); len(ps) != 1 || ps[0].LastError != "" || ps[0].Version != fr.cat.Version() {
		t.Fatalf("sync state %+v, owner at version %d", ps, fr.cat.Version())
	}
	got, err := de.cat.Get("fr-grandest", "large-0499")
	if err != nil || got.Description != entries[499].Description || len(got.Keywords) != MaxKeywords {
		t.Fatalf("last entry: %v (description %d bytes)", err, len(got.Description))
	}
}

// The case the probe found: 19 entries of 900 KB each, stored before the
// limits existed, stopped the partner's sync of every entry of the owner
// until they were withdrawn. Now they are served as withdrawn and the
// others sync.
func TestCatalogueOversizedLegacyEntriesDoNotJamTheSync(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	var legacy []Entry
	for i := range 19 {
		legacy = append(legacy, bigEntry(fr, fmt.Sprintf("legacy-%02d", i), 900<<10, []string{"old"}))
	}
	storeOwn(t, fr.cat, legacy)
	publish(t, fr, "air-quality", "open")
	testkit.Eventually(t, 60*time.Second, "de-bw syncs up to fr-grandest's version", func() bool {
		ps := de.cat.Peers()
		return len(ps) == 1 && ps[0].Version == fr.cat.Version()
	})
	if _, err := de.cat.Get("fr-grandest", "air-quality"); err != nil {
		t.Fatalf("the entry within the limits did not sync: %v", err)
	}
	if n := remoteCount(de); n != 1 {
		t.Fatalf("de-bw holds %d entries of fr-grandest, want only the one within the limits", n)
	}
	if ps := de.cat.Peers(); ps[0].LastError != "" {
		t.Fatalf("sync error %q", ps[0].LastError)
	}
}

// A partner that serves entries over the limits (an older or dishonest
// node) gets those entries refused one by one, a copy held before
// dropped, and the rest of its page stored.
func TestCatalogueRefusesPartnerEntriesOverTheLimits(t *testing.T) {
	nodes := newCatFederationWith(t, func(c *CatalogueConfig) { c.AnnounceEvery = time.Hour }, "fr-grandest", "de-bw")
	fr, de := nodes[0], nodes[1]
	// fr-grandest's host answers with pages it makes up.
	serve := func(version uint64, entries ...Entry) {
		fr.h.SetStreamHandler(CatalogueProtocol, func(s network.Stream) {
			defer s.Close()
			var req deltaRequest
			if err := frame.Read(s, maxAnnouncement, &req); err != nil {
				s.Reset()
				return
			}
			_ = frame.Write(s, maxDeltaFrame, deltaPage{Owner: "fr-grandest", Version: version, Entries: entries, Next: version})
		})
	}
	entry := func(id string, version uint64, descBytes int) Entry {
		e := bigEntry(fr, id, descBytes, []string{"k"})
		e.Version = version
		return e
	}
	ctx := context.Background()
	serve(2, entry("kept", 1, 100), entry("grown", 2, 100))
	if err := de.cat.Pull(ctx, fr.m); err != nil {
		t.Fatal(err)
	}
	if n := remoteCount(de); n != 2 {
		t.Fatalf("%d entries after the first pull, want 2", n)
	}
	// "grown" comes back with a 900 KB description, and an entry with an
	// ID no owner could publish comes with a new one.
	bad := entry("../../x", 4, 10)
	serve(5, entry("grown", 3, 900<<10), bad, entry("new", 5, 100))
	if err := de.cat.Pull(ctx, fr.m); err != nil {
		t.Fatalf("a page with entries over the limits failed the sync: %v", err)
	}
	for id, want := range map[string]bool{"kept": true, "new": true, "grown": false, "../../x": false} {
		if _, err := de.cat.Get("fr-grandest", id); (err == nil) != want {
			t.Errorf("entry %q held: %v, want %v", id, err == nil, want)
		}
	}
	if ps := de.cat.Peers(); len(ps) != 1 || ps[0].Version != 5 || ps[0].LastError != "" {
		t.Fatalf("sync state %+v", ps)
	}
	if n := remoteCount(de); n != 2 {
		t.Fatalf("%d entries held, want 2", n)
	}
}

func TestPublishRefusesEntriesOverTheLimits(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest")
	fr := nodes[0]
	base := Publication{ID: "x", Title: "t", Theme: "health", Classification: "open", FileName: "x.csv"}
	manyKeywords := make([]string, MaxKeywords+1)
	for i := range manyKeywords {
		manyKeywords[i] = fmt.Sprint(i)
	}
	for _, tc := range []struct {
		name, want string
		mutate     func(*Publication)
	}{
		{"title", "title: 513 bytes, limit 512 bytes", func(p *Publication) { p.Title = strings.Repeat("t", MaxTitleBytes+1) }},
		{"description", fmt.Sprintf("description: %d bytes, limit %d bytes", MaxDescriptionBytes+1, MaxDescriptionBytes),
			func(p *Publication) { p.Description = strings.Repeat("d", MaxDescriptionBytes+1) }},
		{"keyword count", "keywords: 65 items, limit 64", func(p *Publication) { p.Keywords = manyKeywords }},
		{"keyword length", "keywords[0]: 129 bytes, limit 128 bytes", func(p *Publication) { p.Keywords = []string{strings.Repeat("k", 129)} }},
		{"license", "license: 513 bytes, limit 512 bytes", func(p *Publication) { p.License = strings.Repeat("l", 513) }},
		{"model use", "model.intended_uses[0]: 1025 bytes, limit 1024 bytes", func(p *Publication) {
			p.Kind = KindModel
			p.Model = &ModelCard{Task: "segmentation", IntendedUses: []string{strings.Repeat("u", 1025)}}
		}},
		// Every field within its limit, the whole entry over MaxEntryBytes
		// (a description of characters JSON escapes six times over).
		{"whole entry", "entry: ", func(p *Publication) { p.Description = strings.Repeat("<", MaxDescriptionBytes) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.mutate(&p)
			_, err := fr.cat.Publish(context.Background(), p, strings.NewReader("a,b\n"))
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a validation error with %q", err, tc.want)
			}
		})
	}
	if own, _ := fr.cat.Counts(); own != 0 {
		t.Fatalf("%d entries published over the limits", own)
	}
}
