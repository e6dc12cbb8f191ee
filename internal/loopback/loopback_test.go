package loopback

import (
	"net"
	"strconv"
	"testing"
)

// Ports handed out are distinct, bindable, and outside the kernel's
// ephemeral range; the block's lock keeps its first port taken.
func TestFreePortsAreDistinctAndBelowTheEphemeralRange(t *testing.T) {
	seen := map[int]bool{}
	for range 2*blockSize + 3 { // crosses into further blocks
		p, err := FreePort(true)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if p < lowest || p >= ephemeralStart() {
			t.Fatalf("port %d outside [%d, %d)", p, lowest, ephemeralStart())
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d handed out but not bindable: %v", p, err)
		}
		l.Close()
	}
	for _, l := range blocks.locks {
		port := l.Addr().(*net.TCPAddr).Port
		if seen[port] {
			t.Fatalf("the lock port %d of a block was handed out", port)
		}
		if _, err := net.Listen("tcp", l.Addr().String()); err == nil {
			t.Fatalf("the lock port %d is not held", port)
		}
	}
}
