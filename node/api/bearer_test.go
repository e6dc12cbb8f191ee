package api

import (
	"net/http"
	"testing"
	"time"
)

// TestAuthorizationSchemeIsCaseInsensitive: RFC 9110 section 11.1 makes
// the authentication scheme case-insensitive, so every spelling of Bearer
// is accepted, as are extra spaces or a tab before the token; other schemes
// and a scheme without a token are not.
func TestAuthorizationSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, RoleResearcher, time.Hour)
	for _, c := range []struct {
		header string
		want   int
	}{
		{"Bearer " + tok, http.StatusOK},
		{"bearer " + tok, http.StatusOK},
		{"BEARER " + tok, http.StatusOK},
		{"bEaReR " + tok, http.StatusOK},
		{"Bearer   " + tok, http.StatusOK},
		{"Bearer\t" + tok, http.StatusOK},
		{" Bearer " + tok + " ", http.StatusOK},
		{"Basic " + tok, http.StatusUnauthorized},
		{"Bearer" + tok, http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"bearer", http.StatusUnauthorized},
		{tok, http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/v1/status", nil)
		req.Header.Set("Authorization", c.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Authorization %.20q...: %d, want %d", c.header, resp.StatusCode, c.want)
		}
	}
}
