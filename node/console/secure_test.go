package console

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/xborder/xborder/node/api"
)

// setCookies parses the Set-Cookie headers of an answer by name.
func setCookies(h http.Header) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		out[c.Name] = c
	}
	return out
}

// Over plain HTTP the cookies are not Secure (a browser would drop them on
// http://127.0.0.1); behind a TLS-terminating proxy (an https public URL)
// they are, though the proxy forwards plain HTTP and no header says so.
// Over TLS itself: TestNodeServesAPIOverTLS in package node.
func TestCookiesSecureBehindHTTPSProxy(t *testing.T) {
	for _, proxied := range []bool{false, true} {
		tc := newTestConsole(t)
		tc.c.svc.SecureCookies = proxied
		b := tc.browser()
		req, _ := http.NewRequest(http.MethodGet, tc.srv.URL+Prefix+"signin?lang=de&code="+url.QueryEscape(tc.code(api.RoleOperator)), nil)
		// A client claiming https is not believed either way.
		req.Header.Set("X-Forwarded-Proto", "https")
		resp := tc.do(b, req)
		if resp.code != http.StatusSeeOther {
			t.Fatalf("proxied=%v: sign-in answered %d: %s", proxied, resp.code, resp.body)
		}
		got := setCookies(resp.header)
		for _, name := range []string{sessionCookie, langCookie} {
			c := got[name]
			if c == nil {
				t.Fatalf("proxied=%v: no %s cookie in %q", proxied, name, resp.header.Values("Set-Cookie"))
			}
			if c.Secure != proxied || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("proxied=%v: %s cookie Secure=%v HttpOnly=%v SameSite=%v", proxied, name, c.Secure, c.HttpOnly, c.SameSite)
			}
		}
	}
}
