package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console"
)

func newConsoleCmd(g *globals) *cobra.Command {
	var u api.User
	var sessionTTL time.Duration
	var noOpen bool
	cmd := &cobra.Command{
		Use:   "console [--role R] [--sub S] [--org O]",
		Short: "Print a one-time sign-in link to the node's web console",
		Long: `console mints a one-time sign-in code with the node's key (from the data
dir, like token issue) and prints the link to the web console of the
running node: ` + console.Prefix + `signin?code=... on the API address (--addr, XBORDER_ADDR or
the api of DATA/config.yaml). The code is valid for ` + console.CodeTTL.String() + ` and works once: the
node exchanges it for a browser session (an HttpOnly cookie) and redirects
to the console's home, so the code does not stay in the address bar.

On a desktop ($DISPLAY or $WAYLAND_DISPLAY set) the link is also opened
with xdg-open, unless --no-open is given.

What the session may see and do is decided per page by the node's API
policy (data.xborder.api.allow) for the role, as for API tokens.`,
		Example: `  xborder console
  xborder console --role researcher --sub alice@uni-freiburg.de --org "Universität Freiburg"
  xborder console --role legal --sub dpo@region-grandest.fr --session-ttl 2h --no-open`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			if u.Subject == "" {
				u.Subject = os.Getenv("USER")
				if u.Subject == "" {
					u.Subject = u.Role
				}
			}
			code, err := console.IssueSignInCode(id.Key, id.PeerID.String(), u, sessionTTL, time.Now())
			if err != nil {
				return usageErr(err)
			}
			base, _, err := g.apiEndpoint()
			if err != nil {
				return err
			}
			link := base + console.Prefix + "signin?code=" + url.QueryEscape(code)
			fmt.Fprintln(g.out, link)
			if isTerminal(g.err) {
				fmt.Fprintf(g.err, "Open this link within %v to sign in as %s (%s); it works once.\n", console.CodeTTL, u.Subject, u.Role)
			}
			if !noOpen && (os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "") {
				if opener, err := exec.LookPath("xdg-open"); err == nil {
					c := exec.Command(opener, link)
					if err := c.Start(); err == nil {
						go func() { _ = c.Wait() }()
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&u.Role, "role", api.RoleOperator, "one of "+strings.Join(api.Roles, ", "))
	f.StringVar(&u.Subject, "sub", "", "the user the session names (default: $USER)")
	f.StringVar(&u.Org, "org", "", "the user's organisation (default: the node's)")
	f.DurationVar(&sessionTTL, "session-ttl", console.DefaultSessionTTL, "how long the session lasts after sign-in (at most the node's console.session_lifetime)")
	f.BoolVar(&noOpen, "no-open", false, "only print the link, never open a browser")
	return cmd
}
