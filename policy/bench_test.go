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

// percentiles sorts the durations and reads p50 and p99 off them.
func percentiles(d []time.Duration) latency {
	slices.Sort(d)
	return latency{p50: d[len(d)/2], p99: d[len(d)*99/100]}
}

// BenchmarkExchangeDecision measures exchange.decision with the shipped
// policies at 10 and at 10 000 projects (10 000 datasets) next to one
// Ed25519 signature verification, the three interleaved one of each in
// turn so that each ratio compares operations made under the same
// conditions of a machine whose speed drifts; then the same large-registry
// decisions taken by topdown instead of from the plan, and the same
// large-registry decisions taken without a deadline. Run it with
// -benchtime=1x: each run makes its own fixed number of operations.
func BenchmarkExchangeDecision(b *testing.B) {
	ctx := context.Background()
	e, err := NewEngine(ctx, "../policies", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.Bundle().Plan(ctx) // decisions from the plan, once it is made
	if ev := e.Info().Evaluator; ev != "plan" {
		b.Fatalf("evaluator %q", ev)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	const n = 5000
	requests := func(facts registryFacts) []ExchangeInput {
		rng := rand.New(rand.NewPCG(1, 2))
		inputs := make([]ExchangeInput, n)
		for i := range inputs {
			inputs[i] = facts.request(rng, now)
		}
		return inputs
	}
	small, large := requests(newRegistryFacts(10, 10)), requests(newRegistryFacts(10_000, 10_000))
	decide := func(in ExchangeInput) {
		d, err := e.Exchange(ctx, in)
		if err != nil || !d.Allow {
			b.Fatalf("decision %+v, %v", d, err)
		}
	}
	pub, key, _ := ed25519.GenerateKey(crand.Reader)
	msg := make([]byte, 512) // about the size of a signed request
	sig := ed25519.Sign(key, msg)
	verify := func() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verification failed")
		}
	}
	bundle := e.Bundle()
	pq := bundle.queries[ExchangeDecision]
	topdown := func(in ExchangeInput) {
		v, err := toValue(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.evalTopdown(ctx, ExchangeDecision, pq, v); err != nil {
			b.Fatal(err)
		}
	}
	// The same decision without its deadline (no timer, the caller's
	// context as it is): what the deadline costs a decision.
	bare := func(in ExchangeInput) {
		if d, err := bundle.decide(ctx, ExchangeDecision, in); err != nil || !d.Allow {
			b.Fatalf("decision %+v, %v", d, err)
		}
	}
	timed := func(f func()) time.Duration {
		t0 := time.Now()
		f()
		return time.Since(t0)
	}
	for b.Loop() {
		for i := range n / 10 { // warm-up
			decide(small[i])
			decide(large[i])
		}
		ds, dl, dv, dt := make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n)
		db := make([]time.Duration, n)
		for i := range n {
			// The order turns, so that neither size always follows the
			// other (the garbage one leaves is collected by the next).
			if i%2 == 0 {
				ds[i] = timed(func() { decide(small[i]) })
				dl[i] = timed(func() { decide(large[i]) })
			} else {
				dl[i] = timed(func() { decide(large[i]) })
				ds[i] = timed(func() { decide(small[i]) })
			}
			dv[i] = timed(verify)
			db[i] = timed(func() { bare(large[i]) })
		}
		// Topdown, a comparison only, after: its garbage would weigh on
		// the decisions interleaved with it.
		for i := range n {
			dt[i] = timed(func() { topdown(large[i]) })
		}
		sm, lg, v, td, bl := percentiles(ds), percentiles(dl), percentiles(dv), percentiles(dt), percentiles(db)
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		b.ReportMetric(us(sm.p50), "small_p50_µs")
		b.ReportMetric(us(sm.p99), "small_p99_µs")
		b.ReportMetric(us(lg.p50), "large_p50_µs")
		b.ReportMetric(us(lg.p99), "large_p99_µs")
		b.ReportMetric(float64(lg.p50)/float64(sm.p50), "large/small_p50")
		b.ReportMetric(us(v.p50), "ed25519_verify_p50_µs")
		b.ReportMetric(float64(lg.p50)/float64(v.p50), "decision/verify")
		b.ReportMetric(1e9/float64(lg.p50.Nanoseconds()), "decisions/s/core")
		b.ReportMetric(us(bl.p50), "no_deadline_large_p50_µs")
		b.ReportMetric(us(lg.p50-bl.p50), "deadline_cost_p50_µs")
		b.ReportMetric(us(td.p50), "topdown_large_p50_µs")
		b.ReportMetric(float64(td.p50)/float64(lg.p50), "topdown/plan")
	}
}
