package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xborder/xborder/node"
)

func newRunCmd(g *globals) *cobra.Command {
	var genesis string
	cmd := &cobra.Command{
		Use:   "run [--genesis FILE]",
		Short: "Run the node in the foreground",
		Long: `run starts the node and serves until SIGINT or SIGTERM, then shuts down
gracefully within shutdown_timeout. On the first start, --genesis names the
federation's genesis file, which is copied into the data dir. SIGHUP, like
a change to a file of the policy directory, reloads the policies; an invalid
policy is refused and the last good one stays active.

Every configuration key can be overridden, in this order of precedence:
flag > environment variable > config.yaml > default.
` + settableHelp(),
		Example: `  xborder run --genesis federation.json
  XBORDER_LOG_LEVEL=debug xborder --data /var/lib/xborder run
  xborder run --api 0.0.0.0:7401 --log-format json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if err := applyOverrides(&cfg, cmd.Flags(), os.Getenv); err != nil {
				return usageErr(err)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if genesis != "" {
				if err := node.InstallGenesis(g.data, cfg, genesis); err != nil {
					return err
				}
			}
			log := newLogger(g.err, cfg.Log)
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			n, err := node.Open(g.data, cfg, node.WithLogger(log), node.WithReloadSignal(hup))
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				// After the first signal, a second one kills the process
				// at once instead of waiting for the graceful shutdown.
				<-ctx.Done()
				stop()
			}()
			return n.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&genesis, "genesis", "", "the federation's genesis file (copied into the data dir on first start)")
	for _, s := range node.Settable {
		cmd.Flags().String(flagName(s.Key), "", s.Help)
	}
	return cmd
}

func flagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

func envName(key string) string {
	return "XBORDER_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

func settableHelp() string {
	var b strings.Builder
	b.WriteString("\nKeys (flag, environment variable):\n")
	for _, s := range node.Settable {
		fmt.Fprintf(&b, "  --%-18s %-26s %s\n", flagName(s.Key), envName(s.Key), s.Help)
	}
	return b.String()
}

// applyOverrides applies environment variables, then flags, over the
// configuration read from config.yaml.
func applyOverrides(cfg *node.Config, flags *pflag.FlagSet, getenv func(string) string) error {
	for _, s := range node.Settable {
		if v := getenv(envName(s.Key)); v != "" {
			if err := cfg.Set(s.Key, v); err != nil {
				return fmt.Errorf("%s: %w", envName(s.Key), err)
			}
		}
	}
	for _, s := range node.Settable {
		f := flags.Lookup(flagName(s.Key))
		if f != nil && f.Changed {
			if err := cfg.Set(s.Key, f.Value.String()); err != nil {
				return fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
	}
	return nil
}

// newLogger builds the node's logger: text on a terminal, JSON otherwise
// (or as configured).
func newLogger(w io.Writer, c node.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by Config.Validate
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" || (c.Format == "auto" && isTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
