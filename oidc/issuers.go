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

	mu      sync.Mutex // guards parties and failed
	parties map[string]*RelyingParty
	failed  map[string]failure
	// discovering holds one lock per issuer: concurrent first uses of an
	// issuer wait for one discovery, and an issuer that is slow to answer
	// holds up no other.
	discovering map[string]*sync.Mutex
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
		parties: map[string]*RelyingParty{}, failed: map[string]failure{}, discovering: map[string]*sync.Mutex{}}
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
		s.discovering[c.Name] = &sync.Mutex{}
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
	if rp, err := s.known(name); rp != nil || err != nil {
		return rp, err
	}
	lock := s.discovering[name]
	lock.Lock()
	defer lock.Unlock()
	if rp, err := s.known(name); rp != nil || err != nil {
		return rp, err // discovered (or failed) while this call waited
	}
	// Not the caller's cancellation: a client that goes away must not
	// leave a failure every other caller then sees for retryAfter.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	rp, err := New(dctx, cfg, s.deps)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed[name] = failure{at: s.deps.Now(), err: err}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, name, err)
	}
	delete(s.failed, name)
	s.parties[name] = rp
	return rp, nil
}

// known is the issuer's relying party if discovered, or the error of a
// discovery that failed less than retryAfter ago; neither: discover.
func (s *Issuers) known(name string) (*RelyingParty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.parties[name]; rp != nil {
		return rp, nil
	}
	if f, ok := s.failed[name]; ok && s.deps.Now().Sub(f.at) < s.retryAfter {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, name, f.err)
	}
	return nil, nil
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
