package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/cmd/xborder/internal/signins"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/oidc/oidctest"
	"github.com/xborder/xborder/policy"
)

const (
	loginPassword = "correct horse battery staple"
	cliClient     = "xborder-cli"
)

// loginBackend is the node's status, for `xborder status`.
type loginBackend struct{}

func (loginBackend) Status(context.Context) api.Status {
	return api.Status{Name: "de-bw", Country: "DE", Org: "Land Baden-Württemberg", Members: 1}
}
func (loginBackend) Peers(context.Context) []api.Peer { return nil }
func (loginBackend) Readiness(context.Context) api.Readiness {
	return api.Readiness{Ready: true}
}

// loginNode is a real OpenID provider with a device client, and a real
// API server that trusts it (with device_client_id) and decides roles
// with the shipped policies plus a local_identity.rego trusting it.
type loginNode struct {
	idp  *oidctest.Provider
	addr string
}

func newLoginNode(t *testing.T, deviceClient string) *loginNode {
	t.Helper()
	idp, err := oidctest.Start(oidctest.Config{
		Users: []oidctest.User{
			{ID: "ada-1", Username: "ada", Password: loginPassword, Claims: map[string]any{
				"email": "ada@uni-freiburg.de", "eduperson_scoped_affiliation": []string{"member@uni-freiburg.de", "staff@uni-freiburg.de"}}},
			{ID: "bob-2", Username: "bob", Password: loginPassword, Claims: map[string]any{
				"email": "bob@uni-freiburg.de", "eduperson_scoped_affiliation": []string{"student@uni-freiburg.de"}}},
		},
		Clients:            []oidctest.Client{{ID: "xborder-node", Secret: "s3cret", RedirectURIs: []string{"http://127.0.0.1/console/oidc/callback"}}, {ID: cliClient, Device: true}},
		DevicePollInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)

	dir := testkit.ShippedPolicies(t)
	testkit.TrustIssuer(t, dir, idp.Issuer(), "Test IdP")
	engine, err := policy.NewEngine(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	iss, err := oidc.NewIssuers([]oidc.Config{oidc.Config{Name: "uni-freiburg", DisplayName: "Universität Freiburg", Issuer: idp.Issuer(),
		ClientID: "xborder-node", DeviceClientID: deviceClient, RedirectURL: "http://127.0.0.1/console/oidc/callback"}.WithDefaults()}, oidc.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	reg := prometheus.NewRegistry()
	s := api.NewServer(api.Deps{Backend: loginBackend{}, Identities: iss, Roles: engine, Authz: engine,
		Tokens: &api.Verifier{Key: pub, NodeID: "12D3KooWALzKvL7u9t9Sf6RW9JSNRHtJcdXcU4tUpf9VzubwPNvG"},
		Log:    slog.New(slog.DiscardHandler), Registerer: reg, Gatherer: reg})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &loginNode{idp: idp, addr: srv.URL}
}

// promptWatcher is the CLI's stderr: it spots the device prompt and hands
// its address and code to the user.
type promptWatcher struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prompt chan [2]string
	sent   bool
}

var promptLine = regexp.MustCompile(`Open (\S+) and enter code (\S+)\n`)

func (w *promptWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := promptLine.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.prompt <- [2]string{m[1], m[2]}
	}
	return len(p), nil
}

func (w *promptWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// login runs `xborder login` while a goroutine plays user at the
// provider's device page: it opens the address the CLI printed and
// approves with her password.
func (n *loginNode) login(t *testing.T, user string, args ...string) (int, string, string) {
	t.Helper()
	w := &promptWatcher{prompt: make(chan [2]string, 1)}
	done := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		select {
		case p := <-w.prompt:
			done <- approve(p[0], p[1], user)
		case <-stop:
			done <- nil
		}
	}()
	var out bytes.Buffer
	code := execute(append([]string{"--addr", n.addr, "--data", filepath.Join(t.TempDir(), "none"), "login"}, args...), &out, w)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("the user at the device page: %v (CLI: %s)", err, w)
	}
	return code, out.String(), w.String()
}

