package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
)

func TestCatalogueConvergesAcrossTheFederationThroughThePolicy(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "full mesh", fullMesh(nodes))
	ctx := context.Background()
	fr, de, lu := nodes[0], nodes[1], nodes[4]
	pub := func(n *Node, id, class string, partners ...string) {
		t.Helper()
		_, err := n.catalogue.Publish(ctx, exchange.Publication{ID: id, Title: "Title " + id, Theme: "health", Classification: class,
			Partners: partners, FileName: id + ".csv"}, strings.NewReader("x,y\n1,2\n"))
		must(t, err)
	}
	pub(fr, "icu-admissions", "sensitive")
	pub(fr, "oncology-images", "confidential", "de-bw")
	pub(de, "machine-sensors", "restricted")
	for _, n := range nodes {
		// Others see FR's sensitive entry and DE's; DE sees FR's two (the
		// confidential one names it); FR sees DE's.
		want := map[*Node]int{fr: 1, de: 2}[n]
		if want == 0 {
			want = 2
		}
		testkit.Eventually(t, 30*time.Second, n.cfg.Name+" converges", func() bool {
			_, remote := n.catalogue.Counts()
			return remote == want
		})
	}
	if _, err := lu.catalogue.Entry(ctx, "fr-grandest", "oncology-images"); err == nil {
		t.Fatal("a confidential entry reached a partner it does not name")
	}
	if got := de.catalogue.Search(ctx, exchange.Filter{Owner: "fr-grandest"}); len(got) != 2 {
		t.Fatalf("de-bw sees %d FR entries, want 2", len(got))
	}
	if st := lu.Status(ctx); st.Catalogue == nil || st.Catalogue.RemoteEntries != 2 {
		t.Fatalf("status catalogue %+v", st.Catalogue)
	}
}
