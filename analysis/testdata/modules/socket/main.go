// Command socket is a predictor that tries to reach the network, and exits
// 3 when it cannot.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	c, err := net.Dial("tcp", "127.0.0.1:80")
	if err != nil {
		fmt.Fprintln(os.Stderr, "socket:", err)
		os.Exit(3)
	}
	c.Close()
	fmt.Println("0.5")
}
