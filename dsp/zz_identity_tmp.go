package dsp

import "context"

// Participant is an external dataspace participant. (Temporary: replaced
// by identity.go.)
type Participant struct{ ID, Country, Org, Address string }

// Verifier authenticates a participant's request.
type Verifier interface {
	Verify(ctx context.Context, authorization string) (Participant, error)
}

// AuthError is a refused token. (Temporary.)
type AuthError struct{ Code, Reason string }

func (e *AuthError) Error() string { return e.Reason }
