// Command flood is a predictor that writes "0.5" lines without end.
package main

import (
	"os"
	"strings"
)

func main() {
	lines := []byte(strings.Repeat("0.5\n", 1024))
	for {
		os.Stdout.Write(lines)
	}
}