func approve(uri, code, user string) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(uri + "?user_code=" + url.QueryEscape(code))
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `id="user_code"`) {
		return fmt.Errorf("no device form: %s", page)
	}
	resp, err = c.PostForm(uri, url.Values{"user_code": {code}, "username": {user}, "password": {loginPassword}, "action": {"approve"}})
	if err != nil {
		return err
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `id="result"`) {
		return fmt.Errorf("approval: status %d, page %s", resp.StatusCode, page)
	}
	return nil
}

func TestLoginThroughTheDeviceGrant(t *testing.T) {
	t.Setenv(signins.EnvDir, filepath.Join(t.TempDir(), "config"))
	n := newLoginNode(t, cliClient)
	store := signins.Open(os.Getenv(signins.EnvDir))
	run := func(args ...string) (int, string, string) {
		return xb(t, append([]string{"--addr", n.addr, "--data", filepath.Join(t.TempDir(), "none")}, args...)...)
	}

	// Without a sign-in, and without admin.token, the CLI says what to do.
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "run `xborder login`") {
		t.Fatalf("status before login: %d %q", code, errs)
	}

	// A student of the university gets no role: refused, nothing saved.
	code, out, errs := n.login(t, "bob")
	t.Logf("xborder login, refused:\n%s", errs)
	if code != exitDenied || !strings.Contains(errs, "may do nothing at this node") || !strings.Contains(errs, "not saved") || out != "" {
		t.Fatalf("login of a user with no role: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(store.Path()); !os.IsNotExist(err) {
		t.Fatalf("a refused sign-in left %s (%v)", store.Path(), err)
	}

	// Staff of the university is a researcher: the token is saved and used.
	code, out, errs = n.login(t, "ada")
	t.Logf("xborder login:\n%s", errs)
	if code != exitOK || out != "" {
		t.Fatalf("login: %d %q %q", code, out, errs)
	}
	for _, want := range []string{"Open " + n.idp.Issuer() + oidctest.DevicePath, "which carries the code", "Waiting for you to approve",
		"Signed in as ada@uni-freiburg.de (role at this node: researcher)", "saved in " + store.Path()} {
		if !strings.Contains(errs, want) {
			t.Fatalf("login's output lacks %q: %s", want, errs)
		}
	}
	saved, ok, err := store.Get(n.addr)
	if err != nil || !ok || saved.Role != "researcher" || saved.Email != "ada@uni-freiburg.de" || saved.Provider != "uni-freiburg" ||
		saved.Subject != "uni-freiburg:ada-1" || time.Until(saved.Expires) < time.Minute {
		t.Fatalf("saved sign-in %+v %v %v", saved, ok, err)
	}
	// With what renews it: the refresh token the provider issued for the
	// scope offline_access, and the client it was issued to.
	if saved.RefreshToken == "" || saved.ClientID != cliClient || !slices.Contains(saved.Scopes, oidc.ScopeOfflineAccess) ||
		saved.Issuer != n.idp.Issuer() || saved.IDPCAFile != "" || !strings.Contains(errs, "with a refresh token that renews it") {
		t.Fatalf("saved sign-in %+v, login said %q", saved, errs)
	}
	for p, want := range map[string]os.FileMode{store.Path(): 0o600, filepath.Dir(store.Path()): 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: %v, want mode %v", p, err, want)
		}
	}
	if code, out, errs := run("status"); code != exitOK || !strings.Contains(out, "de-bw") {
		t.Fatalf("status as the researcher: %d %q %q", code, out, errs)
	}
	if code, out, errs := run("whoami"); code != exitOK || !strings.Contains(out, "researcher") || !strings.Contains(out, "ada@uni-freiburg.de") {
		t.Fatalf("whoami: %d %q %q", code, out, errs)
	}
	// It is the researcher's token, and the policy holds her to her role.
	if code, _, errs := run("session", "list"); code != exitError || !strings.Contains(errs, "the researcher role may not call GET /v1/sessions") {
		t.Fatalf("session list as the researcher: %d %q", code, errs)
	}
	// --token and XBORDER_TOKEN still come first.
	if code, _, errs := run("--token", "not-a-token", "status"); code != exitError || !strings.Contains(errs, "refused the token") {
		t.Fatalf("--token over the saved sign-in: %d %q", code, errs)
	}
	t.Setenv("XBORDER_TOKEN", "not-a-token")
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "refused the token") {
		t.Fatalf("XBORDER_TOKEN over the saved sign-in: %d %q", code, errs)
	}
	os.Unsetenv("XBORDER_TOKEN")

	// --no-save --print-token: the token on stdout, the file untouched.
	before, _ := os.ReadFile(store.Path())
	code, out, errs = n.login(t, "ada", "--no-save", "--print-token")
	if code != exitOK || strings.Count(strings.TrimSpace(out), ".") != 2 || strings.Contains(errs, "saved in") {
		t.Fatalf("login --no-save --print-token: %d %q %q", code, out, errs)
	}
	if after, _ := os.ReadFile(store.Path()); !bytes.Equal(before, after) {
		t.Fatal("--no-save changed the saved sign-ins")
	}

	// A corrupted file is a clear error, and login rewrites it.
	if err := os.WriteFile(store.Path(), []byte(`{"version": 1, "nodes": {`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "cannot be read") || !strings.Contains(errs, "xborder login") {
		t.Fatalf("status with a corrupted file: %d %q", code, errs)
	}
	code, _, errs = n.login(t, "ada")
	if code != exitOK || !strings.Contains(errs, "rewritten with this sign-in alone") {
		t.Fatalf("login over a corrupted file: %d %q", code, errs)
	}
	if code, _, errs := run("status"); code != exitOK {
		t.Fatalf("status after the rewrite: %d %q", code, errs)
	}

	// An expired sign-in without a refresh token (a provider that issues
	// none) says so.
	saved, _, _ = store.Get(n.addr)
	saved.Expires, saved.RefreshToken = time.Now().Add(-time.Minute), ""
	if _, err := store.Put(n.addr, saved); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "your sign-in at "+n.addr+" expired on ") ||
		!strings.Contains(errs, "run `xborder login`") {
		t.Fatalf("status with an expired sign-in: %d %q", code, errs)
	}

	// logout removes it; the CLI is back to having no token.
	if code, _, errs := run("logout"); code != exitOK || !strings.Contains(errs, "Signed out of "+n.addr) {
		t.Fatalf("logout: %d %q", code, errs)
	}
	if _, ok, err := store.Get(n.addr); ok || err != nil {
		t.Fatalf("after logout: %v %v", ok, err)
	}
	if code, _, errs := run("logout"); code != exitOK || !strings.Contains(errs, "No sign-in was saved") {
		t.Fatalf("logout again: %d %q", code, errs)
	}
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "no API token") {
		t.Fatalf("status after logout: %d %q", code, errs)
	}
}

