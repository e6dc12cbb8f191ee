package policy

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// registryFacts stands in for the replicated registry: projects by ID and
// the datasets they list. The caller looks the named project up and passes
// only it to the policy, so a decision costs the same whatever the size.
type registryFacts struct {
	projects map[string]*Project
	ids      []string
}

func newRegistryFacts(projects, datasets int) registryFacts {
	r := registryFacts{projects: make(map[string]*Project, projects)}
	members := []string{"fr-grandest", "de-bw", "ch-basel", "be-wallonie", "lu-luxembourg"}
	for i := range projects {
		id := fmt.Sprintf("project-%05d", i)
		p := &Project{ID: id, Title: "Joint project " + id, Themes: []string{"health"}, Lead: "fr-grandest",
			Partners: []string{"fr-grandest", members[1+i%4]}, EthicsRef: "CPP-2026-" + id, Status: "active"}
		for d := i; d < datasets; d += projects {
			p.Datasets = append(p.Datasets, fmt.Sprintf("fr-grandest/dataset-%05d", d))
		}
		r.projects[id] = p
		r.ids = append(r.ids, id)
	}
	return r
}

// request builds the exchange input of a DE researcher asking for a
// sensitive health dataset of one project.
func (r registryFacts) request(rng *rand.Rand, now time.Time) ExchangeInput {
	p := r.projects[r.ids[rng.IntN(len(r.ids))]]
	partner := p.Partners[1]
	return ExchangeInput{
		Requester: Requester{Node: Node{Node: partner, Country: "DE", Org: "Partner region"},
			Researcher: Researcher{Sub: "alice@uni-freiburg.de", Org: "Universität Freiburg", Role: "researcher"}},
		Resource: Resource{Kind: "dataset", ID: p.Datasets[0][len("fr-grandest/"):], Owner: "fr-grandest", Theme: "health",
			Classification: "sensitive", PersonalData: true, License: "CC-BY-4.0"},
		Purpose: "research",
		Project: p,
		Self:    Node{Node: "fr-grandest", Country: "FR", Org: "Région Grand Est"},
		Time:    now,
	}
}

type latency struct{ p50, p99 time.Duration }

func measure(n int, f func(i int)) latency {
	d := make([]time.Duration, n)
	for i := range n {
		t0 := time.Now()
		f(i)
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	return latency{p50: d[n/2], p99: d[n*99/100]}
}

// BenchmarkExchangeDecision measures exchange.decision with the shipped
// policies at 10 and at 10 000 projects (10 000 datasets), next to one
// Ed25519 signature verification measured in the same run, and next to the
// same decisions taken by topdown instead of from the plan. Run it with
// -benchtime=1x: each run makes its own fixed number of decisions.
func BenchmarkExchangeDecision(b *testing.B) {
	ctx := context.Background()
	e, err := NewEngine(ctx, "../policies", nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	const n = 5000
	run := func(facts registryFacts) latency {
		rng := rand.New(rand.NewPCG(1, 2))
		inputs := make([]ExchangeInput, n)
		for i := range inputs {
			inputs[i] = facts.request(rng, now)
		}
		measure(n/10, func(i int) { _, _ = e.Exchange(ctx, inputs[i]) }) // warm-up
		return measure(n, func(i int) {
			d, err := e.Exchange(ctx, inputs[i])
			if err != nil || !d.Allow {
				b.Fatalf("decision %+v, %v", d, err)
			}
		})
	}
	pub, key, _ := ed25519.GenerateKey(crand.Reader)
	msg := make([]byte, 512) // about the size of a signed request
	sig := ed25519.Sign(key, msg)
	verify := func() latency {
		return measure(n, func(int) {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("verification failed")
			}
		})
	}
	// The same decisions taken by OPA's topdown evaluator instead of from
	// the plan, for comparison.
	bundle := e.Bundle()
	pq := bundle.queries[ExchangeDecision]
	runTopdown := func(facts registryFacts) latency {
		rng := rand.New(rand.NewPCG(1, 2))
		inputs := make([]ExchangeInput, n)
		for i := range inputs {
			inputs[i] = facts.request(rng, now)
		}
		return measure(n, func(i int) {
			in, err := toValue(inputs[i])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := bundle.evalTopdown(ctx, ExchangeDecision, pq, in); err != nil {
				b.Fatal(err)
			}
		})
	}
	for b.Loop() {
		small := run(newRegistryFacts(10, 10))
		large := run(newRegistryFacts(10_000, 10_000))
		v := verify()
		td := runTopdown(newRegistryFacts(10_000, 10_000))
		b.ReportMetric(float64(td.p50.Nanoseconds())/1e3, "topdown_large_p50_µs")
		b.ReportMetric(float64(td.p50)/float64(large.p50), "topdown/plan")
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		b.ReportMetric(us(small.p50), "small_p50_µs")
		b.ReportMetric(us(small.p99), "small_p99_µs")
		b.ReportMetric(us(large.p50), "large_p50_µs")
		b.ReportMetric(us(large.p99), "large_p99_µs")
		b.ReportMetric(float64(large.p50)/float64(small.p50), "large/small_p50")
		b.ReportMetric(us(v.p50), "ed25519_verify_p50_µs")
		b.ReportMetric(float64(large.p50)/float64(v.p50), "decision/verify")
		b.ReportMetric(1e9/float64(large.p50.Nanoseconds()), "decisions/s/core")
	}
}
