package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
)

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage bearer tokens for the local API",
	}
	var u api.User
	var ttl time.Duration
	var out string
	issue := &cobra.Command{
		Use:   "issue --sub SUBJECT --role " + strings.Join(api.Roles, "|"),
		Short: "Print a bearer token for the local API",
		Long: `issue mints a bearer token for this node's API: a JWT signed with the
node's key, naming the user's subject, role and organisation. It reads the
key from the data dir, so it needs no running node.

Roles: operator (runs the node), researcher (browses and requests data),
legal (writes and tests policies), auditor (verifies the audit trail).`,
		Example: `  xborder token issue --sub alice@uni-freiburg.de --role researcher --org "Universität Freiburg" --ttl 8h
  xborder token issue --sub admin --role operator --ttl 8760h --out xborder-data/admin.token`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "sub", "role"); err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			id, err := node.LoadKey(dataPath(g, node.KeyFile))
			if err != nil {
				return err
			}
			if u.Org == "" {
				u.Org = cfg.Org
			}
			tok, err := api.IssueToken(id.Key, id.PeerID.String(), u, ttl, time.Now())
			if err != nil {
				return usageErr(err)
			}
			if out != "" {
				return node.WriteSecret(out, []byte(tok+"\n"))
			}
			fmt.Fprintln(g.out, tok)
			return nil
		},
	}
	f := issue.Flags()
	f.StringVar(&u.Subject, "sub", "", "the user the token names (e.g. an e-mail address)")
	f.StringVar(&u.Role, "role", "", "one of "+strings.Join(api.Roles, ", "))
	f.StringVar(&u.Org, "org", "", "the user's organisation (default: the node's)")
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	f.StringVar(&out, "out", "", "write the token to this file (mode 0600) instead of stdout")
	cmd.AddCommand(issue)
	return cmd
}
