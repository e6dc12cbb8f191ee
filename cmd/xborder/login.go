package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/cmd/xborder/internal/signins"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/oidc"
)

func newLoginCmd(g *globals) *cobra.Command {
	var provider, idpCA string
	var noSave, printToken bool
	cmd := &cobra.Command{
		Use:   "login [--provider NAME] [--no-save] [--print-token]",
		Short: "Sign in at the node through your institution's identity provider",
		Long: `login signs you in at the node (--addr / XBORDER_ADDR, else the api of
DATA/config.yaml) with your browser: it asks the node which identity
providers it trusts (GET /v1/signin/providers), then the provider for a
code (the OAuth device authorisation grant, RFC 8628). Open the address it
prints, on any device, enter the code and sign in there as you always do;
login waits until you approve (or deny, or the code expires).

The provider's access token is then the CLI's bearer token at this node:
the node's policy decides your role (data.xborder.api.role), and login
prints it. An identity the policy gives no role is refused (exit 3) and
nothing is saved.

The token is saved, with its expiry, in tokens.json in your config dir
($XBORDER_CONFIG_DIR, else ~/.config/xborder on Linux; mode 0600), under
the node's API address. Every command then uses it for that address when
neither --token nor XBORDER_TOKEN is given, before DATA/admin.token.

Access tokens live minutes. login asks the provider for a refresh token
too (the scope offline_access, when the provider offers it) and saves it
beside the access token: when the access token has expired, the next
command renews it silently. The refresh token is a long-lived secret: it
gets access tokens in your name until the provider ends the session (then
commands say so: run login again). ` + "`xborder logout`" + ` deletes both and
revokes the refresh token at the provider.

With several providers, --provider chooses (the node's name for it, as the
error lists them). Operators offer CLI sign-in by giving a provider a
device_client_id (under identity_providers in the node's config.yaml).`,
		Example: `  xborder login --addr https://xborder.region-bw.example:7411
  xborder login --provider uni-freiburg
  TOKEN=$(xborder login --no-save --print-token) && XBORDER_TOKEN=$TOKEN xborder catalogue`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.login(cmd.Context(), provider, idpCA, noSave, printToken)
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "", "the identity provider to sign in with, by the node's name for it (needed when the node offers several)")
	f.BoolVar(&noSave, "no-save", false, "do not save the token")
	f.BoolVar(&printToken, "print-token", false, "print the access token on stdout")
	f.StringVar(&idpCA, "idp-ca-file", "", "PEM certificates to trust for the identity provider (one under a private CA), besides the system's")
	return cmd
}

func newLogoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the token `xborder login` saved for the node",
		Long: `logout removes the sign-in saved for the node's API address (--addr /
XBORDER_ADDR, else the api of DATA/config.yaml) from tokens.json in your
config dir: the access token and the refresh token that renews it. It then
asks the identity provider to revoke the refresh token (RFC 7009), ending
that session there; a provider that cannot be reached, or offers no
revocation, is named, and the refresh token stays valid there until the
provider ends the session. The access token stays valid until it expires
(minutes, for most providers). Your browser's session at the provider is
another: end it there to sign out of the provider.`,
		Example: "  xborder logout\n  xborder logout --addr https://xborder.region-bw.example:7411",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, _, err := g.apiEndpoint()
			if err != nil {
				return err
			}
			store, err := signinStore()
			if err != nil {
				return err
			}
			in, _, err := store.Get(base)
			if err != nil {
				return err
			}
			found, err := store.Delete(base)
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(g.err, "No sign-in was saved for %s.\n", base)
				return nil
			}
			fmt.Fprintf(g.err, "Signed out of %s (its tokens removed from %s).\n", base, store.Path())
			if in.RefreshToken == "" || in.ClientID == "" {
				return nil
			}
			// Removed here first: a provider that cannot be reached does
			// not keep the token on this machine.
			if err := revokeSignIn(cmd.Context(), in); err != nil {
				fmt.Fprintf(g.err, "%s did not revoke the refresh token (%v): it stays valid there until the provider ends the session.\n", providerLabel(in), err)
				return nil
			}
			fmt.Fprintf(g.err, "The refresh token was revoked at %s.\n", providerLabel(in))
			return nil
		},
	}
}

