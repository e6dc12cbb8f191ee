package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// BenchmarkCatalogueConvergence publishes on one node and measures the
// time until the entry is visible on every other node, with 5 and 50
// in-process members on loopback (at 50 each member starts connected to
// six others; pulls dial the owner). Run with -benchtime=1x; -bench
// 'BenchmarkCatalogueConvergence/nodes=5$' runs the small case alone.
func BenchmarkCatalogueConvergence(b *testing.B) {
	for _, size := range []int{5, 50} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			names := make([]string, size)
			for i := range names {
				names[i] = fmt.Sprintf("m%02d", i)
			}
			nodes := newCatFederation(b, names...)
			testkit.Eventually(b, 60*time.Second, "gossip mesh", func() bool {
				for _, n := range nodes {
					if len(n.ps.ListPeers("/xborder/test/catalogue")) < min(size-1, 4) {
						return false
					}
				}
				return true
			})
			const publishes = 20
			var lat []time.Duration
			for b.Loop() {
				lat = lat[:0]
				for i := range publishes {
					pub := nodes[i%size]
					id := fmt.Sprintf("conv-%d-%d", i, time.Now().UnixNano())
					t0 := time.Now()
					publish(b, pub, id, "open")
					for _, n := range nodes {
						if n == pub {
							continue
						}
						testkit.Eventually(b, 30*time.Second, "convergence", func() bool { _, err := n.cat.Get(pub.m.Name, id); return err == nil })
					}
					lat = append(lat, time.Since(t0))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99_ms")
		})
	}
}

// BenchmarkCatalogueListing10k measures what GET /v1/catalogue does with
// 10 000 entries in the catalogue: the unfiltered listing (entries encoded
// ahead of time), and a filtered search encoded per request.
func BenchmarkCatalogueListing10k(b *testing.B) {
	nodes := newCatFederation(b, "fr-grandest")
	c := nodes[0].cat
	for i := range 10_000 {
		_, err := c.Publish(context.Background(), Publication{ID: fmt.Sprintf("ds-%05d", i), Title: "Dataset " + fmt.Sprint(i),
			Description: "sensor data from plant " + fmt.Sprint(i%50), Theme: Themes[i%3], Classification: "open", Keywords: []string{"k"}},
			strings.NewReader(fmt.Sprint(i)))
		if err != nil {
			b.Fatal(err)
		}
	}
	var all []Listing
	if err := json.Unmarshal(c.ListingJSON(context.Background()), &all); err != nil || len(all) != 10_000 {
		b.Fatalf("listing: %d entries, %v", len(all), err)
	}
	var listAll, filtered []time.Duration
	for b.Loop() {
		t0 := time.Now()
		_, _ = io.Discard.Write(c.ListingJSON(context.Background()))
		listAll = append(listAll, time.Since(t0))
		t0 = time.Now()
		raw, _ := json.Marshal(c.Search(context.Background(), Filter{Theme: "health", Q: "plant 7"}))
		_, _ = io.Discard.Write(raw)
		filtered = append(filtered, time.Since(t0))
	}
	med := func(d []time.Duration) float64 { slices.Sort(d); return float64(d[len(d)/2].Microseconds()) / 1000 }
	b.ReportMetric(med(listAll), "all_ms")
	b.ReportMetric(med(filtered), "filtered_ms")
}
