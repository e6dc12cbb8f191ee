package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/internal/backup"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/oidc/oidctest"
)

// eucor is an identity provider of the Upper Rhine's universities, as a
// region's node trusts it in these tests.
type eucor struct {
	*oidctest.Provider
	clientID string
}

const eucorSecret = "secret-of-the-region"

// startEucor starts the provider with a web client for a node whose
// public URL is base.
func startEucor(t *testing.T, base string) *eucor {
	t.Helper()
	clientID := "xborder-test"
	p, err := oidctest.Start(oidctest.Config{
		Users: []oidctest.User{
			{ID: "u-ada", Username: "ada", Password: "pw-ada", Claims: map[string]any{
				"email": "ada@uni-freiburg.de", "name": "Ada",
				"eduperson_scoped_affiliation": []any{"member@uni-freiburg.de", "staff@uni-freiburg.de"}}},
			{ID: "u-sam", Username: "sam", Password: "pw-sam", Claims: map[string]any{
				"email": "sam@unistra.fr", "name": "Sam",
				"eduperson_scoped_affiliation": []any{"student@unistra.fr"}}},
		},
		Clients: []oidctest.Client{{ID: clientID, Secret: eucorSecret,
			RedirectURIs:           []string{base + "/console/oidc/callback"},
			PostLogoutRedirectURIs: []string{base + "/console/signin?ok=signed_out"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &eucor{Provider: p, clientID: clientID}
}

// withEucor configures node i to sign researchers in with the provider,
// and its policy to trust it (a file of the region's own next to the
// shipped policies).
func (f *testFed) withEucor(t *testing.T, i int, idp *eucor, trusted bool) {
	t.Helper()
	secret := filepath.Join(f.dirs[i], "eucor.secret")
	must(t, os.WriteFile(secret, []byte(eucorSecret+"\n"), 0o600))
	f.cfgs[i].IdentityProviders = []oidc.Config{{Name: "eucor", DisplayName: "Eucor universities",
		Issuer: idp.Issuer(), ClientID: idp.clientID, ClientSecretFile: "eucor.secret"}}
	if trusted {
		rule := fmt.Sprintf("package xborder.api\n\ntrusted_issuers[%q] := \"Eucor\"\n", idp.Issuer())
		must(t, os.WriteFile(filepath.Join(f.dirs[i], f.cfgs[i].Policies, "local_identity.rego"), []byte(rule), 0o644))
	}
}

// browserSignIn signs user in at the node's console through the
// provider's login page, as a browser does; it returns the browser (its
// cookie jar holds the session) and the callback's answer.
func browserSignIn(t *testing.T, n *Node, user, password string) (*http.Client, int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	resp, err := c.Get("http://" + n.APIAddr() + "/console/signin/eucor")
	must(t, err)
	resp.Body.Close()
	login := resp.Request.URL
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(login.Path, oidctest.LoginPath) {
		t.Fatalf("the sign-in did not reach the provider's login page: %d at %s", resp.StatusCode, login)
	}
	form := url.Values{"authRequestID": {login.Query().Get("authRequestID")}, "username": {user}, "password": {password}}
	resp, err = c.PostForm(login.Scheme+"://"+login.Host+oidctest.LoginPath, form)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return c, resp.StatusCode, string(body)
}

func sessionCookie(c *http.Client, n *Node) string {
	u, _ := url.Parse("http://" + n.APIAddr() + "/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "xborder_session" {
			return ck.Value
		}
	}
	return ""
}

// A researcher signs in with her university's identity and gets the role
// her region's policy gives her claims; the session survives a restart
// and keeps her identity; a student of a listed university gets no role,
// and neither does anyone at a region whose policy does not trust the
// issuer. API clients present the issuer's access tokens under the same
// rules; forged, expired and foreign tokens are refused, and every
// refusal is in the audit trail.
func TestResearchersSignInWithTheirInstitution(t *testing.T) {
	f := newTestFed(t, "signin", []string{"fr-grandest", "ch-basel"}, nil)
	for i := range f.cfgs {
		f.cfgs[i].API = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t, false))
	}
	idp := startEucor(t, "http://"+f.cfgs[0].API)
	f.withEucor(t, 0, idp, true)
	f.withEucor(t, 1, idp, false)
	fr := f.start(0)

	// The sign-in page offers the issuer; the API says so to clients.
	providers := apiGetJSON[struct{ Providers []api.SignInProvider }](t, fr, "/v1/signin/providers", "")
	if len(providers.Providers) != 1 || providers.Providers[0].Issuer != idp.Issuer() || providers.Providers[0].ConsoleSignIn != "/console/signin/eucor" {
		t.Fatalf("providers: %+v", providers)
	}

	browser, code, body := browserSignIn(t, fr, "ada", "pw-ada")
	if code != http.StatusOK || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("callback: %d %s", code, body)
	}
	token := sessionCookie(browser, fr)
	if token == "" {
		t.Fatal("no session cookie after the sign-in")
	}
	resp, err := browser.Get("http://" + fr.APIAddr() + "/console/catalogue")
	must(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "eucor:u-ada") {
		t.Fatalf("the researcher's catalogue page: %d", resp.StatusCode)
	}
	// The session survives a restart, with the identity it was given.
	must(t, fr.Close())
	fr = f.start(0)
	if code := consoleGet(t, fr, "/console/catalogue", token); code != http.StatusOK {
		t.Fatalf("after the restart the session answers %d", code)
	}
	_, list := sessionsAPI(t, fr, http.MethodGet, "/v1/sessions", api.RoleOperator)
	var sessions []api.ConsoleSession
	must(t, json.Unmarshal(list, &sessions))
	if len(sessions) != 1 || sessions[0].Method != "oidc" || sessions[0].Subject != "eucor:u-ada" || sessions[0].Role != api.RoleResearcher {
		t.Fatalf("sessions: %s", list)
	}
	st, err := fr.sessions.Get(sessions[0].ID)
	must(t, err)
	if st.Identity == nil || st.Identity.Email != "ada@uni-freiburg.de" || st.Identity.Issuer != idp.Issuer() {
		t.Fatalf("the session's identity: %+v", st.Identity)
	}

	// A student of a listed university is who she says, and may do
	// nothing here.
	_, code, body = browserSignIn(t, fr, "sam", "pw-sam")
	if code != http.StatusForbidden || !strings.Contains(body, "sam@unistra.fr") || !strings.Contains(body, "no role") ||
		!strings.Contains(body, "none of the identity&#39;s entitlements, groups or affiliations gives a role") {
		t.Fatalf("the student's sign-in: %d %s", code, body)
	}

	// API clients: the issuer's access tokens, decided by the same policy.
	now := time.Now()
	claims := func(sub, email string, aff []any, exp time.Time) map[string]any {
		return map[string]any{"iss": idp.Issuer(), "sub": sub, "aud": idp.clientID, "iat": now.Unix(), "exp": exp.Unix(),
			"email": email, "eduperson_scoped_affiliation": aff}
	}
	ada := idp.SignWithCurrentKey(claims("u-ada", "ada@uni-freiburg.de", []any{"staff@uni-freiburg.de"}, now.Add(5*time.Minute)))
	if code, body := apiGet(t, fr, "/v1/catalogue", ada); code != http.StatusOK {
		t.Fatalf("the researcher's access token: %d %s", code, body)
	}
	if code, _ := apiGet(t, fr, "/v1/audit", ada); code != http.StatusForbidden {
		t.Fatalf("a researcher reads the audit trail: %d", code)
	}
	sam := idp.SignWithCurrentKey(claims("u-sam", "sam@unistra.fr", []any{"student@unistra.fr"}, now.Add(5*time.Minute)))
	if code, body := apiGet(t, fr, "/v1/catalogue", sam); code != http.StatusForbidden || !strings.Contains(body, "may do nothing at this node") {
		t.Fatalf("the student's access token: %d %s", code, body)
	}
	for name, tok := range map[string]string{
		"expired":       idp.SignWithCurrentKey(claims("u-ada", "ada@uni-freiburg.de", []any{"staff@uni-freiburg.de"}, now.Add(-time.Hour))),
		"forged":        idp.SignWithUnpublishedKey(claims("u-ada", "ada@uni-freiburg.de", []any{"staff@uni-freiburg.de"}, now.Add(5*time.Minute))),
		"other client":  idp.SignWithCurrentKey(map[string]any{"iss": idp.Issuer(), "sub": "u-ada", "aud": "another-service", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "email": "ada@uni-freiburg.de"}),
		"missing email": idp.SignWithCurrentKey(map[string]any{"iss": idp.Issuer(), "sub": "u-ada", "aud": idp.clientID, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}),
	} {
		if code, body := apiGet(t, fr, "/v1/catalogue", tok); code != http.StatusUnauthorized || !strings.Contains(body, "oidc eucor") {
			t.Errorf("%s token: %d %s", name, code, body)
		}
	}

	// Every refusal is in the trail, with its reason.
	recs, _, err := fr.audit.AuditRecords(context.Background(), audit.Filter{Type: auditIdentityRefused})
	must(t, err)
	reasons := map[string]bool{}
	for _, r := range recs {
		var d api.IdentityRefusal
		must(t, json.Unmarshal(r.Details, &d))
		reasons[d.Via+": "+d.Reason] = true
	}
	for _, want := range []string{"console: " + api.ErrNoRole.Error(), "api: " + api.ErrNoRole.Error(),
		"api: " + oidc.ErrExpired.Error(), "api: " + oidc.ErrUnknownKey.Error(), "api: " + oidc.ErrWrongAudience.Error(),
		"api: " + oidc.ErrMissingClaim.Error()} {
		if !reasons[want] {
			t.Errorf("no identity.refused record %q among %v", want, reasons)
		}
	}

	// Basel's policy does not trust the issuer: the same researcher is
	// refused there.
	ch := f.start(1)
	if code, body := apiGet(t, ch, "/v1/catalogue", ada); code != http.StatusForbidden ||
		!strings.Contains(body, "does not trust identities from "+idp.Issuer()) {
		t.Fatalf("Basel with a Eucor token: %d %s", code, body)
	}
}

func apiGet(t *testing.T, n *Node, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.APIAddr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func apiGetJSON[T any](t *testing.T, n *Node, path, token string) T {
	t.Helper()
	code, body := apiGet(t, n, path, token)
	var v T
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	must(t, json.Unmarshal([]byte(body), &v))
	return v
}

// A backup carries the files config.yaml names in the data dir (the
// identity provider's secret here): a restored node signs people in as
// before.
func TestBackupCarriesTheIdentityProvidersSecret(t *testing.T) {
	f := newTestFed(t, "signin-backup", []string{"fr-grandest"}, nil)
	f.cfgs[0].API = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t, false))
	idp := startEucor(t, "http://"+f.cfgs[0].API)
	f.withEucor(t, 0, idp, true)
	n := f.start(0)
	code, archive := takeBackup(t, n, api.RoleOperator)
	if code != http.StatusOK {
		t.Fatalf("backup: %d %s", code, archive)
	}
	m, err := backup.Verify(bytes.NewReader(archive))
	must(t, err)
	held := map[string]bool{}
	for _, f := range m.Files {
		held[f.Path] = true
	}
	if !held["eucor.secret"] || !held["policies/local_identity.rego"] {
		t.Fatalf("the archive lacks the provider's secret or the region's identity rule: %v", held)
	}
}

