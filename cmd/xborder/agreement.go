package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node/api"
)

func newAgreementCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agreement",
		Short: "Model-sharing agreements: propose, sign, revoke, list, show",
		Long: `A model-sharing agreement lets its parties use a model under written terms.
The proposer sends the text to every party; each party's node asks its own
agreements policy (data.xborder.agreements.decision) and answers. When all
accept, each party's operator signs with "agreement sign"; the last
signature commits the document, with every signature, to the replicated
registry, where every member can read it. From then on the owner grants the
model to the parties, for the agreed purposes, until the agreement expires
or a party revokes it.`,
	}
	cmd.AddCommand(newAgreementProposeCmd(g), newAgreementSignCmd(g), newAgreementRevokeCmd(g),
		newAgreementListCmd(g), newAgreementShowCmd(g))
	return cmd
}

func newAgreementProposeCmd(g *globals) *cobra.Command {
	var p api.AgreementProposal
	var until, from string
	cmd := &cobra.Command{
		Use:   "propose --id AID --model OWNER/ID --parties NAME,... --purposes P,... [--until DATE] [--conditions TEXT]",
		Short: "Propose a model-sharing agreement to its parties",
		Long: `propose asks this node's policy, then sends the agreement to every other
party and prints each party's answer. If a party's policy refuses, the
command exits 3 and says which party refused and why. This node must be a
party; the model's owner must be one too. --until defaults to one year from
now; dates are YYYY-MM-DD or RFC 3339.`,
		Example: `  xborder agreement propose --id seg-2026 --model fr-grandest/tumour-seg \
      --parties fr-grandest,de-bw,ch-basel --purposes research \
      --until 2027-11-26 --conditions "Research use only; no re-identification."`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "id", "model", "parties", "purposes"); err != nil {
				return err
			}
			if _, _, err := splitRef(p.Model); err != nil {
				return err
			}
			var err error
			if p.ValidUntil, err = parseDate(until, time.Now().AddDate(1, 0, 0)); err != nil {
				return usageErr(fmt.Errorf("--until: %w", err))
			}
			if p.ValidFrom, err = parseDate(from, time.Time{}); err != nil {
				return usageErr(fmt.Errorf("--from: %w", err))
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var v api.AgreementView
			if err := c.post(cmd.Context(), "/v1/agreements", p, &v); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, v)
			}
			fmt.Fprintf(g.out, "proposed agreement %s: every party's policy accepts it\n", v.ID)
			printPartyStates(g, v)
			fmt.Fprintf(g.out, "next: each party's operator runs `xborder agreement sign %s`\n", v.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.ID, "id", "", "agreement ID (lower case, digits, '.', '_', '-')")
	f.StringVar(&p.Model, "model", "", "the model, as OWNER/ID")
	f.StringSliceVar(&p.Parties, "parties", nil, "the parties (member names), this node and the model's owner included")
	f.StringSliceVar(&p.Purposes, "purposes", nil, "purposes from the federation's vocabulary (e.g. research)")
	f.StringVar(&p.Conditions, "conditions", "", "the conditions, in words")
	f.StringVar(&until, "until", "", "last day of validity (default: one year from now)")
	f.StringVar(&from, "from", "", "first day of validity (default: now)")
	f.BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// parseDate reads YYYY-MM-DD (midnight UTC) or RFC 3339; "" gives def.
func parseDate(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}

func newAgreementSignCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign AID",
		Short: "Sign an agreement this node accepted",
		Long: `sign asks this node's agreements policy again, signs the agreement's
canonical text with the node key and sends the signature to the proposer.
The last party to sign has the agreement committed to the registry.`,
		Example: "  xborder agreement sign seg-2026",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var v api.AgreementView
			if err := c.post(cmd.Context(), "/v1/agreements/"+url.PathEscape(args[0])+"/sign", struct{}{}, &v); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, v)
			}
			if v.InRegistry {
				fmt.Fprintf(g.out, "signed agreement %s; every party has signed and it is in the registry (%s)\n", v.ID, v.Status)
				return nil
			}
			fmt.Fprintf(g.out, "signed agreement %s; waiting for the other parties' signatures\n", v.ID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newAgreementRevokeCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke AID [--reason TEXT]",
		Short: "Revoke an agreement this node is a party to",
		Long: `revoke commits the revocation to the registry. From that moment no member
grants the model under the agreement, and owners refuse transfers under
grants issued before it.`,
		Example: `  xborder agreement revoke seg-2026 --reason "the model is being retrained"`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var v api.AgreementView
			if err := c.post(cmd.Context(), "/v1/agreements/"+url.PathEscape(args[0])+"/revoke", api.RevokeRequest{Reason: reason}, &v); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, v)
			}
			fmt.Fprintf(g.out, "revoked agreement %s\n", v.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the other parties and auditors")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newAgreementListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the agreements in the registry and under negotiation here",
		Example: "  xborder agreement list\n  xborder agreement list --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var l api.AgreementList
			if err := c.get(cmd.Context(), "/v1/agreements", &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			rows := make([][]string, 0, len(l.Agreements))
			for _, a := range l.Agreements {
				rows = append(rows, []string{a.ID, a.Status, a.Model, strings.Join(a.Parties, ","), strings.Join(a.Purposes, ","),
					a.ValidUntil.Format("2006-01-02"), signedCount(a)})
			}
			return printTable(g.out, []string{"ID", "STATUS", "MODEL", "PARTIES", "PURPOSES", "UNTIL", "SIGNED"}, rows)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func signedCount(a api.AgreementView) string {
	n := 0
	for _, p := range a.PartyStates {
		if p.Signed {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(a.Parties))
}

func newAgreementShowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show AID",
		Short:   "Show an agreement: terms, each party's decision and signature, status",
		Example: "  xborder agreement show seg-2026\n  xborder agreement show seg-2026 --json | jq .agreement.document",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var a api.AgreementAnswer
			if err := c.get(cmd.Context(), "/v1/agreements/"+url.PathEscape(args[0]), &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, a)
			}
			v := a.Agreement
			fields := [][2]string{{"id", v.ID}, {"status", v.Status}, {"model", v.Model},
				{"parties", strings.Join(v.Parties, ", ")}, {"purposes", strings.Join(v.Purposes, ", ")},
				{"valid", v.ValidFrom.Format(time.RFC3339) + " to " + v.ValidUntil.Format(time.RFC3339)},
				{"conditions", v.Conditions}, {"proposed by", v.CreatedBy + " at " + v.Created.Format(time.RFC3339)}}
			if v.InRegistry {
				fields = append(fields, [2]string{"committed", v.CommittedBy + " at " + v.Committed.Format(time.RFC3339)})
			}
			if v.RevokedBy != "" {
				r := v.RevokedBy + " at " + v.Revoked.Format(time.RFC3339)
				if v.RevokeReason != "" {
					r += ": " + v.RevokeReason
				}
				fields = append(fields, [2]string{"revoked", r})
			}
			if err := printFields(g.out, fields); err != nil {
				return err
			}
			printPartyStates(g, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// printPartyStates prints one line per party: its decision and signature.
func printPartyStates(g *globals, v api.AgreementView) {
	rows := make([][]string, 0, len(v.PartyStates))
	for _, p := range v.PartyStates {
		decision := "-"
		switch {
		case p.Error != "":
			decision = "unreachable: " + p.Error
		case p.Decision != nil && p.Decision.Allow:
			decision = "accepts"
		case p.Decision != nil:
			decision = "refuses: " + strings.Join(p.Decision.Reasons, " ")
		}
		signed := "no"
		if p.Signed {
			signed = "yes"
		}
		rows = append(rows, []string{p.Member, decision, signed})
	}
	_ = printTable(g.out, []string{"PARTY", "DECISION", "SIGNED"}, rows)
}
