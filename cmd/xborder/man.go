package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/xborder/xborder/node"
)

// newManCmd writes the man pages of the command tree. It is hidden: the
// Debian package runs it on the binary it ships (make package), so that the
// pages describe exactly that binary's commands and flags. SOURCE_DATE_EPOCH
// fixes the pages' date, so that two builds of one commit are identical.
func newManCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write the man pages of every command into DIR (section 1)",
		Hidden: true,
		Args:   usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{
				Title:   "XBORDER",
				Section: "1",
				Source:  "xborder " + node.Version,
				Manual:  "xborder manual",
			}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("man pages into %s: %w", dir, err)
			}
			fmt.Fprintf(g.err, "man pages written to %s\n", dir)
			return nil
		},
	}
	return cmd
}
