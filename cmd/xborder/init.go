package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder"
	"github.com/xborder/xborder/node"
)

func newInitCmd(g *globals) *cobra.Command {
	cfg := node.DefaultConfig()
	var listen, advertise []string
	var newIdentity bool
	cmd := &cobra.Command{
		Use:   "init --name NAME --country CC --org ORG",
		Short: "Create a node's data dir: key, config and admin token",
		Long: `init creates the data dir with the node's Ed25519 key (mode 0600), whose
libp2p peer ID is the node's identity in the federation, a config.yaml with
defaults, and admin.token (mode 0600), an operator token for the local API.

It never replaces an identity: it refuses a data dir that holds a key, and
one that holds a node's state (config.yaml, admin.token, federation.json,
node.db, exchange.db, audit.db, registry.db, raft/) without its key. Restore
the key from backup instead. Only when the key is lost for good does
--new-identity create a new one there, keeping the state: the node's peer ID
changes, and the other members re-key it (xborder member rekey NAME, then a
vote) before it rejoins. See docs/OPERATIONS.md.`,
		Example: `  xborder init --name fr-grandest --country FR --org "Région Grand Est"
  xborder --data /var/lib/xborder init --name de-bw --country DE --org "Land Baden-Württemberg" \
      --listen /ip4/0.0.0.0/tcp/7400,/ip4/0.0.0.0/udp/7400/quic-v1 \
      --advertise /dns4/xborder.bw.example/tcp/7400 --api 127.0.0.1:7401
  xborder --data /var/lib/xborder init --new-identity --name de-bw --country DE --org "Land Baden-Württemberg"`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "name", "country", "org"); err != nil {
				return err
			}
			if cmd.Flags().Changed("listen") {
				cfg.Listen = listen
			}
			cfg.Advertise = advertise
			var id node.Identity
			var kept []string
			var err error
			if newIdentity {
				id, kept, err = node.InitNewIdentity(g.data, cfg, xborder.Policies())
			} else {
				id, err = node.Init(g.data, cfg, xborder.Policies())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s\n", id.PeerID)
			if len(kept) > 0 {
				fmt.Fprintf(g.err, "Warning: %s has a new identity, peer ID %s, and keeps its state (%s). "+
					"Partners know this node by its old peer ID: another member proposes `xborder member rekey %s --peer-id %s` "+
					"and the others vote it in (they re-admit the node under its name) before it rejoins the federation.\n",
					g.data, id.PeerID, strings.Join(kept, ", "), cfg.Name, id.PeerID)
			}
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
	f.BoolVar(&newIdentity, "new-identity", false, "create a new key in a data dir whose key is lost (the peer ID changes: the other members re-key the node by vote)")
	return cmd
}
