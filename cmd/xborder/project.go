package main

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
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
countries. Reads come from the local replica.

Joining is a request: a member becomes a partner (and gets what partners
get) only once the project's lead and the owner of every dataset attached to
the project have approved it, each with "project approve" on its own node.
A dataset whose owner is not a partner is attached once the lead approves.`,
	}
	cmd.AddCommand(newProjectProposeCmd(g), newProjectJoinCmd(g), newProjectApproveCmd(g), newProjectDeclineCmd(g),
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

func newProjectJoinCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "join PID",
		Short: "Ask to join a project; pending until its lead and dataset owners approve",
		Long: `Asks to join an active project. The request is committed to the registry
at once, but this node becomes a partner only when the project's lead and the
owner of every dataset attached to it have approved ("project approve PID
--member NAME" on their nodes). Until then it is pending and gets nothing that
partners get. "project show PID" lists who has approved.`,
		Example: "  xborder project join fr-de-oncology",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return postProjectChange(g, cmd, args[0], "join", nil, func(p api.ProjectAnswer, self string) string {
				if slices.Contains(p.Project.Partners, self) {
					return "joined " + args[0]
				}
				for _, c := range p.Pending {
					if c.Kind == consensus.PendingJoin && c.Member == self {
						return fmt.Sprintf("asked to join %s: pending until %s approve", args[0], strings.Join(c.Awaiting, ", "))
					}
				}
				return "asked to join " + args[0]
			})
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newProjectApproveCmd(g *globals) *cobra.Command {
	var member, dataset string
	cmd := &cobra.Command{
		Use:   "approve PID (--member NAME | --dataset OWNER/ID)",
		Short: "Approve a member's pending join, or a pending dataset attachment",
		Long: `Approves, as this node, a change of a project that waits for approvals:
a member's request to join (--member) or the attachment of a dataset whose
owner is not a partner (--dataset). This node's registry policy decides first
(data.xborder.registry.decision, op project.approve). The change takes effect
with the last approval it needs.`,
		Example: `  xborder project approve fr-de-oncology --member ch-basel
  xborder project approve fr-de-oncology --dataset lu-luxembourg/air-quality-2025`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pendingFlags(member, dataset); err != nil {
				return err
			}
			return postProjectChange(g, cmd, args[0], "approve", api.ApproveRequest{Member: member, Dataset: dataset}, func(p api.ProjectAnswer, _ string) string {
				for _, c := range p.Pending {
					if (member != "" && c.Kind == consensus.PendingJoin && c.Member == member) ||
						(dataset != "" && c.Kind == consensus.PendingAttach && c.Dataset == dataset) {
						return fmt.Sprintf("approved; %s still waits for %s", pendingWhat(c.PendingChange, args[0]), strings.Join(c.Awaiting, ", "))
					}
				}
				if member != "" {
					return fmt.Sprintf("approved: %s is now a partner of %s", member, args[0])
				}
				return fmt.Sprintf("approved: %s is now attached to %s", dataset, args[0])
			})
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "the member whose join waits")
	cmd.Flags().StringVar(&dataset, "dataset", "", "the dataset (OWNER/ID) whose attachment waits")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newProjectDeclineCmd(g *globals) *cobra.Command {
	var member, dataset string
	cmd := &cobra.Command{
		Use:   "decline PID (--member NAME | --dataset OWNER/ID)",
		Short: "Refuse a pending join or attachment, or withdraw this node's own request",
		Long: `Drops a change of a project that waits for approvals: one of its approvers
refuses it, or the member that asked withdraws it. This node's registry
policy decides first (data.xborder.registry.decision, op project.decline).`,
		Example: `  xborder project decline fr-de-oncology --member ch-basel
  xborder project decline fr-de-oncology --member lu-luxembourg   # run on lu-luxembourg: withdraw its own request`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pendingFlags(member, dataset); err != nil {
				return err
			}
			kind := consensus.PendingJoin
			if dataset != "" {
				kind = consensus.PendingAttach
			}
			what := pendingWhat(consensus.PendingChange{Kind: kind, Member: member, Dataset: dataset}, args[0])
			return postProjectChange(g, cmd, args[0], "decline", api.ApproveRequest{Member: member, Dataset: dataset}, func(api.ProjectAnswer, string) string {
				return "declined " + what
			})
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "the member whose join waits")
	cmd.Flags().StringVar(&dataset, "dataset", "", "the dataset (OWNER/ID) whose attachment waits")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// pendingFlags checks the --member / --dataset pair of approve and
