package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// countingReader is an endless body that counts what is read of it.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestRoleIsCheckedBeforeTheBodyIsRead: the API authenticates and asks
// the API policy before a handler reads the body, so a researcher's
// upload is refused 403 without being read.
func TestRoleIsCheckedBeforeTheBodyIsRead(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/v1/datasets", "/v1/projects", "/v1/policy/eval"} {
		body := &countingReader{}
		req := httptest.NewRequest(http.MethodPost, path, io.NopCloser(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		req.Header.Set("Authorization", "Bearer "+f.token(t, RoleResearcher, time.Hour))
		rec := httptest.NewRecorder()
		f.server.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("researcher POST %s = %d: %s", path, rec.Code, rec.Body)
		}
		if n := body.n.Load(); n != 0 {
			t.Errorf("POST %s: %d bytes read before the role was checked", path, n)
		}
	}
}
