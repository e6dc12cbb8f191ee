// Command xborder runs and operates a node of an xborder cross-border data
// federation. `xborder run` starts the node; every other command is a
// client of a node's local API or works on local files.
package main

import (
	"os"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}
