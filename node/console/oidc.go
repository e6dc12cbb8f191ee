package console

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console/sessionstore"
	"github.com/xborder/xborder/oidc"
)

// IdentityProviders are the OpenID Connect issuers researchers sign in
// with (*oidc.Issuers): each is discovered on first use.
type IdentityProviders interface {
	Configs() []oidc.Config
	Config(name string) (oidc.Config, bool)
	Get(ctx context.Context, name string) (*oidc.RelyingParty, error)
}

// The sign-in under way is bound to the browser that started it: the
// cookie holds the issuer's name and the state, and the callback must
// bring back the same state. A callback forged elsewhere (login CSRF: an
// attacker's own code pushed into a victim's browser) has no such cookie.
// It is SameSite=Lax, not Strict: the callback is a top-level navigation
// from the issuer's site, which a Strict cookie would not accompany.
const (
	oidcCookie     = "xborder_oidc"
	oidcCookiePath = Prefix + "oidc/"
	// CallbackPath is the redirect URI to register at each issuer, under
	// the node's public URL.
	CallbackPath = Prefix + "oidc/callback"
)

// provider is an issuer as the sign-in page lists it.
type provider struct {
	Name, Label string
}

func (c *Console) providers() []provider {
	if c.svc.Identities == nil {
		return nil
	}
	var out []provider
	for _, cfg := range c.svc.Identities.Configs() {
		out = append(out, provider{Name: cfg.Name, Label: cfg.Label()})
	}
	return out
}

// signinData is the sign-in page's data.
type signinData struct {
	Error     string
	Providers []provider
}

func (c *Console) signinPage(x *rc, code int, flash, errMsg string) {
	c.render(x, code, "signin.html", &page{Title: "signin.title", Flash: flash,
		Data: signinData{Error: errMsg, Providers: c.providers()}})
}