// decline: exactly one, and a dataset in OWNER/ID form.
func pendingFlags(member, dataset string) error {
	if (member == "") == (dataset == "") {
		return usageErr(errors.New("name exactly one of --member (a pending join) and --dataset (a pending attachment)"))
	}
	if dataset != "" {
		if _, _, err := splitRef(dataset); err != nil {
			return err
		}
	}
	return nil
}

func pendingWhat(c consensus.PendingChange, project string) string {
	if c.Kind == consensus.PendingJoin {
		return fmt.Sprintf("%s joining %s", c.Member, project)
	}
	return fmt.Sprintf("attaching %s to %s", c.Dataset, project)
}

func newProjectAttachCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attach PID OWNER/ID",
		Short: "Attach one of this node's datasets to a project",
		Long: `Attaches one of this node's datasets to a project. When this node is a
partner, the dataset is attached at once; otherwise it is offered to the
project and attached once the project's lead approves.`,
		Example: "  xborder project attach fr-de-oncology fr-grandest/icu-2025",
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := splitRef(args[1]); err != nil {
				return err
			}
			return postProjectChange(g, cmd, args[0], "attach", api.AttachRequest{Dataset: args[1]}, func(p api.ProjectAnswer, _ string) string {
				if slices.Contains(p.Project.Datasets, args[1]) {
					return "attached " + args[1] + " to " + args[0]
				}
				for _, c := range p.Pending {
					if c.Kind == consensus.PendingAttach && c.Dataset == args[1] {
						return fmt.Sprintf("offered %s to %s: pending until %s approve", args[1], args[0], strings.Join(c.Awaiting, ", "))
					}
				}
				return "offered " + args[1] + " to " + args[0]
			})
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// postProjectChange sends a write about one project, then reads the project
// back from the local replica (the write returns once it is applied there)
// and reports what the change did: a join or an attachment may still wait
// for approvals.
func postProjectChange(g *globals, cmd *cobra.Command, id, verb string, body any, say func(p api.ProjectAnswer, self string) string) error {
	c, err := g.newClient()
	if err != nil {
		return err
	}
	var res api.Committed
	if body == nil {
		body = struct{}{}
	}
	path := "/v1/projects/" + url.PathEscape(id)
	if err := c.post(cmd.Context(), path+"/"+verb, body, &res); err != nil {
		return err
	}
	if res.NotApplied {
		// Committed, but this node's replica cannot show what it did yet.
		if g.json {
			if err := printJSON(g.out, res); err != nil {
				return err
			}
		}
		return &exitErr{code: exitNotApplied, err: fmt.Errorf("%s %s: %s; read it again in a moment (project show %s), and check `xborder healthcheck` if it does not appear", verb, id, res.Warning, id)}
	}
	var p api.ProjectAnswer
	if err := c.get(cmd.Context(), path, &p); err != nil {
		return err
	}
	var st api.Status
	if err := c.get(cmd.Context(), "/v1/status", &st); err != nil {
		return err
	}
	if g.json {
		return printJSON(g.out, struct {
			Index   uint64              `json:"index"`
			Project consensus.Project   `json:"project"`
			Pending []api.PendingStatus `json:"pending"`
		}{res.Index, p.Project, p.Pending})
	}
	fmt.Fprintf(g.out, "%s (committed at index %d)\n", say(p, st.Name), res.Index)
	return nil
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
		if err := printJSON(g.out, res); err != nil {
			return err
		}
	} else if !res.NotApplied {
		fmt.Fprintf(g.out, "%s (committed at index %d)\n", what, res.Index)
	}
	if res.NotApplied {
		// Done, but not visible here yet: say so, and let scripts tell.
		return &exitErr{code: exitNotApplied, err: fmt.Errorf("%s: %s; read it again in a moment, and check `xborder healthcheck` if it does not appear", what, res.Warning)}
	}
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
			for _, c := range a.Pending {
				approved := "nobody yet"
				if len(c.Approvals) > 0 {
					approved = strings.Join(c.Approvals, ", ")
				}
				fields = append(fields, [2]string{"pending", fmt.Sprintf("%s (asked by %s %s): approved by %s; awaiting %s",
					pendingWhat(c.PendingChange, p.ID), c.By, time.UnixMilli(c.Requested).UTC().Format(time.RFC3339), approved, strings.Join(c.Awaiting, ", "))})
			}
			return printFields(g.out, fields)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}
