// Command sockets tries to reach the network: a TCP dial to the address in
// its first argument, and a listener on the first descriptor past stdio
// (where a host would pre-open a socket). It reports each failure on
// standard error and exits 1 if nothing worked.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	reached := false
	if c, err := net.Dial("tcp", os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
	} else {
		reached = true
		fmt.Println("dial: connected")
		c.Close()
	}
	if l, err := net.FileListener(os.NewFile(3, "socket")); err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
	} else {
		reached = true
		fmt.Println("listen: got a listener")
		l.Close()
	}
	if !reached {
		os.Exit(1)
	}
}
