package node

import (
	"context"
	"fmt"
	"path/filepath"

	"golang.org/x/time/rate"

	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console"
	"github.com/xborder/xborder/oidc"
)

// auditIdentityRefused is the record of a refused sign-in or issuer
// token: which issuer, why, and the identity when it was verified but
// given no role.
const auditIdentityRefused = "identity.refused"

// identityProviders derives the OpenID Connect issuers' configurations:
// the defaults filled in, the secret file resolved against the data dir,
// the redirect URI under the node's public URL.
func (c *Config) identityProviders(dataDir string) []oidc.Config {
	out := make([]oidc.Config, 0, len(c.IdentityProviders))
	for _, p := range c.IdentityProviders {
		p = p.WithDefaults()
		if p.ClientSecretFile != "" && !filepath.IsAbs(p.ClientSecretFile) {
			p.ClientSecretFile = filepath.Join(dataDir, p.ClientSecretFile)
		}
		if p.CAFile != "" && !filepath.IsAbs(p.CAFile) {
			p.CAFile = filepath.Join(dataDir, p.CAFile)
		}
		if p.RedirectURL == "" {
			p.RedirectURL = c.PublicBaseURL() + console.CallbackPath
		}
		out = append(out, p)
	}
	return out
}

// validateIdentityProviders checks the issuers' configurations. A secret
// or CA file relative to the data dir is checked when the node opens the
// issuers, which knows the data dir.
func (c *Config) validateIdentityProviders(p *problems) {
	if len(c.IdentityProviders) == 0 {
		return
	}
	cfgs := c.identityProviders("")
	for i := range cfgs {
		if !filepath.IsAbs(c.IdentityProviders[i].ClientSecretFile) {
			cfgs[i].ClientSecretFile = ""
		}
		if !filepath.IsAbs(c.IdentityProviders[i].CAFile) {
			cfgs[i].CAFile = ""
		}
	}
	if _, err := oidc.NewIssuers(cfgs, oidc.Deps{}); err != nil {
		p.addf("identity_providers: %v", err)
	}
}

// openIdentityProviders prepares the issuers researchers sign in with; each
// is discovered on first use, so an issuer that is down does not keep the
// node from starting.
func (n *Node) openIdentityProviders() error {
	if len(n.cfg.IdentityProviders) == 0 {
		return nil
	}
	iss, err := oidc.NewIssuers(n.cfg.identityProviders(n.dataDir), oidc.Deps{Logger: n.log.With("component", "oidc")})
	if err != nil {
		return fmt.Errorf("identity providers: %w", err)
	}
	n.identities = iss
	n.identityAudit = &identityAudit{n: n,
		unverified: rate.NewLimiter(rate.Limit(identityAuditRate), identityAuditBurst),
		verified:   rate.NewLimiter(rate.Limit(identityAuditRate), identityAuditBurst)}
	return nil
}

// A flood of bad tokens must not fill the audit trail: refusals are
// recorded at this rate at most (with a burst), the rest counted and
// logged, and the next record says how many were left out.
const (
	identityAuditRate  = 1.0 // per second
	identityAuditBurst = 30
)

// identityAudit records refused identities in the node's audit trail.
type identityAudit struct {
	n *Node
	// Refusals of verified identities (no role) have a budget of their
	// own: a flood of junk tokens, which anyone can send, must not keep
	// them out of the trail.
	unverified, verified *rate.Limiter
}

func (a *identityAudit) IdentityRefused(_ context.Context, r api.IdentityRefusal) {
	a.n.log.Info("identity refused", "via", r.Via, "issuer", r.Issuer, "reason", r.Reason, "claim", r.Claim)
	limit := a.unverified
	if r.Identity != nil {
		limit = a.verified
	}
	if !limit.Allow() {
		a.n.metrics.identityRefusalsUnrecorded.Inc()
		return
	}
	subject := r.Issuer
	if r.Identity != nil && r.Identity.Subject != "" {
		subject = r.Issuer + ":" + r.Identity.Subject
	}
	if err := (auditRecorder{a.n}).Record(auditIdentityRefused, subject, r); err != nil {
		a.n.log.Error("identity refusal not recorded", "err", err)
	}
}
