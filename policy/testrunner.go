package policy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions configures Test.
type TestOptions struct {
	Verbose  bool
	Coverage bool
	Run      string // regular expression selecting tests; empty: all
	Out      io.Writer
}

// TestSummary counts test results; Coverage is set with TestOptions.Coverage.
type TestSummary struct {
	Passed, Failed, Errored, Skipped int
	Coverage                         *cover.Report
	// Compared is how many inputs of the tests both evaluators decided;
	// each of Differences is counted in Failed too.
	Compared    int
	Differences []Difference
}

// OK reports whether every test passed.
func (s TestSummary) OK() bool { return s.Failed == 0 && s.Errored == 0 && s.Passed > 0 }

// Test runs the Rego tests of dir (the `test_` rules of its modules) with
// OPA's test runner and reports them like `opa test`.
func Test(ctx context.Context, dir string, o TestOptions) (TestSummary, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	c, res, err := compileDir(dir, true)
	if err != nil {
		return TestSummary{}, err
	}
	modules := map[string]*ast.Module{}
	for name, m := range res.ParsedModules() {
		modules[name] = m
	}
	store := inmem.NewFromObject(res.Documents)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return TestSummary{}, err
	}
	defer store.Abort(ctx, txn)

	var cov *cover.Cover
	runner := tester.NewRunner().
		SetCompiler(c).
		SetStore(store).
		SetModules(modules).
		CapturePrintOutput(true).
		EnableTracing(o.Verbose).
		SetTimeout(30 * time.Second).
		Filter(o.Run)
	if o.Coverage {
		cov = cover.New()
		runner = runner.SetCoverageQueryTracer(cov)
	}
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return TestSummary{}, fmt.Errorf("run tests: %w", err)
	}
	var sum TestSummary
	tee := make(chan *tester.Result)
	done := make(chan error, 1)
	go func() {
		done <- tester.PrettyReporter{Output: o.Out, Verbose: o.Verbose, FailureLine: true}.Report(tee)
	}()
	for r := range ch {
		switch {
		case r.Skip:
			sum.Skipped++
		case r.Error != nil:
			sum.Errored++
		case r.Fail:
			sum.Failed++
		default:
			sum.Passed++
		}
		tee <- r
	}
	close(tee)
	if err := <-done; err != nil {
		return sum, err
	}
	if sum.Passed+sum.Failed+sum.Errored == 0 {
		fmt.Fprintf(o.Out, "no tests found in %s: tests are rules named test_... in *_test.rego files\n", dir)
	}
	if err := comparePlan(ctx, dir, o.Out, &sum); err != nil {
		return sum, err
	}
	if cov != nil {
		rep := cov.Report(modules)
		sum.Coverage = &rep
		writeCoverage(o.Out, dir, rep, o.Verbose)
	}
	return sum, nil
}

// comparePlan has both evaluators decide every input the tests give a
// decision point, as the node does before a plan takes its decisions, and
// counts each difference as a failed test.
func comparePlan(ctx context.Context, dir string, w io.Writer, sum *TestSummary) error {
	b, err := Load(ctx, dir)
	if err != nil {
		fmt.Fprintf(w, "\nPlan and topdown not compared: %v\n", err)
		return nil
	}
	pl := b.planProgram(ctx)
	if pl.err != "" {
		fmt.Fprintf(w, "\nPlan and topdown not compared: the policy is not planned, topdown takes every decision: %s\n", pl.err)
		return nil
	}
	tests, _, err := testSources(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	n, diffs, err := b.checkTests(ctx, pl, tests)
	if err != nil {
		sum.Errored++
		fmt.Fprintf(w, "\nERROR: plan and topdown not compared on the tests: %v\n", err)
		return nil
	}
	sum.Compared, sum.Differences = n, diffs
	sum.Failed += len(diffs)
	if len(diffs) == 0 {
		fmt.Fprintf(w, "\nPlan and topdown: identical on the %d inputs the tests give decision points\n", n)
		return nil
	}
	fmt.Fprintf(w, "\nPlan and topdown: %d of the %d inputs the tests give decision points decided differently\n", len(diffs), n)
	for _, d := range diffs {
		fmt.Fprintf(w, "FAIL: %s: %s\n  plan:    %s\n  topdown: %s\n", d.Test, d.Error(), d.Plan, d.Topdown)
	}
	return nil
}

func writeCoverage(w io.Writer, dir string, rep cover.Report, verbose bool) {
	fmt.Fprintf(w, "\nCoverage: %.1f%% (%d of %d lines)\n", rep.Coverage, rep.CoveredLines, rep.CoveredLines+rep.NotCoveredLines)
	for _, name := range slices.Sorted(maps.Keys(rep.Files)) {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		fr := rep.Files[name]
		rel, err := filepath.Rel(dir, name)
		if err != nil {
			rel = name
		}
		fmt.Fprintf(w, "  %-28s %5.1f%%", rel, fr.Coverage)
		if len(fr.NotCovered) > 0 {
			var lines []string
			for _, r := range fr.NotCovered {
				if r.Start.Row == r.End.Row {
					lines = append(lines, fmt.Sprint(r.Start.Row))
				} else {
					lines = append(lines, fmt.Sprintf("%d-%d", r.Start.Row, r.End.Row))
				}
			}
			if !verbose && len(lines) > 8 {
				lines = append(lines[:8], "...")
			}
			fmt.Fprintf(w, "  not covered: lines %s", strings.Join(lines, ", "))
		}
		fmt.Fprintln(w)
	}
}
