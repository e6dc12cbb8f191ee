package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test, check, format and evaluate Rego policies",
		Long: `The policy commands are for legal teams. test, check, fmt and eval work on a
policy directory without a running node (default: ./policies); show and
reload talk to the running node.`,
	}
	cmd.AddCommand(newPolicyTestCmd(g), newPolicyCheckCmd(g), newPolicyFmtCmd(g),
		newPolicyEvalCmd(g), newPolicyShowCmd(g), newPolicyReloadCmd(g))
	return cmd
}

// policyDir is the directory argument, defaulting to ./policies.
func policyDir(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "policies"
}

func newPolicyTestCmd(g *globals) *cobra.Command {
	var o policy.TestOptions
	var threshold float64
	cmd := &cobra.Command{
		Use:   "test [DIR] [--verbose] [--coverage]",
		Short: "Run the Rego tests of a policy directory",
		Long: `test runs every test_ rule of the *_test.rego files in DIR with OPA's test
runner, prints each failure with the line that failed, and exits 1 when a
test fails. --coverage reports which lines of the policies the tests run.`,
		Example: `  xborder policy test
  xborder policy test xborder-data/policies --verbose
  xborder policy test --coverage --threshold 90
  xborder policy test --run 'sensitive'`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Out = g.out
			if threshold > 0 {
				o.Coverage = true
			}
			sum, err := policy.Test(cmd.Context(), policyDir(args), o)
			if err != nil {
				return err
			}
			if !sum.OK() {
				return fmt.Errorf("policy tests: %d passed, %d failed, %d errors", sum.Passed, sum.Failed, sum.Errored)
			}
			if sum.Coverage != nil && sum.Coverage.Coverage < threshold {
				return fmt.Errorf("policy coverage %.1f%% is below the threshold of %.1f%%", sum.Coverage.Coverage, threshold)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "print every test and the trace of failures")
	f.BoolVar(&o.Coverage, "coverage", false, "report the lines the tests cover")
	f.Float64Var(&threshold, "threshold", 0, "fail when coverage is below this percentage (implies --coverage)")
	f.StringVar(&o.Run, "run", "", "run only the tests whose name matches this regular expression")
	return cmd
}

func newPolicyCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check [DIR]",
		Short: "Compile a policy directory strictly",
		Long: `check parses and compiles every module of DIR (tests included) in strict
mode, as ` + "`opa check --strict`" + ` does, checks that every decision point is defined
and every data file the policies read exists, and names file and line of
each problem.`,
		Example: `  xborder policy check
  xborder policy check xborder-data/policies`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := policyDir(args)
			res, err := policy.Check(dir)
			if err != nil {
				return err
			}
			if _, err := policy.Load(cmd.Context(), dir); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s: ok (%d modules, %d data files)\n", dir, res.Modules, res.DataFiles)
			return nil
		},
	}
}

func newPolicyFmtCmd(g *globals) *cobra.Command {
	var diff bool
	cmd := &cobra.Command{
		Use:   "fmt [DIR] [--diff]",
		Short: "Format the Rego files of a policy directory",
		Long: `fmt rewrites the .rego files of DIR in the canonical style of ` + "`opa fmt`" + `.
With --diff it changes nothing, prints what it would change and exits 1 when
a file is not formatted (for CI).`,
		Example: `  xborder policy fmt
  xborder policy fmt --diff`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := policy.Format(policyDir(args), !diff)
			if err != nil {
				return err
			}
			for _, r := range res {
				if diff {
					fmt.Fprint(g.out, unifiedDiff(r.Path, string(r.Original), string(r.Formatted)))
				} else {
					fmt.Fprintf(g.out, "formatted %s\n", r.Path)
				}
			}
			if diff && len(res) > 0 {
				return fmt.Errorf("%d file(s) not formatted; run `xborder policy fmt`", len(res))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&diff, "diff", false, "print the changes instead of writing them; exit 1 if any")
	return cmd
}

func newPolicyEvalCmd(g *globals) *cobra.Command {
	var inputFile, explain string
	cmd := &cobra.Command{
		Use:   "eval QUERY --input FILE [DIR] [--explain]",
		Short: "Evaluate a query on a policy directory with an input document",
		Long: `eval evaluates QUERY (e.g. data.xborder.exchange.decision) against the
policies in DIR with the JSON input in FILE ("-" for stdin) and prints the
result as JSON. --explain prints how the policy reached it: "fails" (the
default) shows the conditions that did not hold, "notes" the trace()
notes, "full" every step.`,
		Example: `  xborder policy eval data.xborder.exchange.decision --input request.json
  xborder policy eval data.xborder.exchange.decision --input request.json --explain
  xborder policy eval data.xborder.api.allow --input - <<< '{"user": {"role": "auditor"}, "method": "GET", "path": "/v1/audit"}'`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "input"); err != nil {
				return err
			}
			raw, err := readInput(inputFile)
			if err != nil {
				return err
			}
			input, err := policy.ParseInput(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", inputFile, err)
			}
			res, err := policy.EvalQuery(cmd.Context(), policyDir(args[1:]), args[0], input, policy.Explain(explain))
			if err != nil {
				return err
			}
			if !res.Defined {
				fmt.Fprintln(g.err, "the query is undefined for this input (no rule produced a value)")
			}
			if err := printJSON(g.out, res.Value); err != nil {
				return err
			}
			if res.Trace != "" {
				fmt.Fprintf(g.err, "\nExplanation (%s):\n%s", explain, res.Trace)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&inputFile, "input", "", "the input document (JSON object); - reads stdin")
	cmd.Flags().StringVar(&explain, "explain", "", "explain the evaluation: fails, notes or full")
	cmd.Flags().Lookup("explain").NoOptDefVal = string(policy.ExplainFails)
	return cmd
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		var b strings.Builder
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			b.WriteString(sc.Text())
			b.WriteByte('\n')
		}
		return []byte(b.String()), sc.Err()
	}
	return os.ReadFile(path)
}

