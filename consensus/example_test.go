package consensus_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/policy"
)

// allowAll is a policy that lets every command through.
type allowAll struct{}

func (allowAll) Registry(context.Context, policy.RegistryInput) (policy.Decision, error) {
	return policy.Decision{Allow: true}, nil
}

func (allowAll) Membership(context.Context, policy.MembershipInput) (policy.Decision, error) {
	return policy.Decision{Allow: true}, nil
}

// printed is an audit trail that prints what a write records.
type printed struct{}

func (printed) RecordDecision(typ, subject string, _ any, d policy.Decision) error {
	fmt.Println(typ, subject, "allow:", d.Allow)
	return nil
}

func (printed) Record(typ, subject string, _ any) error {
	fmt.Println(typ, subject)
	return nil
}

// member starts a libp2p host on loopback for a new key.
func member(name, country string) (consensus.Member, host.Host, ed25519.PrivateKey) {
	_, key, _ := ed25519.GenerateKey(nil)
	pk, _ := crypto.UnmarshalEd25519PrivateKey(key)
	h, err := libp2p.New(libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		panic(err)
	}
	return consensus.Member{Name: name, Country: country, Org: name, PeerID: h.ID().String()}, h, key
}

// Two founding members (a joint project spans two countries) open the
// registry; one proposes a project through its Clerk, which asks the
// policy, records the decision, commits the command and waits until the
// local replica shows it.
func Example() {
	dir, _ := os.MkdirTemp("", "registry-example")
	defer os.RemoveAll(dir)

	fr, frHost, frKey := member("fr-grandest", "FR")
	de, deHost, deKey := member("de-bw", "DE")
	defer frHost.Close()
	defer deHost.Close()
	frHost.Peerstore().AddAddrs(deHost.ID(), deHost.Addrs(), peerstore.PermanentAddrTTL)
	deHost.Peerstore().AddAddrs(frHost.ID(), frHost.Addrs(), peerstore.PermanentAddrTTL)
	genesis := []consensus.Member{fr, de}

	var regs []*consensus.Registry
	for _, m := range []struct {
		h   host.Host
		key ed25519.PrivateKey
	}{{frHost, frKey}, {deHost, deKey}} {
		reg, err := consensus.Open(consensus.DefaultConfig(filepath.Join(dir, m.h.ID().String())),
			consensus.Deps{Host: m.h, Key: m.key, Genesis: genesis})
		if err != nil {
			fmt.Println("open:", err)
			return
		}
		defer reg.Close()
		regs = append(regs, reg)
	}

	clerk, err := consensus.NewClerk(
		consensus.ClerkConfig{Self: policy.Node{Node: fr.Name, PeerID: fr.PeerID, Country: fr.Country, Org: fr.Org}},
		consensus.ClerkDeps{Registry: regs[0], Policy: allowAll{}, Recorder: printed{},
			RefChecker: func(ref string) error {
				if owner, id, ok := strings.Cut(ref, "/"); !ok || owner == "" || id == "" {
					return fmt.Errorf("%q is not OWNER/ID", ref)
				}
				return nil
			}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// Submit waits for a leader to be elected, up to ApplyTimeout.
	_, err = clerk.Submit(ctx, consensus.OpProjectPropose, consensus.ProjectProposal{
		ID: "rhine-air", Title: "Cross-border air quality and asthma", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/no2-hourly"}})
	if err != nil {
		fmt.Println("submit:", err)
		return
	}
	p, _, err := clerk.Project(ctx, "rhine-air")
	if err != nil {
		fmt.Println("read:", err)
		return
	}
	fmt.Printf("%s: %q, lead %s, partners %v, datasets %v\n", p.ID, p.Title, p.Lead, p.Partners, p.Datasets)
	// Output:
	// registry.decision project.propose allow: true
	// registry.submit project.propose
	// rhine-air: "Cross-border air quality and asthma", lead fr-grandest, partners [de-bw fr-grandest], datasets [fr-grandest/no2-hourly]
}