// identity_providers in config.yaml: what a region writes (only what
// differs from the defaults) reads back with the defaults filled in, the
// redirect URI under public_url and the files under the data dir; what is
// wrong is named before the node starts.
func TestIdentityProvidersConfiguration(t *testing.T) {
	dir := t.TempDir()
	yml := `name: fr-grandest
country: FR
org: Région Grand Est
public_url: https://xborder.grandest.example
identity_providers:
  - name: unistra
    display_name: Université de Strasbourg
    issuer: https://keycloak.unistra.example/realms/research
    client_id: xborder-grandest
    client_secret_file: oidc/unistra.secret
    device_client_id: xborder-cli
    claims:
      groups: roles
    login_ttl: 5m
`
	must(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte(yml), 0o644))
	cfg, err := LoadConfig(dir)
	must(t, err)
	must(t, cfg.Validate())
	got := cfg.identityProviders(dir)
	if len(got) != 1 {
		t.Fatalf("providers: %+v", got)
	}
	p := got[0]
	if p.RedirectURL != "https://xborder.grandest.example/console/oidc/callback" || p.ClientSecretFile != filepath.Join(dir, "oidc/unistra.secret") ||
		p.Claims.Groups != "roles" || p.Claims.Entitlements != "eduperson_entitlement" || p.LoginTTL != 5*time.Minute ||
		len(p.Claims.Required) != 1 || p.DeviceClientID != "xborder-cli" || p.Label() != "Université de Strasbourg" {
		t.Fatalf("the provider as the node uses it: %+v", p)
	}
	// The secret is checked when the node opens the providers: missing, it
	// stops the start with the path.
	f := newTestFed(t, "signin-config", []string{"fr-grandest"}, nil)
	f.cfgs[0].IdentityProviders = cfg.IdentityProviders
	n, err := Open(f.dirs[0], f.cfgs[0], WithLogger(testLogger(t, "fr-grandest")))
	if err == nil {
		err = n.Start(context.Background())
		_ = n.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "unistra.secret") {
		t.Fatalf("a missing client secret: %v", err)
	}

	for name, edit := range map[string]func(*oidc.Config){
		"name":   func(c *oidc.Config) { c.Name = "Uni Strasbourg" },
		"issuer": func(c *oidc.Config) { c.Issuer = "http://keycloak.unistra.example" },
		"client": func(c *oidc.Config) { c.ClientID = "" },
	} {
		bad := cfg
		bad.IdentityProviders = []oidc.Config{cfg.IdentityProviders[0]}
		edit(&bad.IdentityProviders[0])
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "identity_providers") {
			t.Errorf("a bad %s: %v", name, err)
		}
	}
}
