package console

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xborder/xborder/node/api"
)

// meteredBody is a large multipart publish form, produced as it is read:
// a file part of size bytes, then the session's CSRF token. It counts the
// bytes the server reads.
type meteredBody struct {
	r    io.Reader
	read atomic.Int64
}

func newMeteredBody(boundary, csrf string, size int64) *meteredBody {
	head := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n", boundary)
	tail := fmt.Sprintf("\r\n--%s\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n--%s--\r\n", boundary, csrf, boundary)
	return &meteredBody{r: io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, size), strings.NewReader(tail))}
}

func (b *meteredBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// TestRoleIsCheckedBeforeTheBodyIsRead: a researcher's 64 MiB publish
// form, with a valid CSRF token after the file, is refused 403 before the
// console reads (or spools to disk) more than a few bytes of it.
func TestRoleIsCheckedBeforeTheBodyIsRead(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	csrf := tc.csrf(b)
	u, _ := url.Parse(tc.srv.URL + Prefix)
	var session *http.Cookie
	for _, ck := range b.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	const boundary = "xborder-test-boundary"
	body := newMeteredBody(boundary, csrf, 64<<20)
	req := httptest.NewRequest(http.MethodPost, Prefix+"publish", body)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	req.AddCookie(session)
	rec := httptest.NewRecorder()
	tc.c.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "data.xborder.api.allow") {
		t.Errorf("researcher's publish = %d: %.300s", rec.Code, rec.Body.String())
	}
	if n := body.read.Load(); n > 4<<10 {
		t.Errorf("the console read %d bytes of a form the role may not send", n)
	}
}
