package consensus

import bolt "go.etcd.io/bbolt"

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