func signinStore() (*signins.Store, error) {
	dir, err := signins.DefaultDir()
	if err != nil {
		return nil, err
	}
	return signins.Open(dir), nil
}

// refreshAhead is how long before its expiry a saved access token is
// renewed: a token about to expire could expire on its way to the node.
const refreshAhead = 30 * time.Second

// refreshTimeout bounds a silent renewal (discovery and token endpoint).
const refreshTimeout = 30 * time.Second

// savedToken is the token `xborder login` saved for the node at base, ""
// when there is none. One that has expired, or expires within
// refreshAhead, is renewed at the identity provider with the saved
// refresh token, and the renewed tokens saved. One that cannot be renewed
// is an error that says what to do, not a fall back to another token:
// the user meant to be herself.
func savedToken(ctx context.Context, base string, now time.Time) (string, error) {
	dir, err := signins.DefaultDir()
	if err != nil {
		return "", nil // no config dir: nothing was saved either
	}
	store := signins.Open(dir)
	in, ok, err := store.Get(base)
	if err != nil || !ok {
		return "", err
	}
	if now.Add(refreshAhead).Before(in.Expires) {
		return in.Token, nil
	}
	when := in.Expires.Local().Format("2006-01-02 15:04:05 MST")
	expired := fmt.Sprintf("your sign-in at %s expired on %s", base, when)
	if now.Before(in.Expires) {
		expired = fmt.Sprintf("your sign-in at %s expires on %s", base, when)
	}
	if in.RefreshToken == "" || in.ClientID == "" {
		if now.Before(in.Expires) {
			return in.Token, nil
		}
		return "", fmt.Errorf("%s; run `xborder login`", expired)
	}
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	renewed, err := refreshSignIn(ctx, store, base, in, now)
	switch {
	case err == nil:
		return renewed.Token, nil
	case errors.Is(err, oidc.ErrRefreshRefused):
		// Another command may have renewed it meanwhile, spending the
		// refresh token this one sent (providers rotate them).
		if again, ok := renewedElsewhere(store, base, in, time.Now().Add(renewedWait)); ok {
			return again.Token, nil
		}
		return "", fmt.Errorf("%s; run `xborder login` (%s ended the session: it refused to renew the token)", expired, providerLabel(in))
	case now.Before(in.Expires):
		// Not renewed, but still valid for a few seconds: this command
		// goes on, the next one tries again.
		return in.Token, nil
	case errors.Is(err, oidc.ErrTokenEndpoint), errors.Is(err, oidc.ErrIDTokenNotValid):
		return "", fmt.Errorf("%s and %s refused to renew it (%v); run `xborder login`", expired, providerLabel(in), err)
	}
	return "", fmt.Errorf("%s and could not be renewed at %s (%v); try again when the provider can be reached, or run `xborder login`", expired, providerLabel(in), err)
}

// renewedWait is how long a command whose refresh token was refused waits
// for another command, which spent that token, to save what it got: the
// refusal can arrive before the other's answer is saved.
const renewedWait = time.Second

