package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is the container health probe: images built FROM
// scratch have no shell or curl, so the binary probes its own node.
func newHealthcheckCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the node answers GET /readyz with 200, else 1",
		Long: `healthcheck asks the node's API for GET /readyz and exits 0 when it answers
200 (the node is started and not shutting down), 1 otherwise. It needs no
token. The address is --addr, XBORDER_ADDR or the api of DATA/config.yaml
(a wildcard listen address is probed on loopback), over https when the
node's config has api_tls, trusting its certificate file. It is meant for container
health checks: an image built FROM scratch has no shell or curl.`,
		Example: `  xborder --data /data healthcheck
  XBORDER_ADDR=http://127.0.0.1:7401 xborder healthcheck --timeout 2s`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, tr, err := g.apiEndpoint()
			if err != nil {
				return err
			}
			url := base + "/readyz"
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				return fmt.Errorf("not ready: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("not ready: %s answered %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
			}
			fmt.Fprintln(g.out, "ready")
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}
