package tour

import (
	"context"
	"fmt"
)

// SignIn is one person signing in at a node's web console through an
// identity provider, as a browser does: the provider's login page, back to
// the console, the role the node's policy gives.
type SignIn func(ctx context.Context, user, password string) (SignInResult, error)

// SignInResult is what the console answered: the session's subject and
// role, or the refusal it showed.
type SignInResult struct {
	Subject, Role string
	// Refused is the reason the console showed (empty when signed in).
	Refused string
}

// Person is someone of a partner university with an account at the demo
// identity provider.
type Person struct {
	User, Password, Email, Affiliation string
}

// signin: researchers sign in at the consoles with their university's
// account; each region's policy decides what the identity may be. Grand
// Est trusts the Eucor universities' provider, Luxembourg does not, and a
// student of a trusted university gets no role.
func (t *tour) signin(ctx context.Context) error {
	if len(t.people) < 2 {
		return nil // the demo runs no identity provider
	}
	staff, student := t.people[0], t.people[1]
	t.p.Printf("\nSign-in with a university account (the Eucor universities' demo identity provider):\n")
	for _, c := range []struct {
		node    string
		who     Person
		wantIn  bool
		comment string
	}{
		{"fr-grandest", staff, true, "Grand Est trusts the provider; staff of a Eucor university are researchers"},
		{"lu-luxembourg", staff, false, "Luxembourg's policy does not trust the provider"},
		{"fr-grandest", student, false, "students get no role"},
	} {
		n := t.byName[c.node]
		st := t.p.Start("signin", n.Name)
		if n.SignIn == nil {
			return st.Fail(fmt.Errorf("%s has no console sign-in through the provider", n.Name))
		}
		r, err := n.SignIn(ctx, c.who.User, c.who.Password)
		if err != nil {
			return st.Fail(fmt.Errorf("%s at %s: %w", c.who.Email, n.Name, err))
		}
		switch {
		case c.wantIn && r.Refused != "":
			return st.Fail(fmt.Errorf("%s should sign in at %s, but was refused: %s", c.who.Email, n.Name, r.Refused))
		case !c.wantIn && r.Refused == "":
			return st.Fail(fmt.Errorf("%s should be refused at %s, but signed in as %s", c.who.Email, n.Name, r.Role))
		case c.wantIn:
			st.OK(Figures{ID: r.Subject})
			t.p.Printf("  %s (%s) at %s's console: signed in as %s (%s)\n", c.who.Email, c.who.Affiliation, n.Name, r.Role, c.comment)
		default:
			st.OK(Figures{})
			t.p.Printf("  %s (%s) at %s's console: refused (%s)\n    %s\n", c.who.Email, c.who.Affiliation, n.Name, c.comment, r.Refused)
		}
	}
	return nil
}
