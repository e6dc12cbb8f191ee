// Command flood writes to standard output without end, ignoring errors.
package main

import (
	"os"
	"strings"
)

func main() {
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for {
		os.Stdout.Write(line)
	}
}
