package oidc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrUnknownIssuer is the reason a token from an issuer the node has not
// configured is refused.
var ErrUnknownIssuer = errors.New("the token's issuer is not one this node trusts")

// ErrUnavailable is wrapped when an issuer's discovery document cannot be
// fetched: the node cannot sign anyone in through it for now.
var ErrUnavailable = errors.New("the identity provider cannot be reached")

// Issuers are the issuers a node trusts, by name. Each issuer is
// discovered on first use, not when the node starts: a node whose
// identity provider is down still starts, serves its members and its
// operators' tokens, and signs researchers in once the provider answers.
// A failed discovery is retried at most every RetryAfter.
type Issuers struct {
	deps       Deps
	order      []string
	cfgs       map[string]Config
	retryAfter time.Duration

	mu      sync.Mutex
	parties map[string]*RelyingParty
	failed  map[string]failure
}

type failure struct {
	at  time.Time
	err error
}

// RetryAfter is how long a failed discovery is remembered before the next
// use of the issuer tries again.
const RetryAfter = 10 * time.Second

// NewIssuers checks every configuration (names unique, issuers unique)
// without reaching any issuer.
func NewIssuers(cfgs []Config, deps Deps) (*Issuers, error) {
	s := &Issuers{deps: deps, cfgs: map[string]Config{}, retryAfter: RetryAfter,
		parties: map[string]*RelyingParty{}, failed: map[string]failure{}}
	if s.deps.Now == nil {
		s.deps.Now = time.Now
	}
	issuers := map[string]string{}
	var errs []error
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.cfgs[c.Name]; dup {
			errs = append(errs, fmt.Errorf("oidc: two issuers are named %q", c.Name))
			continue
		}
		if other, dup := issuers[c.Issuer]; dup {
			errs = append(errs, fmt.Errorf("oidc %s: issuer %s is already configured as %q", c.Name, c.Issuer, other))
			continue
		}
		issuers[c.Issuer] = c.Name
		s.cfgs[c.Name] = c
		s.order = append(s.order, c.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Configs are the issuers' configurations, in configuration order.
func (s *Issuers) Configs() []Config {
	out := make([]Config, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.cfgs[n])
	}
	return out
}

// Config is the configuration of the issuer named name.
func (s *Issuers) Config(name string) (Config, bool) {
	c, ok := s.cfgs[name]
	return c, ok
}

// Get is the relying party of the issuer named name, discovering it on
// first use. An unknown name is ErrUnknownIssuer; an issuer that cannot
// be discovered, ErrUnavailable.
func (s *Issuers) Get(ctx context.Context, name string) (*RelyingParty, error) {
	cfg, ok := s.cfgs[name]
	if !ok {
		return nil, &RefusedError{Issuer: name, Reason: ErrUnknownIssuer}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.parties[name]; rp != nil {
		return rp, nil
	}
	now := s.deps.Now()
	if f, ok := s.failed[name]; ok && now.Sub(f.at) < s.retryAfter {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, name, f.err)
	}
	// Discovery under the lock: concurrent first uses wait for one fetch
	// rather than each asking the issuer.
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	rp, err := New(dctx, cfg, s.deps)
	if err != nil {
		s.failed[name] = failure{at: now, err: err}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, name, err)
	}
	delete(s.failed, name)
	s.parties[name] = rp
	return rp, nil
}

// ForToken is the relying party of the configured issuer a JWT names in
// its (not yet verified) "iss"; the relying party then verifies it.
func (s *Issuers) ForToken(ctx context.Context, raw string) (*RelyingParty, error) {
	iss, err := UnverifiedIssuer(raw)
	if err != nil {
		return nil, &RefusedError{Reason: ErrMalformed, Detail: "no issuer could be read from the token"}
	}
	for _, n := range s.order {
		if s.cfgs[n].Issuer == iss {
			return s.Get(ctx, n)
		}
	}
	return nil, &RefusedError{Issuer: iss, Reason: ErrUnknownIssuer}
}

// VerifyAccessToken verifies an API client's JWT access token with the
// configured issuer that signed it. The name is the issuer's configured
// name (empty when the token's issuer is not configured).
func (s *Issuers) VerifyAccessToken(ctx context.Context, raw string) (name string, id Identity, err error) {
	rp, err := s.ForToken(ctx, raw)
	if err != nil {
		return "", Identity{}, err
	}
	id, err = rp.VerifyAccessToken(ctx, raw)
	return rp.Name(), id, err
}

// Knows reports whether a JWT's (not yet verified) "iss" is a configured
// issuer: which verifier a presented token goes to.
func (s *Issuers) Knows(raw string) bool {
	iss, err := UnverifiedIssuer(raw)
	if err != nil {
		return false
	}
	for _, c := range s.cfgs {
		if c.Issuer == iss {
			return true
		}
	}
	return false
}
