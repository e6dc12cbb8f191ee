package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

func newProjectCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		Short: "Joint cross-border projects in the replicated registry",
		Long: `Joint projects are kept in the federation's replicated registry: every
member holds a copy. Writes are checked by this node's registry policy, then
committed through raft; a project needs partners from at least two
countries. Reads come from the local replica.`,
	}
	cmd.AddCommand(newProjectProposeCmd(g), newProjectSimpleCmd(g, "join", "Join a project as a partner"),
		newProjectAttachCmd(g), newProjectSimpleCmd(g, "close", "Close a project (its lead only)"),
		newProjectListCmd(g), newProjectShowCmd(g))
	return cmd
}

func newProjectProposeCmd(g *globals) *cobra.Command {
	var p consensus.ProjectProposal
	cmd := &cobra.Command{
		Use:   "propose --id PID --title T --themes T,... --partners NAME,...",
		Short: "Propose a joint project, led by this node's region",
		Example: `  xborder project propose --id fr-de-oncology --title "Franco-German oncology imaging" \
      --themes health --partners fr-grandest,de-bw --datasets fr-grandest/icu-2025 --ethics CPP-2026-114`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "id", "title", "themes", "partners"); err != nil {
				return err
			}
			for _, d := range p.Datasets {
				if _, _, err := splitRef(d); err != nil {
					return err
				}
			}
			return postRegistry(g, cmd, "/v1/projects", p, "proposed project "+p.ID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.ID, "id", "", "project ID (lower case, digits, '.', '_', '-')")
	f.StringVar(&p.Title, "title", "", "title")
	f.StringSliceVar(&p.Themes, "themes", nil, "themes: health, industry, bioeconomy")
	f.StringSliceVar(&p.Partners, "partners", nil, "partner members, this node included")
	f.StringSliceVar(&p.Datasets, "datasets", nil, "datasets the project uses, as OWNER/ID")
	f.StringVar(&p.EthicsRef, "ethics", "", "ethics approval reference (needed for sensitive and health data)")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newProjectSimpleCmd(g *globals, verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " PID",
		Short:   short,
		Example: "  xborder project " + verb + " fr-de-oncology",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return postRegistry(g, cmd, "/v1/projects/"+url.PathEscape(args[0])+"/"+verb, nil, verb+" "+args[0])
		},
	}
}

func newProjectAttachCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "attach PID OWNER/ID",
		Short:   "Attach one of this node's datasets to a project",
		Example: "  xborder project attach fr-de-oncology fr-grandest/icu-2025",
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := splitRef(args[1]); err != nil {
				return err
			}
			return postRegistry(g, cmd, "/v1/projects/"+url.PathEscape(args[0])+"/attach", api.AttachRequest{Dataset: args[1]},
				"attached "+args[1]+" to "+args[0])
		},
	}
}

// postRegistry sends a registry write and reports the commit.
func postRegistry(g *globals, cmd *cobra.Command, path string, body any, what string) error {
	c, err := g.newClient()
	if err != nil {
		return err
	}
	var res api.Committed
	if body == nil {
		body = struct{}{}
	}
	if err := c.post(cmd.Context(), path, body, &res); err != nil {
		return err
	}
	if g.json {
		return printJSON(g.out, res)
	}
	fmt.Fprintf(g.out, "%s (committed at index %d)\n", what, res.Index)
	return nil
}

func newProjectListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List joint projects from the local replica",
		Example: "  xborder project list\n  xborder project list --json | jq '.projects[].id'",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var l api.ProjectList
			if err := c.get(cmd.Context(), "/v1/projects", &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			rows := [][]string{}
			for _, p := range l.Projects {
				rows = append(rows, []string{p.ID, p.Status, strings.Join(p.Themes, ","), p.Lead, strings.Join(p.Partners, ","), fmt.Sprint(len(p.Datasets)), p.Title})
			}
			if err := printTable(g.out, []string{"ID", "STATUS", "THEMES", "LEAD", "PARTNERS", "DATASETS", "TITLE"}, rows); err != nil {
				return err
			}
			fmt.Fprintf(g.err, "(local replica at index %d)\n", l.AppliedIndex)
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newProjectShowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show PID",
		Short:   "Show one joint project",
		Example: "  xborder project show fr-de-oncology",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var a api.ProjectAnswer
			if err := c.get(cmd.Context(), "/v1/projects/"+url.PathEscape(args[0]), &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, a)
			}
			p := a.Project
			fields := [][2]string{{"id", p.ID}, {"title", p.Title}, {"status", p.Status}, {"themes", strings.Join(p.Themes, ", ")},
				{"lead", p.Lead}, {"partners", strings.Join(p.Partners, ", ")}, {"datasets", strings.Join(p.Datasets, ", ")},
				{"ethics", p.EthicsRef}, {"created", time.UnixMilli(p.Created).UTC().Format(time.RFC3339)}}
			if p.Closed != 0 {
				fields = append(fields, [2]string{"closed", time.UnixMilli(p.Closed).UTC().Format(time.RFC3339)})
			}
			return printFields(g.out, fields)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}
