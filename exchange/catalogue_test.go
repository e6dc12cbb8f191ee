package exchange

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/policy"
)

// catAuthz shows confidential entries only to their named partners, as
// the shipped catalogue policy does.
type catAuthz struct{}

func (catAuthz) CatalogueVisible(_ context.Context, in policy.CatalogueInput) (bool, error) {
	if in.Entry.Classification != "confidential" {
		return true, nil
	}
	return slices.Contains(in.Entry.Partners, in.Requester.Node), nil
}

func (catAuthz) Exchange(context.Context, policy.ExchangeInput) (policy.Decision, error) {
	return policy.Decision{}, nil
}

// catRegistry knows the members of a test federation.
type catRegistry struct{ members map[peer.ID]Member }

func (r catRegistry) MemberByPeer(p peer.ID) (Member, bool) { m, ok := r.members[p]; return m, ok }
func (catRegistry) Project(string) (policy.Project, bool)   { return policy.Project{}, false }
func (catRegistry) Agreements(string) []policy.Agreement    { return nil }
func (catRegistry) Current() error                          { return nil }

type catNode struct {
	m   Member
	h   host.Host
	ps  *pubsub.PubSub
	cat *Catalogue
}

func newCatFederation(t testing.TB, names ...string) []*catNode {
	t.Helper()
	return newCatFederationWith(t, nil, names...)
}