func newPolicyShowCmd(g *globals) *cobra.Command {
	var peerName string
	var all bool
	cmd := &cobra.Command{
		Use:   "show [--peer NAME | --peers]",
		Short: "Show the running node's active policy bundle, or the one a partner declared",
		Long: `show prints the hash, load time and files of the policy bundle the node
decides with. Every node declares the hash of its active bundle in the
registry at start and after each reload; --peer NAME shows what partner
NAME declared and whether it runs the same bundle as this node, --peers
lists every member.`,
		Example: `  xborder policy show
  xborder policy show --json | jq .hash
  xborder policy show --peer de-bw
  xborder policy show --peers`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			if peerName == "" && !all {
				var info policy.Info
				if err := c.get(cmd.Context(), "/v1/policy", &info); err != nil {
					return err
				}
				if g.json {
					return printJSON(g.out, info)
				}
				return printPolicyInfo(g, info)
			}
			var peers []api.PeerPolicy
			if err := c.get(cmd.Context(), "/v1/policy/peers", &peers); err != nil {
				return err
			}
			if peerName != "" {
				i := slices.IndexFunc(peers, func(p api.PeerPolicy) bool { return p.Member == peerName })
				if i < 0 {
					names := make([]string, len(peers))
					for j, p := range peers {
						names[j] = p.Member
					}
					return usageErr(fmt.Errorf("%q is not a member of the federation (members: %s)", peerName, strings.Join(names, ", ")))
				}
				peers = peers[i : i+1]
			}
			if g.json {
				if peerName != "" {
					return printJSON(g.out, peers[0])
				}
				return printJSON(g.out, peers)
			}
			rows := make([][]string, 0, len(peers))
			for _, p := range peers {
				if !p.Declared {
					rows = append(rows, []string{p.Member, "(not declared yet)", "-", "-"})
					continue
				}
				same := "no"
				if p.SameAsLocal {
					same = "yes"
				}
				rows = append(rows, []string{p.Member, p.Hash, p.DeclaredAt.Format(time.RFC3339), same})
			}
			return printTable(g.out, []string{"MEMBER", "BUNDLE", "DECLARED", "SAME AS THIS NODE"}, rows)
		},
	}
	cmd.Flags().StringVar(&peerName, "peer", "", "show the bundle member NAME declared in the registry")
	cmd.Flags().BoolVar(&all, "peers", false, "list the bundle every member declared")
	cmd.MarkFlagsMutuallyExclusive("peer", "peers")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func printPolicyInfo(g *globals, info policy.Info) error {
	fields := [][2]string{{"bundle", info.Hash}, {"loaded", info.LoadedAt.Local().Format("2006-01-02 15:04:05")}, {"directory", info.Dir}}
	if info.Evaluator != "" {
		fields = append(fields, [2]string{"evaluated", info.Evaluator})
	}
	if info.EvaluatorConfigured != "" {
		fields = append(fields, [2]string{"evaluator configured", info.EvaluatorConfigured})
	}
	if info.LastError != "" {
		fields = append(fields, [2]string{"last reload refused", info.LastErrorAt.Local().Format("2006-01-02 15:04:05") + ": " + info.LastError})
	}
	if err := printFields(g.out, fields); err != nil {
		return err
	}
	fmt.Fprintln(g.out)
	rows := make([][]string, 0, len(info.Files))
	for _, f := range info.Files {
		rows = append(rows, []string{f.Path, fmt.Sprint(f.Size), f.SHA256[:16]})
	}
	return printTable(g.out, []string{"FILE", "BYTES", "SHA256"}, rows)
}

func newPolicyReloadCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Ask the running node to reload its policy directory",
		Long: `reload makes the node compile its policy directory again (as SIGHUP and a
file change do). An invalid policy is refused with the compiler's message
and the last good policy stays active.`,
		Example: `  xborder policy reload`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var info policy.Info
			err = c.post(cmd.Context(), "/v1/policy/reload", nil, &info)
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == 422 {
				return errors.New(ae.Message)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "policy reloaded: bundle %s (%d files)\n", info.Hash, len(info.Files))
			return nil
		},
	}
}

// unifiedDiff renders the lines formatting changes, each with its line
// number in the original (-) or the formatted file (+).
func unifiedDiff(path, a, b string) string {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	// Longest common subsequence table; policy files are small.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	rel := filepath.ToSlash(path)
	fmt.Fprintf(&out, "--- %s\n+++ %s (formatted)\n", rel, rel)
	line := func(sign byte, n int, s string) {
		fmt.Fprintf(&out, "%c%4d | %s\n", sign, n, strings.TrimSuffix(s, "\n"))
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			line('+', j+1, y[j])
			j++
		default:
			line('-', i+1, x[i])
			i++
		}
	}
	return out.String()
}
