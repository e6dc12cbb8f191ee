// Package loopback finds free ports on 127.0.0.1 for the processes a demo,
// a benchmark or a test starts on one machine.
//
// A port the kernel hands out for "127.0.0.1:0" is released before the
// node that is given it binds it, and on a busy machine another process
// (another test package's nodes, an outgoing connection) may take it in
// between. So ports come from blocks below the kernel's ephemeral range,
// which the kernel never hands out by itself, and each process claims a
// block by holding a listener on its first port for as long as it runs:
// two processes never hand out the same port.
package loopback

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

const (
	blockSize = 64
	lowest    = 10000 // below it are ports that well-known services use
	// defaultEphemeral is Linux's default start of the ephemeral range,
	// used where /proc does not say.
	defaultEphemeral = 32768
)

var blocks struct {
	mu    sync.Mutex
	locks []net.Listener // held for the life of the process
	next  int
	end   int
}

// FreePort returns a loopback port free for TCP; with udpToo the same
// port number is also free for UDP (a node listens on TCP and QUIC with
// one port). No other process using this package is given the same port.
func FreePort(udpToo bool) (int, error) {
	blocks.mu.Lock()
	defer blocks.mu.Unlock()
	for range 4 * blockSize {
		if blocks.next >= blocks.end {
			if err := claimBlock(); err != nil {
				return 0, err
			}
		}
		p := blocks.next
		blocks.next++
		if free(p, udpToo) {
			return p, nil
		}
	}
	return 0, errors.New("find a free port: no loopback port free for both TCP and UDP")
}

// claimBlock takes a block no other process holds.
func claimBlock() error {
	top := ephemeralStart() - blockSize
	if top <= lowest {
		return fmt.Errorf("find a free port: the kernel's ephemeral range starts at %d, leaving no room below it", top+blockSize)
	}
	n := (top - lowest) / blockSize
	for range 100 {
		base := lowest + rand.IntN(n)*blockSize
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base)))
		if err != nil {
			continue // held by another process
		}
		blocks.locks = append(blocks.locks, l)
		blocks.next, blocks.end = base+1, base+blockSize
		return nil
	}
	return errors.New("find a free port: every block of loopback ports tried is taken")
}

// ephemeralStart is where the kernel's range for ports it picks itself
// begins.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeral
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return defaultEphemeral
	}
	p, err := strconv.Atoi(f[0])
	if err != nil {
		return defaultEphemeral
	}
	return p
}

func free(port int, udpToo bool) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	if !udpToo {
		return true
	}
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}
