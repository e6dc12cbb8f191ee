// Package loopback finds free ports on 127.0.0.1 for the processes a demo,
// a benchmark or a test starts on one machine.
package loopback

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// FreePort asks the kernel for a free TCP port on loopback; with udpToo
// the same port number is also free for UDP (a node listens on TCP and
// QUIC with one port). The port is released before it returns, so another
// process may take it first: callers that start listeners retry.
func FreePort(udpToo bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !udpToo {
			l.Close()
			return port, nil
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("find a free port: no loopback port free for both TCP and UDP")
}