// oidcStart sends the browser to the issuer's login page, the state bound
// to this browser.
func (c *Console) oidcStart(x *rc) {
	name := x.r.PathValue("issuer")
	if c.svc.Identities == nil {
		c.signinPage(x, http.StatusNotFound, "", x.t("signin.no_providers"))
		return
	}
	cfg, known := c.svc.Identities.Config(name)
	if !known {
		c.signinPage(x, http.StatusNotFound, "", x.t("signin.unknown_provider", name))
		return
	}
	rp, err := c.svc.Identities.Get(x.ctx(), name)
	if err != nil {
		c.log.Warn("console sign-in: identity provider unavailable", "issuer", name, "err", err)
		c.signinPage(x, http.StatusServiceUnavailable, "", x.t("signin.provider_down", cfg.Label()))
		return
	}
	in, err := rp.AuthCodeURL()
	if err != nil {
		c.signinPage(x, http.StatusServiceUnavailable, "", x.t("signin.oidc_refused", err.Error()))
		return
	}
	http.SetCookie(x.w, &http.Cookie{Name: oidcCookie, Value: name + "." + in.State, Path: oidcCookiePath,
		MaxAge: int(cfg.LoginTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.secure(x.r)})
	http.Redirect(x.w, x.r, in.URL, http.StatusSeeOther)
}

// oidcCallback completes a sign-in: the state must be the one this
// browser started, the issuer's code is redeemed and its ID token
// verified, and the node's policy (data.xborder.api.role) gives the
// identity its role. Every refusal is recorded and shown with its reason.
func (c *Console) oidcCallback(x *rc) {
	name, state := "", ""
	if ck, err := x.r.Cookie(oidcCookie); err == nil {
		name, state, _ = strings.Cut(ck.Value, ".")
	}
	// This browser's sign-in ends here, well or not. A callback with
	// another state (another browser's, pushed into this one) leaves this
	// browser's own sign-in under way.
	if q := x.r.URL.Query()["state"]; state != "" && len(q) == 1 && sameToken(state, q[0]) {
		http.SetCookie(x.w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcCookiePath, MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.secure(x.r)})
	}
	refuse := func(code int, ref api.IdentityRefusal, shown string) {
		ref.Via = "console"
		if c.svc.IdentityAudit != nil {
			c.svc.IdentityAudit.IdentityRefused(x.ctx(), ref)
		}
		c.log.Warn("console sign-in refused", "issuer", ref.Issuer, "reason", ref.Reason, "claim", ref.Claim)
		c.signinPage(x, code, "", x.t("signin.oidc_refused", shown))
	}
	if c.svc.Identities == nil {
		c.signinPage(x, http.StatusNotFound, "", x.t("signin.no_providers"))
		return
	}
	cb, err := oidc.ParseCallback(x.r.URL.Query())
	if err != nil {
		refuse(http.StatusUnauthorized, api.IdentityRefusal{Issuer: name, Reason: err.Error()}, err.Error())
		return
	}
	if state == "" || !sameToken(state, cb.State) {
		// The state may still be live at the relying party: it is not
		// taken, so the browser that started the sign-in can finish it.
		msg := "this sign-in was not started in this browser (or it took too long); start it again"
		refuse(http.StatusUnauthorized, api.IdentityRefusal{Issuer: name, Reason: oidc.ErrStateUnknown.Error(), Detail: "no state cookie, or another state"}, msg)
		return
	}
	// The cookie is the browser's to change: a name the node does not
	// know is a bad request, not an issuer that is down.
	cfg, known := c.svc.Identities.Config(name)
	if !known {
		refuse(http.StatusUnauthorized, api.IdentityRefusal{Issuer: name, Reason: oidc.ErrUnknownIssuer.Error(),
			Detail: "the sign-in cookie names no configured issuer"}, oidc.ErrUnknownIssuer.Error())
		return
	}
	// RFC 9207: an issuer that names itself in its answer must be the one
	// this browser was sent to. Against a mix-up, where another
	// configured provider's answer would be redeemed as this one's.
	if iss := x.r.URL.Query()["iss"]; len(iss) > 0 && (len(iss) != 1 || iss[0] != cfg.Issuer) {
		refuse(http.StatusUnauthorized, api.IdentityRefusal{Issuer: name, Reason: oidc.ErrWrongIssuer.Error(), Claim: "iss",
			Detail: "the callback's iss is not the issuer the sign-in went to"}, oidc.ErrWrongIssuer.Error())
		return
	}
	down := strings.TrimSuffix(x.t("signin.provider_down", cfg.Label()), ".")
	rp, err := c.svc.Identities.Get(x.ctx(), name)
	if err != nil {
		refuse(http.StatusServiceUnavailable, api.IdentityRefusal{Issuer: name, Reason: err.Error()}, down)
		return
	}
	id, err := rp.Exchange(x.ctx(), cb.Code, cb.State)
	if err != nil {
		ref := api.IdentityRefusal{Issuer: name, Reason: err.Error()}
		var re *oidc.RefusedError
		if errors.As(err, &re) {
			ref.Reason, ref.Claim, ref.Detail = re.Reason.Error(), re.Claim, re.Detail
		}
		// An issuer that cannot be reached to redeem the code has refused
		// nobody: the sign-in may be tried again once it answers.
		if ne := net.Error(nil); errors.As(err, &ne) {
			refuse(http.StatusServiceUnavailable, ref, down)
			return
		}
		refuse(http.StatusUnauthorized, ref, err.Error())
		return
	}
	role, err := api.DecideRole(x.ctx(), c.svc.Roles, id)
	if err != nil {
		refuse(http.StatusForbidden, api.NoRoleRefusal("console", name, id, err),
			id.Who()+" ("+cfg.Label()+") may not use this node: "+err.Error())
		return
	}
	u := api.IdentityUser(name, cfg.Label(), id, role)
	c.startSession(x, u, sessionstore.Session{Subject: u.Subject, Role: u.Role, Org: u.Org, Method: sessionstore.MethodOIDC,
		Issuer: name, IDTokenHint: id.IDToken, Identity: u.Identity}, DefaultSessionTTL,
		map[string]any{"issuer": name, "email": id.Email})
}

// endSessionURL is where to send the browser after a sign-out so that
// the issuer ends its session too, if the session came from an issuer
// that supports it.
func (c *Console) endSessionURL(x *rc, st sessionstore.Session) (string, bool) {
	if st.Method != sessionstore.MethodOIDC || c.svc.Identities == nil {
		return "", false
	}
	rp, err := c.svc.Identities.Get(x.ctx(), st.Issuer)
	if err != nil {
		return "", false
	}
	back := ""
	if c.svc.PublicURL != "" {
		back = strings.TrimRight(c.svc.PublicURL, "/") + Prefix + "signin?ok=signed_out"
	}
	to, ok := rp.EndSessionURL(st.IDTokenHint, back)
	// The address comes from the issuer's discovery document and the
	// browser is sent there: a web address only (no javascript: or data:).
	if u, err := url.Parse(to); !ok || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	return to, true
}

// issuerLabel is how the pages name the issuer called name.
func (c *Console) issuerLabel(name string) string {
	if c.svc.Identities != nil {
		if cfg, ok := c.svc.Identities.Config(name); ok {
			return cfg.Label()
		}
	}
	return name
}
