// Command chatty copies its view to standard error, then fails: its
// standard error must stay with the owner.
package main

import (
	"os"
)

func main() {
	b, _ := os.ReadFile("/data/input.csv")
	os.Stderr.Write(b)
	os.Exit(4)
}
