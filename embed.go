// Package xborder holds what the xborder binary embeds from the repository
// root: the shipped Rego policies, which `xborder init` copies into a new
// node's data dir for its legal team to adapt.
package xborder

import (
	"embed"
	"io/fs"
)

//go:embed policies
var shipped embed.FS

// Policies returns the shipped policy directory (Rego modules, their tests
// and data/*.json).
func Policies() fs.FS {
	sub, err := fs.Sub(shipped, "policies")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
