package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/xborder/xborder/node"
)

// Exit codes of the CLI contract.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitDenied    = 3
	exitIntegrity = 4
	// exitNotApplied: a registry write was committed, but the local
	// replica had not applied it when the node answered.
	exitNotApplied = 5
)

// exitErr carries an exit code with its error.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

func usageErr(err error) error { return &exitErr{code: exitUsage, err: err} }

// globals are the flags every command shares.
type globals struct {
	data  string
	addr  string
	token string
	json  bool
	out   io.Writer
	err   io.Writer
}

// execute runs the CLI and returns the process exit code.
func execute(args []string, stdout, stderr io.Writer) int {
	g := &globals{out: stdout, err: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "xborder: %v\n", err)
	var e *exitErr
	if errors.As(err, &e) {
		if e.code == exitUsage {
			fmt.Fprintln(stderr, "Run 'xborder --help' or 'xborder COMMAND --help' for usage.")
		}
		return e.code
	}
	return exitError
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "xborder",
		Short: "A node of a cross-border AI data federation",
		Long: `xborder runs one partner region's node of a federation that shares
dataset and model catalogues, decides every cross-border request with
Rego policies, moves data peer to peer and keeps a replicated registry
of joint projects.

Global flags read environment variables when not given:
  --data   XBORDER_DATA   (default ./xborder-data)
  --addr   XBORDER_ADDR   (default: the API address in DATA/config.yaml)
  --token  XBORDER_TOKEN  (default: the token ` + "`xborder login`" + ` saved for
                          the node's address, else DATA/admin.token)`,
		Example: `  xborder init --name fr-grandest --country FR --org "Région Grand Est"
  xborder identity --json > fr.card.json
  xborder genesis --federation grand-est-ai --out federation.json *.card.json
  xborder run --genesis federation.json
  xborder status`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			g.resolveGlobals(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.data, "data", "", "the node's data dir (env XBORDER_DATA, default ./xborder-data)")
	pf.StringVar(&g.addr, "addr", "", "URL of the node's API (env XBORDER_ADDR, default from DATA/config.yaml)")
	pf.StringVar(&g.token, "token", "", "bearer token for the API (env XBORDER_TOKEN, default the token saved by xborder login for --addr, else DATA/admin.token)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(err) })

	root.AddCommand(
		newInitCmd(g),
		newIdentityCmd(g),
		newGenesisCmd(g),
		newRunCmd(g),
		newStatusCmd(g),
		newPeersCmd(g),
		newTokenCmd(g),
		newLoginCmd(g), newLogoutCmd(g), newWhoamiCmd(g),
		newConsoleCmd(g), newSessionCmd(g),
		newPolicyCmd(g),
		newProjectCmd(g), newAgreementCmd(g),
		newMemberCmd(g),
		newAuditCmd(g),
		newDatasetCmd(g),
		newCatalogueCmd(g),
		newRequestCmd(g),
		newFetchCmd(g),
		newGrantsCmd(g),
		newDSPCmd(g),
		newAnalyseCmd(g),
		newAnalysisCmd(g),
		newEvaluateCmd(g),
		newEvaluationsCmd(g),
		newModuleCmd(g),
		newDemoCmd(g),
		newHealthcheckCmd(g),
		newBackupCmd(g), newRestoreCmd(g),
		newVersionCmd(g),
		newManCmd(g),
	)
	return root
}

// resolveGlobals applies flag > environment > default to the global flags.
func (g *globals) resolveGlobals(cmd *cobra.Command) {
	fromEnv := func(flag, env string, dst *string) {
		if !cmd.Flags().Changed(flag) {
			if v := os.Getenv(env); v != "" {
				*dst = v
			}
		}
	}
	fromEnv("data", "XBORDER_DATA", &g.data)
	fromEnv("addr", "XBORDER_ADDR", &g.addr)
	fromEnv("token", "XBORDER_TOKEN", &g.token)
	if g.data == "" {
		g.data = "./xborder-data"
	}
}

// usageArgs turns cobra's argument validation errors into usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageErr(err)
		}
		return nil
	}
}

// loadConfig reads DATA/config.yaml.
func (g *globals) loadConfig() (node.Config, error) {
	return node.LoadConfig(g.data)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readTokenFile reads a token file, trimming whitespace.
func readTokenFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(raw)), nil
}

func dataPath(g *globals, name string) string { return filepath.Join(g.data, name) }

// requireFlags fails with a usage error when a required flag is missing.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usageErr(fmt.Errorf("%s: missing required flag(s) %s", cmd.CommandPath(), strings.Join(missing, ", ")))
	}
	return nil
}
