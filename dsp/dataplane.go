package dsp

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// countingWriter counts the body bytes served.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// handleData serves a started transfer's content to the holder of its
// token: ranges (a consumer resumes), the SHA-256 as Repr-Digest and
// ETag. The token is the only credential: it lives as long as
// DataTokenTTL, and ends with the transfer's suspension, completion or
// termination.
func (s *Service) handleData(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	denied := refuse(http.StatusUnauthorized, CodeUnauthorized, "The data address's token is missing, wrong or expired; ask the provider to start the transfer again.")
	t, err := s.store.transfer(pid)
	if err != nil || t.Role != RoleProvider || token == "" || !tokenMatches(token, t.TokenSHA256) {
		writeError(w, TypeTransferError, pid, "", denied)
		return
	}
	if t.State != TPStarted || !s.now().Before(t.TokenExpires) {
		writeError(w, TypeTransferError, t.ProviderPID, t.ConsumerPID, denied)
		return
	}
	n, err := s.store.agreement(RoleProvider, t.AgreementID)
	if err != nil || (!n.ValidUntil.IsZero() && !s.now().Before(n.ValidUntil)) {
		writeError(w, TypeTransferError, t.ProviderPID, t.ConsumerPID, refuse(http.StatusForbidden, CodeAgreement, "The agreement this transfer was started under is no longer in force."))
		return
	}
	f, err := s.d.Catalogue.Open(r.Context(), t.SHA256)
	if err != nil {
		writeError(w, TypeTransferError, t.ProviderPID, t.ConsumerPID, refuse(http.StatusGone, CodeNotFound, "The content of this transfer is no longer held by the provider."))
		return
	}
	defer f.Close()
	if err := s.d.Recorder.Record("dsp.transfer.served", t.ProviderPID, map[string]any{
		"participant": t.Participant, "dataset": t.Dataset, "sha256": t.SHA256, "range": r.Header.Get("Range"), "method": r.Method,
	}); err != nil {
		writeError(w, TypeTransferError, t.ProviderPID, t.ConsumerPID, refuse(http.StatusServiceUnavailable, CodeAuditFailed,
			"The provider could not write its audit record, so it serves nothing: "+err.Error()))
		return
	}
	if raw, err := hex.DecodeString(t.SHA256); err == nil {
		w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(raw)+":")
	}
	w.Header().Set("ETag", `"`+t.SHA256+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if t.MediaType != "" {
		w.Header().Set("Content-Type", t.MediaType)
	}
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, f)
	if cw.n > 0 {
		_, _ = s.store.updateTransfer(t.Key(), func(t *Transfer) error { t.BytesServed += cw.n; return nil })
	}
}
