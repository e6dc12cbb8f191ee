package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/xborder/xborder/oidc"
	"github.com/xborder/xborder/policy"
)

// Identities are the identity providers (OpenID Connect issuers) the node
// trusts: an API client may present a JWT access token one of them signed
// instead of a node-signed token (*oidc.Issuers).
type Identities interface {
	// Knows reports whether a token names a configured issuer (read
	// before any verification, to choose the verifier).
	Knows(raw string) bool
	VerifyAccessToken(ctx context.Context, raw string) (name string, id oidc.Identity, err error)
	Configs() []oidc.Config
	Config(name string) (oidc.Config, bool)
}

// RoleDecider decides which role an identity has at this node
// (data.xborder.api.role, *policy.Engine).
type RoleDecider interface {
	APIRole(ctx context.Context, in policy.APIRoleInput) (string, error)
}

// roleExplainer says why the policy gives an identity no role
// (data.xborder.api.role_reasons; *policy.Engine).
type roleExplainer interface {
	APIRoleReasons(ctx context.Context, in policy.APIRoleInput) []string
}

// IdentityAudit records refused identities (a token or sign-in refused,
// an identity the policy gives no role) in the node's audit trail. The
// node bounds how many it records, so a flood of bad tokens cannot fill
// the disk.
type IdentityAudit interface {
	IdentityRefused(ctx context.Context, r IdentityRefusal)
}

// IdentityRefusal is one refused identity: where (Via: "api" or
// "console"), which issuer, why.
type IdentityRefusal struct {
	Via      string              `json:"via"`
	Issuer   string              `json:"issuer,omitempty"`
	Reason   string              `json:"reason"`
	Claim    string              `json:"claim,omitempty"`
	Detail   string              `json:"detail,omitempty"`
	Identity *policy.APIIdentity `json:"identity,omitempty"`
	Err      error               `json:"-"`
}

// ErrNoRole is wrapped when the policy gives a verified identity no role
// at this node: the identity is who it says, but may do nothing here.
var ErrNoRole = errors.New("this node's policy gives the identity no role (data.xborder.api.role)")

// IdentityOf is the policy's view of a verified identity.
func IdentityOf(id oidc.Identity) policy.APIIdentity {
	return policy.APIIdentity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email,
		Groups: id.Groups, Entitlements: id.Entitlements, Affiliation: id.Affiliation}
}

// DecideRole asks the policy which role a verified identity has. No role
// (""), a role the node does not know, or a policy that cannot decide is
// an error wrapping ErrNoRole or the policy's error: the caller refuses.
func DecideRole(ctx context.Context, roles RoleDecider, id oidc.Identity) (string, error) {
	if roles == nil {
		return "", fmt.Errorf("%w: the node has no identity policy", ErrNoRole)
	}
	role, err := roles.APIRole(ctx, policy.APIRoleInput{Identity: IdentityOf(id)})
	if err != nil {
		return "", fmt.Errorf("the identity policy could not decide, so the identity gets no role: %w", err)
	}
	if role == "" {
		if ex, ok := roles.(roleExplainer); ok {
			if why := ex.APIRoleReasons(ctx, policy.APIRoleInput{Identity: IdentityOf(id)}); len(why) > 0 {
				return "", fmt.Errorf("%w: %s", ErrNoRole, strings.Join(why, "; "))
			}
		}
		return "", ErrNoRole
	}
	if !slices.Contains(Roles, role) {
		return "", fmt.Errorf("%w: the policy answered %q, which is not one of %v", ErrNoRole, role, Roles)
	}
	return role, nil
}

// IdentityUser is the API user a verified identity with its role is.
// The subject is qualified by the issuer's configured name: two issuers
// may use the same "sub" for different people, and a researcher's
// transfers and analyses are hers by subject.
func IdentityUser(issuerName, org string, id oidc.Identity, role string) User {
	pid := IdentityOf(id)
	return User{Subject: issuerName + ":" + id.Subject, Role: role, Org: org, Expires: id.Expiry, Identity: &pid}
}

// authenticateIdentity verifies an issuer's access token and decides its
// role; every refusal is recorded (bounded by the node).
func (s *Server) authenticateIdentity(r *http.Request, raw string) (User, error) {
	name, id, err := s.identities.VerifyAccessToken(r.Context(), raw)
	if err != nil {
		ref := IdentityRefusal{Via: "api", Issuer: name, Reason: err.Error(), Err: err}
		var re *oidc.RefusedError
		if errors.As(err, &re) {
			ref.Issuer, ref.Reason, ref.Claim, ref.Detail = re.Issuer, re.Reason.Error(), re.Claim, re.Detail
		}
		s.refused(r.Context(), ref)
		return User{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	role, err := DecideRole(r.Context(), s.roles, id)
	if err != nil {
		s.refused(r.Context(), NoRoleRefusal("api", name, id, err))
		return User{}, &noRoleError{err: err, who: id.Who(), issuer: name}
	}
	org := name
	if c, ok := s.identities.Config(name); ok {
		org = c.Label()
	}
	return IdentityUser(name, org, id, role), nil
}

// NoRoleRefusal is the record of a verified identity DecideRole refused:
// the reason ErrNoRole (or the policy's failure), the policy's
// explanation as the detail, and the identity's claims.
func NoRoleRefusal(via, issuer string, id oidc.Identity, err error) IdentityRefusal {
	pid := IdentityOf(id)
	ref := IdentityRefusal{Via: via, Issuer: issuer, Reason: err.Error(), Identity: &pid, Err: err}
	if errors.Is(err, ErrNoRole) {
		ref.Reason = ErrNoRole.Error()
		ref.Detail = strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrNoRole.Error()), ": ")
	}
	return ref
}

func (s *Server) refused(ctx context.Context, r IdentityRefusal) {
	if s.identityAudit != nil {
		s.identityAudit.IdentityRefused(ctx, r)
	}
}

// noRoleError is a verified identity the policy gives no role: the
// caller is authenticated (403, not 401).
type noRoleError struct {
	err         error
	who, issuer string
}

func (e *noRoleError) Error() string {
	return fmt.Sprintf("%s of %s may do nothing at this node: %v", e.who, e.issuer, e.err)
}

func (e *noRoleError) Unwrap() error { return e.err }

// SignInProvider is an identity provider as GET /v1/signin/providers
// shows it to a client that wants to sign in (`xborder login`).
type SignInProvider struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	Issuer      string   `json:"issuer"`
	Scopes      []string `json:"scopes"`
	// DeviceClientID is the public client for the device authorisation
	// grant; empty: the issuer offers no CLI sign-in here.
	DeviceClientID string `json:"device_client_id,omitempty"`
	// ConsoleSignIn is the console's address that starts a browser
	// sign-in with this issuer.
	ConsoleSignIn string `json:"console_signin"`
}

// routeSignIn serves the identity providers a client may sign in with:
// public, since a client asks before it has any token.
func (s *Server) routeSignIn() {
	s.handle("GET /v1/signin/providers", false, func(w http.ResponseWriter, r *http.Request) {
		out := []SignInProvider{}
		if s.identities != nil {
			for _, c := range s.identities.Configs() {
				out = append(out, SignInProvider{Name: c.Name, DisplayName: c.Label(), Issuer: c.Issuer,
					Scopes: c.Scopes, DeviceClientID: c.DeviceClientID, ConsoleSignIn: "/console/signin/" + c.Name})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"providers": out})
	})
}
