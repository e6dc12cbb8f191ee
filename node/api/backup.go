package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/backup"
)

// Backups is the node as it writes its backup archive (*node.Node).
type Backups interface {
	Backup(ctx context.Context, w io.Writer, compress bool) (backup.Manifest, error)
}

// ErrBackupRunning is returned by a Backups while another backup runs
// (answered 409).
var ErrBackupRunning = errors.New("a backup of this node is already running")

// routeBackup serves POST /v1/backup: the archive streams as the node
// writes it. An error before the first byte is answered as usual; one
// after it aborts the response, so that the client sees a cut stream (the
// archive then lacks its manifest and no restore accepts it), never a
// complete-looking one.
func (s *Server) routeBackup() {
	s.handle("POST /v1/backup", true, func(w http.ResponseWriter, r *http.Request) {
		if s.backups == nil {
			writeError(w, http.StatusNotImplemented, "this node takes no backups")
			return
		}
		compress := true
		switch r.URL.Query().Get("compress") {
		case "", "gzip":
		case "none":
			compress = false
		default:
			writeError(w, http.StatusBadRequest, `compress: "gzip" (the default) or "none"`)
			return
		}
		lw := &lazyWriter{w: w, compress: compress}
		_, err := s.backups.Backup(r.Context(), lw, compress)
		switch {
		case err == nil:
			return
		case lw.started:
			s.log.Error("backup failed while streaming; response aborted", "err", err)
			panic(http.ErrAbortHandler)
		case errors.Is(err, ErrBackupRunning):
			writeError(w, http.StatusConflict, err.Error())
		case errors.Is(err, exchange.ErrAuditUnavailable):
			writeError(w, http.StatusServiceUnavailable, err.Error())
		default:
			writeError(w, http.StatusInternalServerError, "backup: "+err.Error())
		}
	})
}

// lazyWriter sends the archive's headers with its first byte.
type lazyWriter struct {
	w        http.ResponseWriter
	compress bool
	started  bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		typ, ext := "application/x-tar", "tar"
		if l.compress {
			typ, ext = "application/gzip", "tar.gz"
		}
		l.w.Header().Set("Content-Type", typ)
		l.w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="xborder-backup-%s.%s"`, time.Now().UTC().Format("20060102T150405Z"), ext))
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}
