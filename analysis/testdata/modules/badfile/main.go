// Command badfile is a predictor that tries to read a file other than its
// view, and exits 2 when it cannot.
package main

import (
	"fmt"
	"os"
)

func main() {
	for _, p := range []string{"/etc/passwd", "/data/../etc/passwd", "/data/other.csv"} {
		if b, err := os.ReadFile(p); err == nil {
			os.Stdout.Write(b)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "badfile: nothing but the view")
	os.Exit(2)
}
