package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node/api"
)

func newSessionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "session",
		Short: "List and revoke the web console's sessions (operators)",
		Long: `The running node keeps each web console session in DATA/sessions.db: who
signed in (subject, role, organisation), how (a one-time code from
` + "`xborder console`" + `, or an OpenID Connect issuer), when, when last seen, and
when it ends (its absolute lifetime, console.session_lifetime, default 12h,
or console.session_idle_timeout without a request, default 1h). Sessions
survive a restart of the node.

A session's ID is the SHA-256 of the browser's cookie: it names the
session, it does not open it. Revoking a session deletes it at the node;
the browser's next request lands on the sign-in page. Both commands need
an operator's token (GET /v1/sessions, DELETE /v1/sessions/{id}), and each
revocation is an audit record (console.session.revoke).`,
	}
	list := &cobra.Command{
		Use:     "list [--json]",
		Short:   "Show the live console sessions, oldest first",
		Example: "  xborder session list\n  xborder session list --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var l []api.ConsoleSession
			if err := c.get(cmd.Context(), "/v1/sessions", &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			rows := [][]string{}
			at := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }
			for _, s := range l {
				how := s.Method
				if s.Issuer != "" {
					how += " " + s.Issuer
				}
				who := s.Subject
				if s.Email != "" {
					who += " (" + s.Email + ")"
				}
				rows = append(rows, []string{s.ID[:16], who, s.Role, s.Org, how, at(s.Created), at(s.LastSeen), at(earliest(s.Expires, s.IdleExpires))})
			}
			return printTable(g.out, []string{"ID", "SUBJECT", "ROLE", "ORG", "SIGNED IN WITH", "CREATED", "LAST SEEN", "ENDS"}, rows)
		},
	}
	list.Flags().BoolVar(&g.json, "json", false, "print JSON (full IDs)")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "End a console session at the node",
		Long: `revoke deletes the session with this ID (as session list shows it: the
full 64 hex digits, or a prefix of at least 8 that only one session has).
The browser's next request is signed out.`,
		Example: "  xborder session revoke 3f0c9a1b5d7e2c44\n  xborder session revoke 3f0c9a1b5d7e2c44e1aa0b6f0f5f7a2e9c3d1b0e8f6a4c2d0e9b8a7f6e5d4c3b --json",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.ToLower(args[0])
			if len(id) < 8 || strings.Trim(id, "0123456789abcdef") != "" || len(id) > 64 {
				return usageErr(fmt.Errorf("a session ID is hex digits, at least 8 of them (see `xborder session list`), not %q", args[0]))
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			if len(id) < 64 {
				var l []api.ConsoleSession
				if err := c.get(cmd.Context(), "/v1/sessions", &l); err != nil {
					return err
				}
				var match []string
				for _, s := range l {
					if strings.HasPrefix(s.ID, id) {
						match = append(match, s.ID)
					}
				}
				switch len(match) {
				case 0:
					return &apiError{Status: 404, Message: "no console session has an ID starting with " + id}
				case 1:
					id = match[0]
				default:
					return usageErr(fmt.Errorf("%d sessions have IDs starting with %s: give more digits", len(match), id))
				}
			}
			var s api.ConsoleSession
			if err := c.do(cmd.Context(), "DELETE", "/v1/sessions/"+url.PathEscape(id), nil, &s); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, s)
			}
			fmt.Fprintf(g.out, "revoked session %.16s of %s (%s)\n", s.ID, s.Subject, s.Role)
			return nil
		},
	}
	revoke.Flags().BoolVar(&g.json, "json", false, "print the revoked session as JSON")
	cmd.AddCommand(list, revoke)
	return cmd
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
