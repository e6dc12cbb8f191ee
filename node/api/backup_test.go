package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/internal/backup"
)

// failingBackups writes part of an archive, as a node whose disk fails
// in the middle of a store's copy, or fails before writing anything.
type failingBackups struct {
	before error // returned before the first byte
}

func (b failingBackups) Backup(_ context.Context, w io.Writer, compress bool) (backup.Manifest, error) {
	if b.before != nil {
		return backup.Manifest{}, b.before
	}
	a := backup.NewWriter(w, compress)
	fw, err := a.Create("audit.db", 1<<20)
	if err != nil {
		return backup.Manifest{}, err
	}
	// Enough to be sent before the failure.
	if _, err := fw.Write(bytes.Repeat([]byte("x"), 256<<10)); err != nil {
		return backup.Manifest{}, err
	}
	return backup.Manifest{}, errors.New("read audit.db: input/output error")
}

func backupServer(t *testing.T, b Backups) (*httptest.Server, string) {
	t.Helper()
	f := newFixture(t) // for its key and token
	reg := prometheus.NewRegistry()
	s := NewServer(Deps{Backend: fixedBackend{}, Policies: fixedPolicies{}, Registry: &memRegistry{}, Audit: memAudit{},
		Catalogue: memCatalogue{}, Exchange: memExchange{}, Backups: b,
		Tokens: &Verifier{Key: f.key.Public().(ed25519.PublicKey), NodeID: nodeID}, Authz: roleAuthorizer{},
		Log: slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, f.token(t, RoleOperator, 3600e9)
}

func postBackup(t *testing.T, url, tok string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// A backup failing after its first byte is cut off, never ended as if it
// were whole: what arrived is refused by a restore.
func TestBackupFailingMidStreamIsCutOff(t *testing.T) {
	srv, tok := backupServer(t, failingBackups{})
	resp, body, err := postBackup(t, srv.URL+"/v1/backup?compress=none", tok)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Fatalf("status %d, read error %v: the stream must break", resp.StatusCode, err)
	}
	if len(body) == 0 {
		t.Fatal("nothing arrived before the failure: the test tests nothing")
	}
	if _, err := backup.Verify(bytes.NewReader(body)); !errors.Is(err, backup.ErrTruncated) {
		t.Fatalf("the cut archive: %v", err)
	}
}

func TestBackupRefusalsBeforeTheFirstByte(t *testing.T) {
	srv, tok := backupServer(t, failingBackups{before: ErrBackupRunning})
	resp, body, _ := postBackup(t, srv.URL+"/v1/backup", tok)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "already running") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body, _ = postBackup(t, srv.URL+"/v1/backup?compress=zip", tok)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	srv, tok = backupServer(t, nil)
	if resp, body, _ = postBackup(t, srv.URL+"/v1/backup", tok); resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("no Backups: %d %s", resp.StatusCode, body)
	}
}
