package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
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
	rekey := &cobra.Command{
		Use:   "rekey NAME (--peer-id PEER_ID | --card CARD_FILE)",
		Short: "Propose replacing a member's lost or stolen node key (the other members vote)",
		Long: `Proposes that the registry bind member NAME (its name, country,
organisation, raft role, projects and history) to a new node key. Another
member proposes it, never NAME itself: its current key may be the stolen one.
The members other than NAME vote with ` + "`xborder member vote NAME yes|no`" + `; a
majority of all members (of the others, when they are fewer) decides. From
the deciding vote on, every member refuses the old key; NAME's node runs
with the new key (the same data dir, its key file replaced) and catches up.
See "Replacing a lost or stolen key" in docs/OPERATIONS.md.`,
		Example: `  xborder member rekey de-bw --peer-id 12D3KooW...
  xborder member rekey de-bw --card de-bw.new.card.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			pid, _ := cmd.Flags().GetString("peer-id")
			cardPath, _ := cmd.Flags().GetString("card")
			addrs, _ := cmd.Flags().GetStringSlice("addrs")
			if (pid == "") == (cardPath == "") {
				return usageErr(fmt.Errorf("member rekey %s: give the new key as --peer-id or --card, one of them", name))
			}
			if cardPath != "" {
				card, err := readCard(cardPath)
				if err != nil {
					return usageErr(err)
				}
				if card.Name != name {
					return usageErr(fmt.Errorf("member rekey %s: the card %s is %s's", name, cardPath, card.Name))
				}
				pid = card.PeerID
				if len(addrs) == 0 {
					addrs = card.Addrs
				}
			}
			id, err := peer.Decode(pid)
			if err != nil {
				return usageErr(fmt.Errorf("member rekey %s: %q is not a peer ID (run `xborder identity` on the member's node)", name, pid))
			}
			m := consensus.Member{Name: name, PeerID: id.String(), Addrs: addrs}
			return postRegistry(g, cmd, "/v1/members", consensus.MemberChange{Candidate: m, Action: consensus.ActionRekey},
				fmt.Sprintf("proposed replacing the node key of %s by %s; the other members vote with `xborder member vote %s yes`", name, id, name))
		},
	}
	rekey.Flags().String("peer-id", "", "the member's new peer ID (`xborder identity` on its node)")
	rekey.Flags().String("card", "", "the member's new identity card (`xborder identity --json` on its node)")
	rekey.Flags().StringSlice("addrs", nil, "the new node's multiaddrs (default: the card's)")
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
			// Keys replaced by vote: what they signed stays the member's.
			for _, m := range l.Members {
				for _, k := range m.FormerKeys {
					fmt.Fprintf(g.out, "\nformer key of %s: %s, replaced at index %d (%s)", m.Name, k.PeerID, k.UntilIndex,
						time.UnixMilli(k.Until).UTC().Format(time.RFC3339))
				}
				if len(m.FormerKeys) > 0 {
					fmt.Fprintln(g.out)
				}
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
				what := fmt.Sprintf("%s %s (%s)", p.Action, p.Candidate.Name, p.Candidate.Country)
				if p.Action == consensus.ActionRekey {
					what = fmt.Sprintf("rekey %s (%s) to peer ID %s; %s does not vote", p.Candidate.Name, p.Candidate.Country, p.Candidate.PeerID, p.Candidate.Name)
				}
				fmt.Fprintf(g.out, "\nopen proposal: %s, proposed by %s; yes: %s; no: %s\n", what, p.ProposedBy,
					strings.Join(yes, ", "), strings.Join(no, ", "))
			}
			return nil
		},
	}
	list.Flags().BoolVar(&g.json, "json", false, "print JSON")
	cmd.AddCommand(propose, vote, rekey, list)
	return cmd
}
