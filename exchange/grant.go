package exchange

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/xborder/xborder/internal/nodejws"
)

// maxGrantValidity caps a grant whatever the policy allows: a grant is a
// bearer credential for the holder's peer, and a month is as long as a
// legal team would want one to outlive a change of policy.
const maxGrantValidity = 30 * 24 * time.Hour

// grantClaims are the claims of a grant JWT, signed by the owner.
type grantClaims struct {
	Issuer      string   `json:"iss"` // the owner's peer ID
	Audience    string   `json:"aud"` // the requester's peer ID
	Subject     string   `json:"sub"` // owner/id
	ID          string   `json:"jti"`
	IssuedAt    int64    `json:"iat"`
	Expires     int64    `json:"exp"`
	SHA256      string   `json:"sha256"`
	Size        int64    `json:"size"`
	Obligations []string `json:"obligations"`
	Purpose     string   `json:"purpose"`
	Project     string   `json:"project,omitempty"`
	// Agreement names the model-sharing agreement a model grant is issued
	// under; the owner refuses the transfer once it no longer authorises.
	Agreement string `json:"agreement,omitempty"`
}

func (c grantClaims) expiresAt() time.Time { return time.Unix(c.Expires, 0) }

// GrantRole says on which side of a grant this node stands.
type GrantRole string

const (
	GrantIssued GrantRole = "issued" // this node owns the dataset and signed the grant
	GrantHeld   GrantRole = "held"   // this node requested and received the grant
)

// GrantInfo describes a grant this node issued or holds.
type GrantInfo struct {
	ID          string    `json:"id"`
	Role        GrantRole `json:"role"`
	Resource    string    `json:"resource"` // owner/id
	Owner       string    `json:"owner"`    // member name
	OwnerPeer   string    `json:"owner_peer"`
	Holder      string    `json:"holder"` // member name
	HolderPeer  string    `json:"holder_peer"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	Purpose     string    `json:"purpose"`
	Project     string    `json:"project,omitempty"`
	Agreement   string    `json:"agreement,omitempty"`
	Obligations []string  `json:"obligations"`
	IssuedAt    time.Time `json:"issued_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Token is the grant JWT, kept for held grants so that a transfer can
	// be started (again) later.
	Token string `json:"token,omitempty"`
}

// grantInfo describes a grant from its claims.
func grantInfo(role GrantRole, c grantClaims, owner, holder string, token string) GrantInfo {
	return GrantInfo{
		ID: c.ID, Role: role, Resource: c.Subject,
		Owner: owner, OwnerPeer: c.Issuer, Holder: holder, HolderPeer: c.Audience,
		SHA256: c.SHA256, Size: c.Size, Purpose: c.Purpose, Project: c.Project, Agreement: c.Agreement,
		Obligations: c.Obligations,
		IssuedAt:    time.Unix(c.IssuedAt, 0).UTC(), ExpiresAt: c.expiresAt().UTC(),
		Token: token,
	}
}

// grantValidity is how long a grant lasts for a decision: what the policy
// allows, capped by maxGrantValidity. Zero means the policy set none.
func grantValidity(maxValiditySeconds int64) time.Duration {
	if maxValiditySeconds <= 0 {
		return 0
	}
	if maxValiditySeconds > int64(maxGrantValidity/time.Second) {
		return maxGrantValidity
	}
	return time.Duration(maxValiditySeconds) * time.Second
}

// checkGrantHeld verifies a grant as its holder receives or presents it:
// signed by the owner's key, issued by owner to self for owner/id, not
// expired. It returns an error wrapping ErrInvalidGrant.
func checkGrantHeld(token string, owner Member, id string, self peer.ID, now time.Time) (grantClaims, error) {
	var c grantClaims
	if err := nodejws.Open(token, owner.PeerID, grantTokenType, &c); err != nil {
		return grantClaims{}, fmt.Errorf("%w: %v", ErrInvalidGrant, err)
	}
	switch {
	case c.Issuer != owner.PeerID.String():
		return grantClaims{}, fmt.Errorf("%w: issued by %q, not by %s", ErrInvalidGrant, c.Issuer, owner.Name)
	case c.Audience != self.String():
		return grantClaims{}, fmt.Errorf("%w: issued to %q, not to this node", ErrInvalidGrant, c.Audience)
	case c.Subject != owner.Name+"/"+id:
		return grantClaims{}, fmt.Errorf("%w: the grant is for %q, not %s/%s", ErrInvalidGrant, c.Subject, owner.Name, id)
	case !hexSHA256.MatchString(c.SHA256) || c.Size < 0 || c.ID == "":
		return grantClaims{}, fmt.Errorf("%w: malformed digest, size or ID", ErrInvalidGrant)
	case !now.Before(c.expiresAt()):
		return grantClaims{}, fmt.Errorf("%w: %w at %s", ErrInvalidGrant, ErrGrantExpired, c.expiresAt().UTC().Format(time.RFC3339))
	}
	return c, nil
}

