package consensus

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Policy returns the policy bundle a member last declared active, or an
// error wrapping ErrNotFound when it has declared none.
func (r *Registry) Policy(member string) (PolicyHash, error) {
	var p PolicyHash
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		p, err = get[PolicyHash](tx, bPolicies, member)
		return err
	})
	return p, err
}

// Policies lists the policy bundles the members declared active.
func (r *Registry) Policies() ([]PolicyHash, error) {
	var out []PolicyHash
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = list[PolicyHash](tx, bPolicies)
		return err
	})
	return out, err
}

// DeclaredPolicy is a member with the policy bundle it last declared
// active in the registry.
type DeclaredPolicy struct {
	Member string
	// Declared is false for a member that has declared no bundle yet.
	Declared bool
	Hash     string
	// TS is when the bundle was declared, in Unix milliseconds.
	TS int64
}

// DeclaredPolicies lists every member, by name, with the bundle it last
// declared, read from the local replica in one transaction.
func (r *Registry) DeclaredPolicies() ([]DeclaredPolicy, error) {
	var out []DeclaredPolicy
	err := r.fsm.view(func(tx *bolt.Tx) error {
		members, err := list[Member](tx, bMembers)
		if err != nil {
			return err
		}
		out = make([]DeclaredPolicy, 0, len(members))
		for _, m := range members {
			d := DeclaredPolicy{Member: m.Name}
			p, err := get[PolicyHash](tx, bPolicies, m.Name)
			switch {
			case err == nil:
				d.Declared, d.Hash, d.TS = true, p.Hash, p.TS
			case !errors.Is(err, ErrNotFound):
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}
