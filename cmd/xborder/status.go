package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node/api"
)

func newStatusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the node's status",
		Example: `  xborder status
  xborder status --json | jq .peers_connected
  XBORDER_ADDR=http://127.0.0.1:7411 XBORDER_TOKEN=$(cat demo-data/de-bw/admin.token) xborder status`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var s api.Status
			if err := c.get(cmd.Context(), "/v1/status", &s); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, s)
			}
			return printFields(g.out, statusFields(s))
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func statusFields(s api.Status) [][2]string {
	return [][2]string{
		{"name", fmt.Sprintf("%s (%s, %s)", s.Name, s.Country, s.Org)},
		{"peer id", s.PeerID},
		{"federation", fmt.Sprintf("%s %s", s.Federation, s.FederationID)},
		{"ready", strconv.FormatBool(s.Ready)},
		{"peers", fmt.Sprintf("%d of %d other members connected", s.PeersConnected, s.Members-1)},
		{"listening", strings.Join(s.ListenAddrs, " ")},
		{"up", (time.Duration(s.UptimeS) * time.Second).String() + " (version " + s.Version + ")"},
		{"policy", policyLine(s.Policy)},
		{"registry", raftLine(s.Raft)},
		{"audit", auditLine(s.Audit)},
	}
}

func auditLine(a *api.AuditStatus) string {
	if a == nil {
		return "not open"
	}
	return fmt.Sprintf("%d records, head %.16s", a.Seq, a.Head)
}

func raftLine(r *api.RaftStatus) string {
	if r == nil {
		return "not open"
	}
	leader := r.Leader
	if leader == "" {
		leader = "none"
	}
	return fmt.Sprintf("%s, leader %s, term %d, commit %d, applied %d, voters %s", r.State, leader, r.Term, r.CommitIndex,
		r.AppliedIndex, strings.Join(r.Voters, ","))
}

func policyLine(p api.PolicyStatus) string {
	line := fmt.Sprintf("bundle %.16s loaded %s", p.Hash, p.LoadedAt.Local().Format("2006-01-02 15:04:05"))
	if p.Evaluator != "" {
		line += ", evaluated " + p.Evaluator + " (configured " + p.EvaluatorConfigured + ")"
	}
	if p.LastError != "" {
		line += "; last reload refused: " + p.LastError
	}
	return line
}

func newPeersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "List the federation's members and their connection state",
		Example: `  xborder peers
  xborder peers --json | jq '.[] | select(.connected | not) | .name'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var peers []api.Peer
			if err := c.get(cmd.Context(), "/v1/peers", &peers); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, peers)
			}
			rows := make([][]string, 0, len(peers))
			for _, p := range peers {
				state := "no"
				switch {
				case p.Self:
					state = "self"
				case p.Connected:
					state = "yes"
				}
				rtt := "-"
				if p.RTTms > 0 {
					rtt = strconv.FormatFloat(p.RTTms, 'f', 1, 64)
				}
				rows = append(rows, []string{p.Name, p.Country, state, rtt, p.PeerID, strings.Join(p.Addrs, " ")})
			}
			return printTable(g.out, []string{"NAME", "COUNTRY", "CONNECTED", "RTT_MS", "PEER ID", "ADDRS"}, rows)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}