func TestLoginNeedsADeviceClient(t *testing.T) {
	t.Setenv(signins.EnvDir, filepath.Join(t.TempDir(), "config"))
	n := newLoginNode(t, "")
	code, _, errs := xb(t, "--addr", n.addr, "--data", t.TempDir(), "login")
	if code != exitError || !strings.Contains(errs, "offers no CLI sign-in") || !strings.Contains(errs, "device_client_id") {
		t.Fatalf("login at a node without device client: %d %q", code, errs)
	}
	code, _, errs = xb(t, "--addr", n.addr, "--data", t.TempDir(), "login", "--provider", "uni-freiburg")
	if code != exitError || !strings.Contains(errs, "no CLI sign-in through uni-freiburg") {
		t.Fatalf("login --provider at a node without device client: %d %q", code, errs)
	}
}

func TestChooseProvider(t *testing.T) {
	a := api.SignInProvider{Name: "uni-freiburg", DisplayName: "Universität Freiburg", Issuer: "https://idp.uni-freiburg.de", DeviceClientID: "cli"}
	b := api.SignInProvider{Name: "ls-login", DisplayName: "LS Login", Issuer: "https://login.aai.lifescience-ri.eu/oidc/", DeviceClientID: "cli"}
	web := api.SignInProvider{Name: "web-only", Issuer: "https://web.example"}
	if p, err := chooseProvider([]api.SignInProvider{web, a}, "", "http://n"); err != nil || p.Name != a.Name {
		t.Fatalf("the only device provider: %+v %v", p, err)
	}
	_, err := chooseProvider([]api.SignInProvider{a, b}, "", "http://n")
	if err == nil || !strings.Contains(err.Error(), "--provider NAME") || !strings.Contains(err.Error(), "ls-login") || !strings.Contains(err.Error(), "uni-freiburg") {
		t.Fatalf("two providers: %v", err)
	}
	if p, err := chooseProvider([]api.SignInProvider{a, b}, "ls-login", "http://n"); err != nil || p.Name != "ls-login" {
		t.Fatalf("--provider ls-login: %+v %v", p, err)
	}
	if _, err := chooseProvider([]api.SignInProvider{a, b}, "nope", "http://n"); err == nil || !strings.Contains(err.Error(), `no identity provider "nope"`) {
		t.Fatalf("--provider nope: %v", err)
	}
	if _, err := chooseProvider(nil, "", "http://n"); err == nil || !strings.Contains(err.Error(), "offers no CLI sign-in") {
		t.Fatalf("no provider: %v", err)
	}
}

