package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

func newMemberCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Federation membership, decided by a majority of members",
		Long: `Membership after genesis changes only through the registry: a member
proposes a candidate (its identity card), the members vote, and a majority
of current members admits it. The candidate runs its node with the
federation's genesis file; its partners let it in once it is admitted.`,
	}
	propose := &cobra.Command{
		Use:   "propose CARD_FILE",
		Short: "Propose a new member from its identity card (your vote counts as yes)",
		Example: `  xborder member propose nl-limburg.card.json
  xborder member propose --remove lu-luxembourg.card.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			card, err := readCard(args[0])
			if err != nil {
				return err
			}
			action := "add"
			if remove, _ := cmd.Flags().GetBool("remove"); remove {
				action = "remove"
			}
			m := consensus.Member{Name: card.Name, Country: card.Country, Org: card.Org, PeerID: card.PeerID, Addrs: card.Addrs}
			return postRegistry(g, cmd, "/v1/members", consensus.MemberChange{Candidate: m, Action: action},
				fmt.Sprintf("proposed to %s %s", action, card.Name))
		},
	}
	propose.Flags().Bool("remove", false, "propose removing this member instead")
	vote := &cobra.Command{
		Use:     "vote NAME yes|no",
		Short:   "Vote on an open membership proposal",
		Example: "  xborder member vote nl-limburg yes",
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[1] != "yes" && args[1] != "no" {
				return usageErr(fmt.Errorf("vote %q: say yes or no", args[1]))
			}
			return postRegistry(g, cmd, "/v1/members/"+url.PathEscape(args[0])+"/vote", api.VoteRequest{Vote: args[1]},
				fmt.Sprintf("voted %s on %s", args[1], args[0]))
		},
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List members and open proposals from the local replica",
		Example: "  xborder member list\n  xborder member list --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var l api.MemberList
			if err := c.get(cmd.Context(), "/v1/members", &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			rows := [][]string{}
			for _, m := range l.Members {
				role := "non-voter"
				if m.Voter {
					role = "voter"
				}
				rows = append(rows, []string{m.Name, m.Country, role, fmt.Sprint(m.Founding), m.PeerID, m.Org})
			}
			if err := printTable(g.out, []string{"NAME", "COUNTRY", "RAFT", "FOUNDING", "PEER ID", "ORG"}, rows); err != nil {
				return err
			}
			for _, p := range l.Proposals {
				var yes, no []string
				for name, v := range p.Votes {
					if v {
						yes = append(yes, name)
					} else {
						no = append(no, name)
					}
				}
				slices.Sort(yes)
				slices.Sort(no)
				fmt.Fprintf(g.out, "\nopen proposal: %s %s (%s), proposed by %s; yes: %s; no: %s\n", p.Action, p.Candidate.Name,
					p.Candidate.Country, p.ProposedBy, strings.Join(yes, ", "), strings.Join(no, ", "))
			}
			return nil
		},
	}
	list.Flags().BoolVar(&g.json, "json", false, "print JSON")
	cmd.AddCommand(propose, vote, list)
	return cmd
}
