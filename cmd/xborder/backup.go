package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/internal/backup"
	"github.com/xborder/xborder/node"
)

// backupResult is what `xborder backup --json` prints.
type backupResult struct {
	File     string          `json:"file"`
	Bytes    int64           `json:"bytes"`
	Files    int             `json:"files"`
	Seconds  float64         `json:"seconds"`
	Manifest backup.Manifest `json:"manifest"`
}

func newBackupCmd(g *globals) *cobra.Command {
	var plain, force bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Take a consistent backup of the running node into FILE",
		Long: `backup asks the running node for a backup archive and writes it to FILE:
the node's key, config.yaml, admin.token, genesis and policy files, and a
consistent copy of each of its stores (audit trail, registry state, raft log
and latest snapshot, catalogue and blobs, exchange and analysis stores),
taken while the node keeps running, with a manifest of every file's SHA-256
signed by the node's key. Only the operator role may take one.

The archive is checked as it arrives (the same checks as restore) and FILE
appears, with mode 0600, only once it is complete: it holds the node's
private key, so keep it as safe as the key itself.`,
		Example: "  xborder backup /backups/fr-grandest-$(date +%F).tar.gz\n  xborder backup --no-compress /backups/fr-grandest.tar",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			if _, err := os.Stat(file); err == nil && !force {
				return usageErr(fmt.Errorf("%s exists; pass --force to replace it", file))
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			started := time.Now()
			compress := "gzip"
			if plain {
				compress = "none"
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, c.base+"/v1/backup?compress="+compress, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+c.token)
			// No overall timeout: an archive takes as long as the node's
			// data takes to copy.
			hc := *c.http
			hc.Timeout = 0
			resp, err := hc.Do(req)
			if err != nil {
				var op *net.OpError
				if errors.As(err, &op) {
					return fmt.Errorf("cannot reach the node at %s: is `xborder run` running? (%v)", c.base, op.Err)
				}
				return fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return c.answerError(resp)
			}
			m, size, err := writeArchive(file, resp.Body)
			if err != nil {
				return err
			}
			res := backupResult{File: file, Bytes: size, Files: len(m.Files), Seconds: time.Since(started).Seconds(), Manifest: m}
			if g.json {
				return printJSON(g.out, res)
			}
			return printFields(g.out, [][2]string{
				{"file", file},
				{"size", fmt.Sprintf("%d bytes (%d bytes of files)", size, m.Size())},
				{"files", strconv.Itoa(len(m.Files))},
				{"node", fmt.Sprintf("%s (%s)", m.Node, m.PeerID)},
				{"federation", m.FederationID},
				{"created", m.Created.Format(time.RFC3339)},
				{"took", time.Since(started).Round(time.Millisecond).String()},
			})
		},
	}
	cmd.Flags().BoolVar(&plain, "no-compress", false, "write a plain tar (default: gzip)")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// writeArchive writes the archive read from r to a temporary file next to
// file, verifying it as it arrives, and renames it to file once it is
// complete and synced. It returns the verified manifest and the size.
func writeArchive(file string, r io.Reader) (backup.Manifest, int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-")
	if err != nil {
		return backup.Manifest{}, 0, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return backup.Manifest{}, 0, err
	}
	counted := &countingWriter{w: tmp}
	m, err := backup.Verify(io.TeeReader(r, counted))
	if err != nil {
		var be *backup.Error
		if errors.As(err, &be) {
			return backup.Manifest{}, 0, &exitErr{code: exitIntegrity, err: fmt.Errorf("the node's archive did not arrive whole: %w", err)}
		}
		return backup.Manifest{}, 0, err
	}
	// Anything after the archive's end (nothing, normally) is kept too.
	if _, err := io.Copy(counted, r); err != nil {
		return backup.Manifest{}, 0, err
	}
	if err := tmp.Sync(); err != nil {
		return backup.Manifest{}, 0, err
	}
	if err := tmp.Close(); err != nil {
		return backup.Manifest{}, 0, err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return backup.Manifest{}, 0, err
	}
	ok = true
	return m, counted.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newRestoreCmd(g *globals) *cobra.Command {
	var peerID string
	cmd := &cobra.Command{
		Use:   "restore FILE --data DIR",
		Short: "Restore a backup archive into an empty data dir (offline)",
		Long: `restore writes the node of a backup archive into DIR (--data), which must
not exist or be empty; no node runs meanwhile. It refuses (exit 4) an archive
that is truncated, whose manifest's signature does not verify against the
peer ID it names, that holds a file whose SHA-256 differs from the manifest,
a path outside DIR, a link, or a format version it does not know, and one
whose key, config.yaml or genesis is not the node the manifest names; with
--peer-id, one that is not that node's. The files are written beside DIR and
moved into place only once every check passed.

Then start the node with ` + "`xborder run --data DIR`" + `: it rejoins the
federation with its identity, raft restores the snapshot and the leader sends
the registry entries the node missed since the backup. The audit trail
continues from the backup's last record (xborder audit verify).`,
		Example: "  xborder restore /backups/fr-grandest.tar.gz --data /var/lib/xborder\n  xborder restore backup.tar.gz --data ./xborder-data --peer-id 12D3KooW...",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			started := time.Now()
			m, err := node.Restore(f, g.data, peerID)
			if err != nil {
				switch {
				case errors.Is(err, backup.ErrNotEmpty):
					return usageErr(err)
				case errors.As(err, new(*backup.Error)):
					return &exitErr{code: exitIntegrity, err: err}
				}
				return err
			}
			if g.json {
				return printJSON(g.out, m)
			}
			return printFields(g.out, [][2]string{
				{"restored", g.data},
				{"files", fmt.Sprintf("%d (%d bytes)", len(m.Files), m.Size())},
				{"node", fmt.Sprintf("%s (%s)", m.Node, m.PeerID)},
				{"federation", m.FederationID},
				{"backup taken", m.Created.Format(time.RFC3339)},
				{"took", time.Since(started).Round(time.Millisecond).String()},
				{"next", "xborder run --data " + g.data},
			})
		},
	}
	cmd.Flags().StringVar(&peerID, "peer-id", "", "refuse an archive that is not this node's")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}