// newCatFederationWith starts a federation whose catalogue configuration
// tune adjusts.
func newCatFederationWith(t testing.TB, tune func(*CatalogueConfig), names ...string) []*catNode {
	t.Helper()
	reg := catRegistry{members: map[peer.ID]Member{}}
	var nodes []*catNode
	countries := []string{"FR", "DE", "CH", "BE", "LU"}
	for i, name := range names {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		pk, _ := crypto.UnmarshalEd25519PrivateKey(k)
		h, err := libp2p.New(libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		m := Member{Name: name, Country: countries[i%len(countries)], Org: "Org " + name, PeerID: h.ID()}
		reg.members[h.ID()] = m
		nodes = append(nodes, &catNode{m: m, h: h})
	}
	// Small federations are fully meshed; large ones connect each node to
	// its next six on a ring (gossip spreads announcements, pulls dial the
	// owner directly), as a real federation's partial connectivity would.
	for i, n := range nodes {
		for _, o := range nodes {
			n.h.Peerstore().AddAddrs(o.h.ID(), o.h.Addrs(), time.Hour)
		}
		for j := 1; j < len(nodes); j++ {
			if len(nodes) > 10 && j > 6 {
				break
			}
			o := nodes[(i+j)%len(nodes)]
			if err := n.h.Connect(context.Background(), peer.AddrInfo{ID: o.h.ID(), Addrs: o.h.Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Gossip lives until the test's cleanup cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	for _, n := range nodes {
		ps, err := pubsub.NewGossipSub(ctx, n.h)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultCatalogueConfig(t.TempDir(), "/xborder/test/catalogue")
		cfg.AnnounceEvery = 200 * time.Millisecond
		if tune != nil {
			tune(&cfg)
		}
		n.ps = ps
		n.cat, err = OpenCatalogue(cfg, n.h, ps, n.m, catAuthz{}, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every member's connections close before any host does: a host that
	// closes while members still send it identify pushes (each catalogue's
	// Close changes its protocols) can stall in libp2p's event bus, as seen
	// with 50 members.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() { _ = n.cat.Close() })
		}
		wg.Wait()
		for _, n := range nodes {
			wg.Go(func() { _ = n.h.Network().Close() })
		}
		wg.Wait()
		for _, n := range nodes {
			wg.Go(func() { _ = n.h.Close() })
		}
		wg.Wait()
		cancel()
	})
	return nodes
}

func publish(t testing.TB, n *catNode, id, class string, partners ...string) Entry {
	t.Helper()
	e, err := n.cat.Publish(context.Background(), Publication{ID: id, Title: "Dataset " + id, Description: "about " + id,
		Theme: "health", Classification: class, Partners: partners, License: "CC-BY-4.0", Keywords: []string{"icu"}, FileName: id + ".csv"},
		strings.NewReader("a,b\n1,2\n"+id))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCatalogueConvergesWithPolicyFiltering(t *testing.T) {
	nodes := newCatFederation(t, "fr-grandest", "de-bw", "ch-basel")
	fr, de, ch := nodes[0], nodes[1], nodes[2]
	open := publish(t, fr, "air-quality", "open")
	if open.SHA256 == "" || open.Size == 0 || open.MediaType != "text/csv; charset=utf-8" || open.Country != "FR" {
		t.Fatalf("published entry %+v", open)
	}
	publish(t, fr, "oncology-cohort", "confidential", "de-bw")
	publish(t, de, "machine-sensors", "restricted")

	waitFor(t, 20*time.Second, "de-bw sees both FR entries", func() bool {
		_, err1 := de.cat.Get("fr-grandest", "air-quality")
		_, err2 := de.cat.Get("fr-grandest", "oncology-cohort")
		return err1 == nil && err2 == nil
	})
	waitFor(t, 20*time.Second, "ch-basel sees the open FR entry and the DE one", func() bool {
		_, err1 := ch.cat.Get("fr-grandest", "air-quality")
		_, err2 := ch.cat.Get("de-bw", "machine-sensors")
		return err1 == nil && err2 == nil
	})
	if _, err := ch.cat.Get("fr-grandest", "oncology-cohort"); err == nil {
		t.Fatal("a confidential entry reached a partner it does not name")
	}
	// Search and filters over the federation catalogue.
	if got := de.cat.Search(Filter{Q: "oncology"}); len(got) != 1 || got[0].Ref() != "fr-grandest/oncology-cohort" {
		t.Fatalf("search: %+v", got)
	}
	if got := ch.cat.Search(Filter{Country: "FR"}); len(got) != 1 || got[0].FetchedAt.IsZero() {
		t.Fatalf("filter by country: %+v", got)
	}

	// Withdrawal and a change of classification propagate.
	if _, err := fr.cat.Withdraw(context.Background(), "air-quality"); err != nil {
		t.Fatal(err)
	}
	publish(t, fr, "oncology-cohort", "confidential", "ch-basel")
	waitFor(t, 20*time.Second, "the withdrawal and the new partner propagate", func() bool {
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
	waitFor(t, 20*time.Second, "de-bw caches FR's entries", func() bool { _, remote := de.cat.Counts(); return remote == 3 })
	_ = fr.cat.Close()
	_ = fr.h.Close()
	if got := de.cat.Search(Filter{Owner: "fr-grandest"}); len(got) != 3 {
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
	waitFor(t, 20*time.Second, "the first pull fails", func() bool {
		ps := de.cat.Peers()
		return len(ps) == 1 && ps[0].LastError != ""
	})
	fr.h.SetStreamHandler(CatalogueProtocol, fr.cat.serveDelta)
	waitFor(t, 20*time.Second, "a retry fetches the entry", func() bool {
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
	waitFor(t, 20*time.Second, "the observer joins the topic", func() bool {
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
	cat := ch.cat.DCAT("https://xborder.basel.example")
	if cat.Type != "dcat:Catalog" || len(cat.Datasets) != 1 {
		t.Fatalf("catalog %+v", cat)
	}
	d := cat.Datasets[0]
	if d.Identifier != "ch-basel/crop-yield" || d.Theme != "http://publications.europa.eu/resource/authority/data-theme/HEAL" ||
		d.Spatial != "http://publications.europa.eu/resource/authority/country/FRA" ||
		d.Distribution[0].Checksum.Value != open.SHA256 || d.Distribution[0].ByteSize != open.Size {
		t.Fatalf("dataset %+v", d)
	}
}

func FuzzCatalogueMessages(f *testing.F) {
	f.Add([]byte(`{"node":"fr-grandest","version":3,"digest":"ab"}`))
	f.Add([]byte(`{"owner":"fr-grandest","version":2,"entries":[{"id":"x","owner":"y","version":1}],"next":2,"more":false}`))
	f.Add([]byte(`{"since":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a announcement
		_ = decodeExchangeJSON(data, &a)
		var p deltaPage
		_ = decodeExchangeJSON(data, &p)
		var r deltaRequest
		_ = decodeExchangeJSON(data, &r)
		var framed bytes.Buffer
		_ = writeExchangeFrame(&framed, 64, json.RawMessage(`{"since":1}`))
		_ = readExchangeFrame(bytes.NewReader(append(framed.Bytes(), data...)), 64, &r)
		_ = readExchangeFrame(bytes.NewReader(data), 64, &r)
	})
}
