package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node"
)

func newGenesisCmd(g *globals) *cobra.Command {
	var federation, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "genesis --federation NAME --out FILE CARD_OR_DIR...",
		Short: "Build the federation's genesis file from identity cards",
		Long: `genesis builds the genesis file (federation.json) that every founding
member runs with. Each argument is an identity card (the output of
` + "`xborder identity --json`" + `) or a node's data dir. The federation ID, printed on
success, is the SHA-256 of the file's canonical form: every member must
print the same one.`,
		Example: `  xborder genesis --federation grand-est-ai --out federation.json \
      fr-grandest.card.json de-bw.card.json ch-basel.card.json be-wallonie.card.json lu-luxembourg.card.json`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "federation"); err != nil {
				return err
			}
			gen := &node.Genesis{Federation: federation}
			for _, a := range args {
				card, err := readCard(a)
				if err != nil {
					return err
				}
				gen.Members = append(gen.Members, card)
			}
			if err := gen.Validate(); err != nil {
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(out, flags, 0o644)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists; pass --force to replace it", out)
			}
			if err != nil {
				return err
			}
			if _, err := f.Write(gen.Marshal()); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintln(g.out, gen.ID())
			fmt.Fprintf(g.err, "Wrote %s: federation %q with %d members.\n", out, federation, len(gen.Members))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&federation, "federation", "", "the federation's name")
	f.StringVar(&out, "out", "federation.json", "the genesis file to write")
	f.BoolVar(&force, "force", false, "replace an existing file")
	return cmd
}

// readCard reads an identity card file, or derives the card of a data dir.
func readCard(path string) (node.Card, error) {
	info, err := os.Stat(path)
	if err != nil {
		return node.Card{}, err
	}
	if info.IsDir() {
		cfg, err := node.LoadConfig(path)
		if err != nil {
			return node.Card{}, err
		}
		return node.IdentityCard(path, cfg)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return node.Card{}, err
	}
	var c node.Card
	if err := json.Unmarshal(raw, &c); err != nil {
		return node.Card{}, fmt.Errorf("%s is not an identity card: %w", path, err)
	}
	if err := node.ValidateCard(c); err != nil {
		return node.Card{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