// renewedElsewhere is the sign-in another command renewed from in, if
// one is saved before deadline.
func renewedElsewhere(store *signins.Store, base string, in signins.SignIn, deadline time.Time) (signins.SignIn, bool) {
	for {
		again, ok, err := store.Get(base)
		if err == nil && ok && again.RefreshToken != in.RefreshToken && time.Now().Before(again.Expires) {
			return again, true
		}
		if !time.Now().Before(deadline) {
			return signins.SignIn{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// providerLabel names a sign-in's identity provider.
func providerLabel(in signins.SignIn) string {
	if in.Provider == "" {
		return in.Issuer
	}
	return in.Provider + " (" + in.Issuer + ")"
}

// revokeSignIn revokes a sign-in's refresh token at its provider.
func revokeSignIn(ctx context.Context, in signins.SignIn) error {
	idp, err := idpClient(in.IDPCAFile)
	if err != nil {
		return errors.Unwrap(err)
	}
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	return oidc.Revoke(ctx, oidc.RefreshConfig{Issuer: in.Issuer, ClientID: in.ClientID, Scopes: in.Scopes, HTTPClient: idp}, in.RefreshToken)
}

// refreshSignIn renews a saved sign-in's access token with its refresh
// token and saves the renewed tokens.
func refreshSignIn(ctx context.Context, store *signins.Store, base string, in signins.SignIn, now time.Time) (signins.SignIn, error) {
	idp, err := idpClient(in.IDPCAFile)
	if err != nil {
		return signins.SignIn{}, fmt.Errorf("renew the sign-in with the certificates `xborder login` was given: %w", errors.Unwrap(err))
	}
	tok, err := oidc.Refresh(ctx, oidc.RefreshConfig{Issuer: in.Issuer, ClientID: in.ClientID, Scopes: in.Scopes, HTTPClient: idp}, in.RefreshToken)
	if err != nil {
		return signins.SignIn{}, err
	}
	in.Token, in.RefreshToken, in.Saved = tok.AccessToken, tok.RefreshToken, now.UTC()
	// An answer without expires_in: the token is used now and renewed
	// by the next command.
	in.Expires = tok.Expiry
	if in.Expires.IsZero() {
		in.Expires = now
	}
	if _, err := store.Put(base, in); err != nil {
		return signins.SignIn{}, fmt.Errorf("save the renewed sign-in: %w", err)
	}
	return in, nil
}

// chooseProvider picks the provider to sign in with: the one named, else
// the only one offering CLI sign-in.
func chooseProvider(ps []api.SignInProvider, name, base string) (api.SignInProvider, error) {
	var device []api.SignInProvider
	for _, p := range ps {
		if p.DeviceClientID != "" {
			device = append(device, p)
		}
	}
	list := func(l []api.SignInProvider) string {
		var b strings.Builder
		for _, p := range l {
			fmt.Fprintf(&b, "\n  %-20s %s (%s)", printable(p.Name), printable(p.DisplayName), printable(p.Issuer))
		}
		return b.String()
	}
	if name != "" {
		for _, p := range ps {
			if p.Name != name {
				continue
			}
			if p.DeviceClientID == "" {
				return p, fmt.Errorf("%s offers no CLI sign-in through %s (it has no device_client_id); sign in at the web console instead (%s)", base, name, p.ConsoleSignIn)
			}
			return p, nil
		}
		if len(device) == 0 {
			return api.SignInProvider{}, usageErr(fmt.Errorf("%s has no identity provider %q, and offers no CLI sign-in at all", base, name))
		}
		return api.SignInProvider{}, usageErr(fmt.Errorf("%s has no identity provider %q; choose one of:%s", base, name, list(device)))
	}
	switch len(device) {
	case 1:
		return device[0], nil
	case 0:
		return api.SignInProvider{}, fmt.Errorf("%s offers no CLI sign-in: none of its identity providers (%d) has a device_client_id. "+
			"Its operators enable it by registering a public client with the device authorisation grant at the provider and "+
			"setting its id as device_client_id under identity_providers in config.yaml; "+
			"meanwhile, ask them for a token (`xborder token issue`)", base, len(ps))
	default:
		return api.SignInProvider{}, usageErr(fmt.Errorf("%s offers CLI sign-in through %d identity providers: choose one with --provider NAME:%s", base, len(device), list(device)))
	}
}

// login runs the device sign-in against the provider the node names,
// asks the node who it takes the token for, and saves it.
func (g *globals) login(ctx context.Context, name, idpCA string, noSave, printToken bool) error {
	pc, err := g.publicClient()
	if err != nil {
		return err
	}
	var answer struct {
		Providers []api.SignInProvider `json:"providers"`
	}
	if err := pc.get(ctx, "/v1/signin/providers", &answer); err != nil {
		return fmt.Errorf("ask %s for its identity providers: %w", pc.base, err)
	}
	p, err := chooseProvider(answer.Providers, name, pc.base)
	if err != nil {
		return err
	}
	idp, err := idpClient(idpCA)
	if err != nil {
		return err
	}
	progress := &waitLine{w: g.err, live: isTerminal(g.err)}
	// A refresh token renews the access token (minutes) for as long as
	// the provider keeps the session; one only printed is not kept.
	tok, err := oidc.DeviceLogin(ctx, oidc.DeviceConfig{Issuer: p.Issuer, ClientID: p.DeviceClientID, Scopes: p.Scopes, HTTPClient: idp,
		OfflineAccess: !noSave},
		func(dp oidc.DevicePrompt) error {
			label := p.DisplayName
			if label == "" {
				label = p.Name
			}
			fmt.Fprintf(g.err, "Signing in at %s with %s.\n", pc.base, printable(label))
			fmt.Fprintf(g.err, "Open %s and enter code %s\n", printable(dp.VerificationURI), printable(dp.UserCode))
			if dp.VerificationURIComplete != "" {
				fmt.Fprintf(g.err, "  (or open %s, which carries the code)\n", printable(dp.VerificationURIComplete))
			}
			progress.start(dp.ExpiresAt)
			return nil
		})
	progress.stop()
	if err != nil {
		return loginError(err, p)
	}
	// Who the node takes the token for: its policy decides the role.
	c := &client{base: pc.base, token: tok.AccessToken, http: pc.http}
	var me api.User
	if err := c.get(ctx, "/v1/whoami", &me); err != nil {
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
			return &exitErr{code: exitDenied, err: fmt.Errorf("you signed in with %s, but %s refuses you: %s. "+
				"The token was not saved; ask the node's operators for a role", p.Name, pc.base, ae.Message)}
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			return fmt.Errorf("%s does not accept the token %s issued: %s. The token was not saved", pc.base, p.Name, ae.Message)
		}
		return fmt.Errorf("ask %s who it takes you for: %w; the token was not saved", pc.base, err)
	}
	who := me.Subject
	if me.Identity != nil && me.Identity.Email != "" {
		who = me.Identity.Email
	}
	expires := tok.Expiry
	if !me.Expires.IsZero() {
		expires = me.Expires
	}
	if expires.IsZero() {
		return fmt.Errorf("%s gave a token without an expiry; the token was not saved", p.Name)
	}
	fmt.Fprintf(g.err, "Signed in as %s (role at this node: %s)\n", printable(who), printable(me.Role))
	if !noSave {
		store, err := signinStore()
		if err != nil {
			return err
		}
		in := signins.SignIn{Token: tok.AccessToken, Expires: expires, Provider: p.Name, Issuer: p.Issuer,
			Subject: me.Subject, Role: me.Role, Saved: time.Now().UTC(),
			RefreshToken: tok.RefreshToken, ClientID: p.DeviceClientID, Scopes: tok.Scopes}
		if me.Identity != nil {
			in.Email = me.Identity.Email
		}
		if idpCA != "" {
			// Later commands renew the token from wherever they run.
			if in.IDPCAFile, err = filepath.Abs(idpCA); err != nil {
				return err
			}
		}
		replaced, err := store.Put(pc.base, in)
		if err != nil {
			return err
		}
		if replaced {
			fmt.Fprintf(g.err, "%s could not be read: it was rewritten with this sign-in alone.\n", store.Path())
		}
		until := expires.Local().Format("2006-01-02 15:04:05 MST")
		if in.RefreshToken != "" {
			fmt.Fprintf(g.err, "The token is saved in %s for %s, with a refresh token that renews it (it expires %s) "+
				"until %s ends the session; `xborder logout` removes both.\n", store.Path(), pc.base, until, p.Name)
		} else {
			fmt.Fprintf(g.err, "The token is saved in %s for %s until %s (%s issued no refresh token: then sign in again).\n",
				store.Path(), pc.base, until, p.Name)
		}
	}
	if printToken {
		fmt.Fprintln(g.out, tok.AccessToken)
	}
	return nil
}

// loginError says what a failed device sign-in means for the user.
func loginError(err error, p api.SignInProvider) error {
	switch {
	case errors.Is(err, oidc.ErrDeviceDenied):
		return fmt.Errorf("the sign-in was denied at %s", p.Name)
	case errors.Is(err, oidc.ErrDeviceExpired):
		return fmt.Errorf("the code expired before the sign-in was approved at %s: run `xborder login` again", p.Name)
	case errors.Is(err, oidc.ErrNoDeviceEndpoint):
		return fmt.Errorf("%s (%s) offers no device sign-in, though the node names a device client for it: tell the node's operators", p.Name, p.Issuer)
	}
	return fmt.Errorf("sign-in with %s: %w", p.Name, err)
}

// idpClient reaches the identity provider: the system's roots, and the
// certificates of caFile when given.
func idpClient(caFile string) (*http.Client, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	if caFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--idp-ca-file: %w", err))
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageErr(fmt.Errorf("--idp-ca-file: %s holds no PEM certificate", caFile))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	c.Transport = tr
	return c, nil
}

// waitLine shows that login waits for the user: on a terminal, one line
// rewritten every second with the time left; elsewhere, one line.
type waitLine struct {
	w    io.Writer
	live bool

	wg   sync.WaitGroup
	done chan struct{}
}

func (l *waitLine) start(expires time.Time) {
	until := ""
	if !expires.IsZero() {
		until = " (the code is valid until " + expires.Local().Format("15:04:05") + ")"
	}
	if !l.live {
		fmt.Fprintf(l.w, "Waiting for you to approve the sign-in%s...\n", until)
		return
	}
	l.done = make(chan struct{})
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			left := ""
			if !expires.IsZero() {
				left = fmt.Sprintf(", %s left", time.Until(expires).Round(time.Second))
			}
			fmt.Fprintf(l.w, "\rWaiting for you to approve the sign-in%s...   ", left)
			select {
			case <-l.done:
				fmt.Fprint(l.w, "\n")
				return
			case <-t.C:
			}
		}
	}()
}

func (l *waitLine) stop() {
	if l.done != nil {
		close(l.done)
		l.wg.Wait()
		l.done = nil
	}
}

func newWhoamiCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami [--json]",
		Short: "Show who the node takes your token for",
		Long: `whoami asks the node (GET /v1/whoami) who the token the command uses
(--token, XBORDER_TOKEN, the sign-in saved by ` + "`xborder login`" + `, or
DATA/admin.token) stands for: subject, role, organisation, expiry and, for
an identity provider's token, the identity the node's policy judged.`,
		Example: "  xborder whoami\n  xborder whoami --json | jq -r .role",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var me api.User
			if err := c.get(cmd.Context(), "/v1/whoami", &me); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, me)
			}
			rows := [][2]string{{"subject", me.Subject}, {"role", me.Role}, {"org", me.Org},
				{"expires", me.Expires.Local().Format("2006-01-02 15:04:05 MST")}}
			if me.Identity != nil {
				rows = append(rows, [2]string{"issuer", me.Identity.Issuer}, [2]string{"email", me.Identity.Email})
			}
			return printFields(g.out, rows)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// printable drops control characters from what a node or an identity
// provider sends before it reaches the terminal: no escape sequence of
// theirs moves the cursor, rewrites a line or sets a window title.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
