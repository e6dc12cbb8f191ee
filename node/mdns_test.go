package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

func TestMembersFindEachOtherOnTheLANWithMDNS(t *testing.T) {
	// No addresses in the genesis and no DHT: only mDNS can bring the two
	// members together. They listen on every interface, as on a LAN.
	f := newTestFed(t, "grand-est-ai", fiveCountries[:2], func(int) bool { return false })
	for i := range f.cfgs {
		p := testkit.FreePort(t, true)
		f.cfgs[i].Listen = []string{fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", p)}
		f.cfgs[i].Discovery.MDNS = true
		f.cfgs[i].Discovery.DHT = false
	}
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh through mDNS", fullMesh(nodes))
}
