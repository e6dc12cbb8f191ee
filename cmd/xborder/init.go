package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/node"
)

func newInitCmd(g *globals) *cobra.Command {
	cfg := node.DefaultConfig()
	var listen, advertise []string
	cmd := &cobra.Command{
		Use:   "init --name NAME --country CC --org ORG",
		Short: "Create a node's data dir: key, config and admin token",
		Long: `init creates the data dir with the node's Ed25519 key (mode 0600), whose
libp2p peer ID is the node's identity in the federation, a config.yaml with
defaults, and admin.token (mode 0600), an operator token for the local API.

It refuses to overwrite an existing key: the federation knows the node by it.`,
		Example: `  xborder init --name fr-grandest --country FR --org "Région Grand Est"
  xborder --data /var/lib/xborder init --name de-bw --country DE --org "Land Baden-Württemberg" \
      --listen /ip4/0.0.0.0/tcp/7400,/ip4/0.0.0.0/udp/7400/quic-v1 \
      --advertise /dns4/xborder.bw.example/tcp/7400 --api 127.0.0.1:7401`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "name", "country", "org"); err != nil {
				return err
			}
			if cmd.Flags().Changed("listen") {
				cfg.Listen = listen
			}
			cfg.Advertise = advertise
			id, err := node.Init(g.data, cfg, xborder.Policies())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s\n", id.PeerID)
			fmt.Fprintf(g.err, "Initialised %s (%s) in %s.\nNext: share `xborder --data %s identity --json` with the federation's partners to build the genesis file.\n",
				cfg.Name, cfg.Country, g.data, g.data)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", "", "the member's name, lower case with dashes (e.g. fr-grandest)")
	f.StringVar(&cfg.Country, "country", "", "ISO 3166-1 alpha-2 country code (e.g. FR)")
	f.StringVar(&cfg.Org, "org", "", "the organisation running the node")
	f.StringSliceVar(&listen, "listen", cfg.Listen, "libp2p listen multiaddrs")
	f.StringSliceVar(&advertise, "advertise", nil, "multiaddrs partners dial, when they differ from the listen addresses")
	f.StringVar(&cfg.API, "api", cfg.API, "host:port of the local API")
	return cmd
}
