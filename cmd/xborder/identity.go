package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node"
)

func newIdentityCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Print the node's public identity card",
		Long: `identity prints the node's public identity card: name, country,
organisation, peer ID and the addresses partners dial. The JSON form is the
input of ` + "`xborder genesis`" + `. It needs no running node.`,
		Example: `  xborder identity
  xborder identity --json > fr-grandest.card.json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			card, err := node.IdentityCard(g.data, cfg)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, card)
			}
			return printFields(g.out, [][2]string{
				{"name", card.Name}, {"country", card.Country}, {"org", card.Org},
				{"peer id", card.PeerID}, {"addrs", strings.Join(card.Addrs, " ")},
			})
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}
