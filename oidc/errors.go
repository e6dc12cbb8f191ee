package oidc

import (
	"errors"
	"fmt"
)

// The reasons a sign-in or a token is refused. A *RefusedError wraps one of
// them: errors.Is(err, ErrWrongIssuer) tells which.
var (
	ErrWrongIssuer    = errors.New("the token was issued by another issuer")
	ErrWrongAudience  = errors.New("the token is meant for another client")
	ErrExpired        = errors.New("the token has expired")
	ErrNotYetValid    = errors.New("the token is not valid yet (iat or nbf in the future)")
	ErrUnknownKey     = errors.New("the token is not signed by a key the issuer publishes")
	ErrMalformed      = errors.New("the token is not a well-formed JWT")
	ErrMissingClaim   = errors.New("the token lacks a required claim")
	ErrStateUnknown   = errors.New("the sign-in state is unknown or has expired")
	ErrStateReplayed  = errors.New("the sign-in state was already used")
	ErrNonceMismatch  = errors.New("the ID token's nonce is not the one this sign-in sent")
	ErrNonceReplayed  = errors.New("the ID token's nonce was already used")
	ErrBadCallback    = errors.New("the callback's parameters are malformed")
	ErrProviderDenied = errors.New("the identity provider refused the sign-in")
	ErrTokenEndpoint  = errors.New("the identity provider's token endpoint failed")
	ErrNoIDToken      = errors.New("the identity provider returned no ID token")
	ErrTooManyLogins  = errors.New("too many sign-ins under way; try again in a few minutes")
	// ErrIDTokenAsAccessToken: an ID token names the node's client as its
	// audience, but it says who signed in, to the node; it authorises
	// nothing and must not serve as a bearer token.
	ErrIDTokenAsAccessToken = errors.New("the token is an ID token, not an access token")
)

// RefusedError is a refused sign-in or token: which issuer, why (Reason, one
// of the Err* sentinels), a detail for the audit trail (the claim, the
// values compared), and the underlying error if any.
type RefusedError struct {
	Issuer string
	Reason error
	// Claim names the claim concerned (for ErrMissingClaim), if any.
	Claim  string
	Detail string
	Err    error
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("oidc %s: %v", e.Issuer, e.Reason)
	if e.Claim != "" {
		s += fmt.Sprintf(" (%s)", e.Claim)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap lets errors.Is find both the reason and the cause.
func (e *RefusedError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}