func TestIdPCAFile(t *testing.T) {
	if _, err := idpClient(filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "--idp-ca-file") {
		t.Fatalf("missing file: %v", err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := idpClient(notPEM); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("not PEM: %v", err)
	}
	// A provider under a private CA is reached with its certificate, and
	// not without it.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "idp-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{ca, ""} {
		c, err := idpClient(file)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Get(srv.URL)
		if (err == nil) != (file != "") {
			t.Fatalf("with CA file %q: %v", file, err)
		}
		if err == nil {
			resp.Body.Close()
		}
		c.CloseIdleConnections()
	}
}

// expire makes the saved sign-in's access token expire at when, as time
// passing would; the token itself is left as it is.
func expire(t *testing.T, store *signins.Store, addr string, when time.Time) signins.SignIn {
	t.Helper()
	in, ok, err := store.Get(addr)
	if err != nil || !ok {
		t.Fatalf("no saved sign-in: %v", err)
	}
	in.Expires = when
	if _, err := store.Put(addr, in); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestSignInRenewsItself(t *testing.T) {
	t.Setenv(signins.EnvDir, filepath.Join(t.TempDir(), "config"))
	n := newLoginNode(t, cliClient)
	store := signins.Open(os.Getenv(signins.EnvDir))
	run := func(args ...string) (int, string, string) {
		return xb(t, append([]string{"--addr", n.addr, "--data", filepath.Join(t.TempDir(), "none")}, args...)...)
	}
	if code, _, errs := n.login(t, "ada"); code != exitOK {
		t.Fatalf("login: %d %q", code, errs)
	}

	// The access token has expired: the next command renews it at the
	// provider, saves the renewed tokens, and goes on.
	old := expire(t, store, n.addr, time.Now().Add(-time.Minute))
	code, out, errs := run("whoami")
	if code != exitOK || !strings.Contains(out, "researcher") || !strings.Contains(out, "ada@uni-freiburg.de") || errs != "" {
		t.Fatalf("whoami with an expired access token: %d %q %q", code, out, errs)
	}
	renewed, _, err := store.Get(n.addr)
	if err != nil || renewed.Token == old.Token || renewed.RefreshToken == "" || renewed.RefreshToken == old.RefreshToken ||
		time.Until(renewed.Expires) < time.Minute || !renewed.Saved.After(old.Saved) || renewed.Subject != old.Subject || renewed.ClientID != cliClient {
		t.Fatalf("after the renewal: %+v (was %+v) %v", renewed, old, err)
	}
	if st, err := os.Stat(store.Path()); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s after the renewal: %v %v", store.Path(), st, err)
	}
	// The renewed token is used as it is, until it nears its expiry:
	// within 30 s of it, it is renewed ahead.
	if code, _, errs := run("status"); code != exitOK {
		t.Fatalf("status: %d %q", code, errs)
	}
	if again, _, _ := store.Get(n.addr); again.Token != renewed.Token {
		t.Fatal("a valid token was renewed")
	}
	expire(t, store, n.addr, time.Now().Add(10*time.Second))
	if code, _, errs := run("status"); code != exitOK {
		t.Fatalf("status near the expiry: %d %q", code, errs)
	}
	if again, _, _ := store.Get(n.addr); again.Token == renewed.Token || time.Until(again.Expires) < time.Minute {
		t.Fatal("a token 10 s from its expiry was not renewed")
	}

	// Commands started together with an expired token all go on: the
	// provider rotates refresh tokens, so one renews it and the others,
	// refused the spent token, take what it saved.
	expire(t, store, n.addr, time.Now().Add(-time.Minute))
	var wg sync.WaitGroup
	toks := make([]string, 3)
	errs3 := make([]error, 3)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs3[i] = savedToken(context.Background(), n.addr, time.Now())
		}()
	}
	wg.Wait()
	final, _, _ := store.Get(n.addr)
	for i := range toks {
		if errs3[i] != nil || toks[i] == "" || time.Until(final.Expires) < time.Minute {
			t.Fatalf("concurrent renewal %d: %q %v", i, toks[i], errs3[i])
		}
	}

	// --token and XBORDER_TOKEN leave the saved sign-in alone, expired
	// or not.
	expire(t, store, n.addr, time.Now().Add(-time.Minute))
	before, _ := os.ReadFile(store.Path())
	if code, _, errs := run("--token", "not-a-token", "status"); code != exitError || !strings.Contains(errs, "refused the token") {
		t.Fatalf("--token: %d %q", code, errs)
	}
	t.Setenv("XBORDER_TOKEN", "not-a-token")
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "refused the token") {
		t.Fatalf("XBORDER_TOKEN: %d %q", code, errs)
	}
	os.Unsetenv("XBORDER_TOKEN")
	if after, _ := os.ReadFile(store.Path()); !bytes.Equal(before, after) {
		t.Fatal("a command given a token renewed the saved sign-in")
	}

	// A provider that cannot be reached renews nothing: the sign-in is
	// kept for later.
	unreachable, _, _ := store.Get(n.addr)
	unreachable.Issuer = "http://127.0.0.1:1"
	if _, err := store.Put(n.addr, unreachable); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "could not be renewed at uni-freiburg") {
		t.Fatalf("status with the provider unreachable: %d %q", code, errs)
	}

	// The provider ended the session (an administrator revoked it): the
	// refresh is refused, and the CLI says to sign in again.
	if code, _, errs := n.login(t, "ada"); code != exitOK {
		t.Fatalf("login: %d %q", code, errs)
	}
	n.idp.RevokeRefreshTokens("ada-1", cliClient)
	expired := expire(t, store, n.addr, time.Now().Add(-time.Minute))
	wantEnded := func(what string) {
		t.Helper()
		code, _, errs := run("status")
		if code != exitError || !strings.Contains(errs, "your sign-in at "+n.addr+" expired on "+expired.Expires.Local().Format("2006-01-02 15:04:05 MST")) ||
			!strings.Contains(errs, "run `xborder login`") || !strings.Contains(errs, "uni-freiburg ("+n.idp.Issuer()+") ended the session") {
			t.Fatalf("status with %s: %d %q", what, code, errs)
		}
	}
	wantEnded("a revoked refresh token")
	// So does a refresh token the provider never issued.
	expired.RefreshToken = "not-a-refresh-token"
	if _, err := store.Put(n.addr, expired); err != nil {
		t.Fatal(err)
	}
	wantEnded("a forged refresh token")

	// logout removes the refresh token with the rest, and revokes it at
	// the provider: it renews nothing any more.
	if code, _, errs := n.login(t, "ada"); code != exitOK {
		t.Fatalf("login: %d %q", code, errs)
	}
	last, _, _ := store.Get(n.addr)
	if code, _, errs := run("logout"); code != exitOK || !strings.Contains(errs, "Signed out of "+n.addr) ||
		!strings.Contains(errs, "The refresh token was revoked at uni-freiburg") {
		t.Fatalf("logout: %d %q", code, errs)
	}
	raw, err := os.ReadFile(store.Path())
	if err != nil || strings.Contains(string(raw), "refresh_token") || strings.Contains(string(raw), last.RefreshToken) {
		t.Fatalf("after logout, %s holds %s (%v)", store.Path(), raw, err)
	}
	_, err = oidc.Refresh(context.Background(), oidc.RefreshConfig{Issuer: last.Issuer, ClientID: last.ClientID}, last.RefreshToken)
	if !errors.Is(err, oidc.ErrRefreshRefused) {
		t.Fatalf("the refresh token after logout: %v", err)
	}
	// A provider that cannot be reached: the sign-in is removed here all
	// the same, and logout says the token lives on there.
	if code, _, errs := n.login(t, "ada"); code != exitOK {
		t.Fatalf("login: %d %q", code, errs)
	}
	last, _, _ = store.Get(n.addr)
	last.Issuer = "http://127.0.0.1:1"
	if _, err := store.Put(n.addr, last); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run("logout"); code != exitOK || !strings.Contains(errs, "Signed out of "+n.addr) ||
		!strings.Contains(errs, "did not revoke the refresh token") {
		t.Fatalf("logout with the provider unreachable: %d %q", code, errs)
	}
	if _, ok, err := store.Get(n.addr); ok || err != nil {
		t.Fatalf("after logout: %v %v", ok, err)
	}
}

