package exchange_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/policy"
)

// openPolicy shows every entry to every member and decides no request.
type openPolicy struct{}

func (openPolicy) CatalogueVisible(context.Context, policy.CatalogueInput) (bool, error) {
	return true, nil
}

func (openPolicy) Exchange(context.Context, policy.ExchangeInput) (policy.Decision, error) {
	return policy.Decision{}, nil
}

// aloneRegistry is a federation of one.
type aloneRegistry struct{}

func (aloneRegistry) MemberByPeer(peer.ID) (exchange.Member, bool) { return exchange.Member{}, false }
func (aloneRegistry) MemberByName(string) (exchange.Member, bool)  { return exchange.Member{}, false }
func (aloneRegistry) Project(string) (policy.Project, bool)        { return policy.Project{}, false }
func (aloneRegistry) Agreements(string) []policy.Agreement         { return nil }
func (aloneRegistry) Current() error                               { return nil }

// printedTrail prints the audit records.
type printedTrail struct{}

func (printedTrail) Record(typ, subject string, _ any) error {
	fmt.Println("audit:", typ, subject)
	return nil
}

// A node opens its catalogue on its libp2p host and data dir, publishes a
// dataset (the content is stored under its SHA-256, the publication is on
// the audit record) and finds it again.
func ExampleOpenCatalogue() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "xborder-catalogue")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	gossipCtx, stopGossip := context.WithCancel(ctx)
	defer stopGossip()
	ps, err := pubsub.NewGossipSub(gossipCtx, h)
	if err != nil {
		log.Fatal(err)
	}

	self := exchange.Member{Name: "fr-grandest", Country: "FR", Org: "Région Grand Est", PeerID: h.ID()}
	cfg := exchange.DefaultCatalogueConfig(dir, "/xborder/example/catalogue/1")
	cfg.PublicURL = "https://xborder.grandest.example"
	cat, err := exchange.OpenCatalogue(cfg, exchange.CatalogueDeps{
		Host: h, PubSub: ps, Self: self, Authz: openPolicy{}, Registry: aloneRegistry{}, Recorder: printedTrail{}})
	if err != nil {
		log.Fatal(err)
	}
	defer cat.Close()

	e, err := cat.Publish(ctx, exchange.Publication{ID: "air-quality", Title: "Air quality 2025", Theme: "health",
		Classification: "open", License: "CC-BY-4.0", Keywords: []string{"no2", "pm10"}, FileName: "air-quality.csv"},
		strings.NewReader("station,no2\nstrasbourg,21\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("published", e.Ref(), e.Size, "bytes,", e.MediaType)
	for _, l := range cat.Search(ctx, exchange.Filter{Q: "no2"}) {
		fmt.Println("found", l.Ref(), l.Title, l.SHA256[:12], "local:", l.Local)
	}
	// Output:
	// audit: catalogue.publish fr-grandest/air-quality
	// published fr-grandest/air-quality 26 bytes, text/csv; charset=utf-8
	// found fr-grandest/air-quality Air quality 2025 8624a5f646d8 local: true
}