// checkGrantPresented verifies a grant as its owner receives it with a
// transfer request from remote: signed by this node, issued to remote,
// for dataset, not expired by this node's own clock (no skew: the owner
// set exp itself). It returns a *RefusedError.
func (s *Service) checkGrantPresented(token, dataset string, remote peer.ID, now time.Time) (grantClaims, Entry, error) {
	var c grantClaims
	if err := nodejws.Open(token, s.self.PeerID, grantTokenType, &c); err != nil {
		return grantClaims{}, Entry{}, refusef(RefusalBadGrant, "not a grant of this node: %v", err)
	}
	switch {
	case c.Issuer != s.self.PeerID.String():
		return grantClaims{}, Entry{}, refusef(RefusalBadGrant, "grant issued by %q, not by this node", c.Issuer)
	case c.Audience != remote.String():
		return grantClaims{}, Entry{}, refusef(RefusalWrongPeer, "the grant was issued to another peer, not to %s", remote)
	case !now.Before(c.expiresAt()):
		return grantClaims{}, Entry{}, refusef(RefusalGrantExpired, "the grant expired at %s; request the dataset again", c.expiresAt().UTC().Format(time.RFC3339))
	case c.Subject != s.self.Name+"/"+dataset:
		return grantClaims{}, Entry{}, refusef(RefusalWrongDataset, "the grant is for %q, not %s/%s", c.Subject, s.self.Name, dataset)
	}
	e, ok := s.src.Lookup(dataset)
	if !ok {
		return grantClaims{}, Entry{}, refusef(RefusalWrongDataset, "%s/%s is no longer served", s.self.Name, dataset)
	}
	if e.SHA256 != c.SHA256 {
		return grantClaims{}, Entry{}, refusef(RefusalWrongDataset, "%s/%s has changed since the grant was issued; request it again", s.self.Name, dataset)
	}
	if c.Agreement == "" && c.Project == "" {
		return c, e, nil
	}
	if err := s.reg.Current(); err != nil {
		// A revocation or a closure may not be applied here yet.
		return grantClaims{}, Entry{}, refusef(RefusalRegistryBehind,
			"the owner's copy of the federation registry is catching up after a restart (%v); it serves nothing under a project or an agreement until it has, try again shortly", err)
	}
	if c.Agreement != "" {
		if err := s.agreementStillAuthorises(c, now); err != nil {
			return grantClaims{}, Entry{}, err
		}
	}
	if c.Project != "" {
		if err := s.projectStillAuthorises(c, remote); err != nil {
			return grantClaims{}, Entry{}, err
		}
	}
	return c, e, nil
}

// projectStillAuthorises refuses a grant issued within a joint project
// once that project is closed, or once the holder is no longer one of its
// partners (or no longer a member): a grant lasts no longer than the
// project it was issued for, whatever its expiry says.
func (s *Service) projectStillAuthorises(c grantClaims, holder peer.ID) error {
	p, ok := s.reg.Project(c.Project)
	switch {
	case !ok:
		return refusef(RefusalProjectClosed, "project %s, within which the grant was issued, is not in the registry; the data is no longer shared under it", c.Project)
	case p.Status != "active":
		return refusef(RefusalProjectClosed, "project %s, within which the grant was issued, is %s; the data is no longer shared under it", c.Project, p.Status)
	}
	m, ok := s.reg.MemberByPeer(holder)
	if !ok {
		return refusef(RefusalNotMember, "peer %s is no longer a member of the federation", holder)
	}
	if !slices.Contains(p.Partners, m.Name) {
		return refusef(RefusalNotAPartner, "%s is not a partner of project %s, within which the grant was issued; only its partners receive data under it", m.Name, c.Project)
	}
	return nil
}

// agreementStillAuthorises refuses a model grant whose agreement was
// revoked or has expired since the grant was issued: from the moment the
// registry says so, no more bytes of the model leave this node under it.
func (s *Service) agreementStillAuthorises(c grantClaims, now time.Time) error {
	for _, a := range s.reg.Agreements(c.Subject) {
		if a.ID != c.Agreement {
			continue
		}
		switch {
		case a.Status != "active":
			return refusef(RefusalAgreementEnded, "agreement %s, under which the grant was issued, is %s; the model is no longer shared under it", a.ID, a.Status)
		case !now.Before(a.ValidUntil):
			return refusef(RefusalAgreementEnded, "agreement %s, under which the grant was issued, expired at %s", a.ID, a.ValidUntil.UTC().Format(time.RFC3339))
		}
		return nil
	}
	return refusef(RefusalAgreementEnded, "agreement %s, under which the grant was issued, is not in the registry", c.Agreement)
}

// grantsWithTokens lists the grants this node issued and holds, newest
// first, including expired ones for a while (they are pruned
// grantRetention after they expire).
func (s *Service) grantsWithTokens() []GrantInfo {
	gs, err := s.db.grants()
	if err != nil {
		s.log.Error("list grants", "err", err)
	}
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].IssuedAt.After(gs[j].IssuedAt) })
	return gs
}

// Grant returns one grant by role and ID; ok is false when there is none.
func (s *Service) Grant(role GrantRole, id string) (GrantInfo, bool) {
	g, err := s.db.grant(role, id)
	if err != nil {
		if !errors.Is(err, errNoGrant) {
			s.log.Error("read grant", "id", id, "err", err)
		}
		return GrantInfo{}, false
	}
	return g, true
}