func TestSignInRenewsWithTheIdPCAFile(t *testing.T) {
	t.Setenv(signins.EnvDir, filepath.Join(t.TempDir(), "config"))
	n := newLoginNode(t, cliClient)
	store := signins.Open(os.Getenv(signins.EnvDir))
	// A CA file named relative to where login ran: saved as an absolute
	// path, for commands run elsewhere. (The test provider is plain http:
	// the certificates are loaded, not needed.)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "idp-ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if code, _, errs := n.login(t, "ada", "--idp-ca-file", "idp-ca.pem"); code != exitOK {
		t.Fatalf("login: %d %q", code, errs)
	}
	saved, _, _ := store.Get(n.addr)
	if saved.IDPCAFile != filepath.Join(dir, "idp-ca.pem") {
		t.Fatalf("saved CA file %q", saved.IDPCAFile)
	}
	t.Chdir(t.TempDir())
	run := func(args ...string) (int, string, string) {
		return xb(t, append([]string{"--addr", n.addr, "--data", filepath.Join(t.TempDir(), "none")}, args...)...)
	}
	expire(t, store, n.addr, time.Now().Add(-time.Minute))
	if code, _, errs := run("status"); code != exitOK {
		t.Fatalf("status, renewed with the CA file: %d %q", code, errs)
	}
	// The CA file gone: the renewal says which certificates it missed.
	if err := os.Remove(saved.IDPCAFile); err != nil {
		t.Fatal(err)
	}
	expire(t, store, n.addr, time.Now().Add(-time.Minute))
	if code, _, errs := run("status"); code != exitError || !strings.Contains(errs, "could not be renewed") || !strings.Contains(errs, "idp-ca.pem") {
		t.Fatalf("status without the CA file: %d %q", code, errs)
	}
}

func TestPrintableDropsTerminalEscapes(t *testing.T) {
	if got := printable("Uni\x1b]0;pwned\x07 Freiburg\r\n"); got != "Uni]0;pwned Freiburg" {
		t.Fatalf("printable: %q", got)
	}
}
