package main

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/node/api"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The node's signed, hash-chained audit trail",
		Long: `Every decision, registry command and policy reload leaves a record
{seq, time, type, subject, details, prev, hash, sig}: chained by hash,
signed with the node's key, its head anchored in the replicated registry.`,
	}
	var limit int
	var typ string
	list := &cobra.Command{
		Use:     "list [--limit N] [--type T]",
		Short:   "Show the newest audit records",
		Example: "  xborder audit list --limit 20\n  xborder audit list --type registry.decision --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if typ != "" {
				q.Set("type", typ)
			}
			var l api.AuditList
			if err := c.get(cmd.Context(), "/v1/audit?"+q.Encode(), &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			rows := [][]string{}
			for _, r := range l.Records {
				rows = append(rows, []string{strconv.FormatUint(r.Seq, 10), r.Time.Local().Format("2006-01-02 15:04:05"), r.Type, r.Subject, r.Hash[:12], string(r.Details)})
			}
			return printTable(g.out, []string{"SEQ", "TIME", "TYPE", "SUBJECT", "HASH", "DETAILS"}, rows)
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "how many records, newest first")
	list.Flags().StringVar(&typ, "type", "", "only records of this type (e.g. registry.decision, policy.reload)")
	list.Flags().BoolVar(&g.json, "json", false, "print JSON")
	var peerName, detail string
	verify := &cobra.Command{
		Use:   "verify [--peer NAME [--detail chain|records]]",
		Short: "Verify the hash chain, the signatures and every registry anchor",
		Long: `verify checks every record of the node's trail: sequence without gaps,
each record chained to the one before, each hash recomputed, each signature
checked against the node's key, and every head the node anchored in the
registry (its chain of anchors) still present unchanged. It exits 4 and
names the first bad record on any mismatch.

With --peer, this node verifies partner NAME's trail the same way: NAME sends
its trail over libp2p (/xborder/audit/1.0.0) if its audit policy
(data.xborder.audit.decision) allows, and it is checked against NAME's key and
every anchor NAME committed to the registry. With --detail chain (the
default) NAME sends only what the hash chain needs (sequence, previous hash,
hash, signature), so verifying discloses nothing of what its records say;
records' content is then not recomputed. Exit 3 when NAME's policy refuses.`,
		Example: "  xborder audit verify\n  xborder audit verify --json\n  xborder audit verify --peer fr-grandest",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if detail != "chain" && detail != "records" {
				return usageErr(fmt.Errorf("--detail must be chain or records, not %q", detail))
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			// A long trail takes a while to verify; Ctrl-C stops it.
			c.http.Timeout = 15 * time.Minute
			path, whose := "/v1/audit/verify", "this node's"
			if peerName != "" {
				path += "?" + url.Values{"peer": {peerName}, "detail": {detail}}.Encode()
				whose = peerName + "'s"
			}
			var rep audit.Report
			if err := c.get(cmd.Context(), path, &rep); err != nil {
				return err
			}
			if g.json {
				if err := printJSON(g.out, rep); err != nil {
					return err
				}
			} else {
				content := ""
				if !rep.ContentVerified {
					content = " (links only: the records' content was not disclosed)"
				}
				fmt.Fprintf(g.out, "records: %d, head %s%s\n", rep.Records, rep.Head, content)
				bad := 0
				for _, a := range rep.Anchors {
					if !a.OK {
						bad++
						fmt.Fprintf(g.out, "anchor: seq %d, head %.16s: %s\n", a.Seq, a.Head, a.Reason)
					}
				}
				switch {
				case len(rep.Anchors) == 0:
					fmt.Fprintln(g.out, "anchors: none in the registry yet")
				case bad == 0:
					last := rep.Anchors[len(rep.Anchors)-1]
					fmt.Fprintf(g.out, "anchors: %d in the registry, every one matches (latest seq %d, head %.16s)\n", len(rep.Anchors), last.Seq, last.Head)
				}
			}
			if !rep.OK {
				return &exitErr{code: exitIntegrity, err: fmt.Errorf("%s audit trail broken at record %d: %s", whose, rep.FirstBad.Seq, rep.FirstBad.Reason)}
			}
			if !g.json {
				fmt.Fprintf(g.out, "%s audit trail verified\n", whose)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&peerName, "peer", "", "verify this partner's trail instead of this node's")
	verify.Flags().StringVar(&detail, "detail", "chain", "with --peer: chain (links only) or records (the partner's policy decides)")
	verify.Flags().BoolVar(&g.json, "json", false, "print JSON")
	cmd.AddCommand(list, verify)
	return cmd
}
