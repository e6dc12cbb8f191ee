package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

// splitRef parses OWNER/ID with the node's own rule (exchange.ParseRef);
// a bad reference is a usage error.
func splitRef(ref string) (string, string, error) {
	owner, id, err := exchange.ParseRef(ref)
	if err != nil {
		return "", "", usageErr(err)
	}
	return owner, id, nil
}

func newRequestCmd(g *globals) *cobra.Command {
	var purpose, project string
	cmd := &cobra.Command{
		Use:   "request OWNER/ID --purpose P [--project PID]",
		Short: "Ask a partner for a dataset or model",
		Long: `request asks the owner, on behalf of the researcher named by your token,
for access to OWNER/ID for a purpose. The owner's policy decides; the answer
carries its reasons and obligations and, when allowed, a grant this node
keeps for the transfer. Exit code 3 when denied, with the reasons.`,
		Example: `  xborder request fr-grandest/icu-admissions-2025 --purpose research --project fr-de-oncology
  xborder request ch-basel/crop-yield-upper-rhine --purpose industrial-rd --json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "purpose"); err != nil {
				return err
			}
			owner, id, err := splitRef(args[0])
			if err != nil {
				return err
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var ans api.AccessAnswer
			if err := c.post(cmd.Context(), "/v1/requests", api.AccessRequest{Owner: owner, ID: id, Purpose: purpose, Project: project}, &ans); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, ans)
			}
			fmt.Fprintf(g.out, "allowed: %s\n", strings.Join(ans.Reasons, " "))
			for _, o := range ans.Obligations {
				fmt.Fprintf(g.out, "  obligation: %s\n", o)
			}
			if ans.Grant != nil {
				fmt.Fprintf(g.out, "grant %s, valid until %s\n", ans.Grant.ID, ans.Grant.ExpiresAt)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&purpose, "purpose", "", "purpose from the federation's vocabulary (research, public-health, industrial-rd, statistics, education)")
	cmd.Flags().StringVar(&project, "project", "", "the joint project the request is made in")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newFetchCmd(g *globals) *cobra.Command {
	var purpose, project, out string
	cmd := &cobra.Command{
		Use:   "fetch OWNER/ID --out FILE [--purpose P] [--project PID]",
		Short: "Transfer a dataset or model from a partner, verified",
		Long: `fetch uses a valid grant this node holds for OWNER/ID, or requests one for
--purpose, then has the node transfer the content peer to peer (a broken
transfer resumes where it stopped), verifies its SHA-256 and writes FILE.
The transfer is a job of the node: it goes on if this command is stopped.
Exit code 3 when denied, 4 when the content does not match its digest.`,
		Example: `  xborder fetch fr-grandest/icu-admissions-2025 --out icu.csv --purpose research --project fr-de-oncology`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "out"); err != nil {
				return err
			}
			owner, id, err := splitRef(args[0])
			if err != nil {
				return err
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var job exchange.JobStatus
			if err := c.post(cmd.Context(), "/v1/fetch", api.AccessRequest{Owner: owner, ID: id, Purpose: purpose, Project: project}, &job); err != nil {
				return err
			}
			job, err = waitTransfer(g, cmd, c, job)
			if err != nil {
				return err
			}
			if err := download(cmd, c, job, out); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "fetched %s/%s into %s (%d bytes, sha256 %s verified)\n", owner, id, out, job.Size, job.SHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	cmd.Flags().StringVar(&purpose, "purpose", "", "purpose, when a grant must be requested")
	cmd.Flags().StringVar(&project, "project", "", "joint project, when a grant must be requested")
	return cmd
}

// waitTransfer follows a job until it ends, with a progress bar on a
// terminal.
func waitTransfer(g *globals, cmd *cobra.Command, c *client, job exchange.JobStatus) (exchange.JobStatus, error) {
	var bar *progressbar.ProgressBar
	if isTerminal(g.err) {
		bar = progressbar.DefaultBytes(job.Size, fmt.Sprintf("%s/%s", job.Owner, job.Dataset))
	}
	for job.State == exchange.JobRunning {
		if bar != nil {
			_ = bar.Set64(job.Received)
		}
		select {
		case <-cmd.Context().Done():
			return job, fmt.Errorf("stopped waiting; transfer %s goes on in the node (xborder transfers)", job.ID)
		case <-time.After(200 * time.Millisecond):
		}
		if err := c.get(cmd.Context(), "/v1/transfers/"+job.ID, &job); err != nil {
			return job, err
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if job.State == exchange.JobFailed {
		err := fmt.Errorf("transfer %s failed: %s", job.ID, job.Error)
		if job.Integrity {
			return job, &exitErr{code: exitIntegrity, err: err}
		}
		return job, err
	}
	return job, nil
}

// download copies the verified file from the node, checks its digest
// again on the way, and only then gives it its name.
func download(cmd *cobra.Command, c *client, job exchange.JobStatus, out string) error {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, c.base+"/v1/transfers/"+job.ID+"/content", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the node answered %d for the content of transfer %s", resp.StatusCode, job.ID)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != job.SHA256 {
		return &exitErr{code: exitIntegrity, err: fmt.Errorf("%s: sha256 %s does not match the grant's %s; nothing written", out, got, job.SHA256)}
	}
	return os.Rename(tmp.Name(), out)
}

func newGrantsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "grants",
		Short:   "Grants this node issued and holds",
		Example: "  xborder grants\n  xborder grants --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var gs []exchange.GrantInfo
			if err := c.get(cmd.Context(), "/v1/grants", &gs); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, gs)
			}
			rows := [][]string{}
			for _, gr := range gs {
				rows = append(rows, []string{string(gr.Role), gr.Resource, gr.Holder, gr.Purpose, gr.Project, gr.ExpiresAt.Local().Format("2006-01-02 15:04"), gr.ID})
			}
			return printTable(g.out, []string{"ROLE", "RESOURCE", "HOLDER", "PURPOSE", "PROJECT", "EXPIRES", "ID"}, rows)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}
