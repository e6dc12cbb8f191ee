package policy

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The decisions run from OPA's plan (package irvm) must be exactly those
// topdown takes. These tests hold the two evaluators side by side on
// random inputs for every decision point: realistic ones, and the same
// with fields removed or of the wrong type, which is where else-branches,
// type checks and undefined references are exercised.
//
// XBORDER_PLAN_INPUTS sets the number of inputs per decision point (the
// default keeps `go test -race` quick; BENCHMARKS.md records a long run).

func planInputs(t *testing.T, def int) int {
	if s := os.Getenv("XBORDER_PLAN_INPUTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("XBORDER_PLAN_INPUTS=%q: want a positive number", s)
		}
		return n
	}
	return def
}

func TestPlannedDecisionsMatchTopdown(t *testing.T) {
	ctx := context.Background()
	b, err := Load(ctx, "../policies")
	if err != nil {
		t.Fatal(err)
	}
	b.Plan(ctx)
	pl := b.planned.Load()
	if pl.err != "" {
		t.Fatalf("the shipped policies are not planned: %s", pl.err)
	}
	gens := map[Point]func(r *rand.Rand) any{
		ExchangeDecision:   genExchange,
		CatalogueVisible:   genCatalogue,
		AgreementDecision:  genAgreement,
		RegistryDecision:   genRegistry,
		MembershipDecision: genMembership,
		APIAllow:           genAPI,
		AuditDecision:      genAudit,

		AnalysisDecisionPoint: genAnalysis,
		DataspaceDecision:     genDataspace,
		APIRole:               genAPIRole,
	}
	for _, p := range Points {
		gen, ok := gens[p]
		if !ok {
			t.Fatalf("no input generator for %s", p)
		}
		t.Run(string(p), func(t *testing.T) {
			n := planInputs(t, 400)
			if p == ExchangeDecision {
				n *= 3
			}
			r := rand.New(rand.NewPCG(uint64(len(p)), 7))
			outcomes := map[string]int{}
			for i := range n {
				in := gen(r)
				if i%2 == 1 {
					in = mutate(r, in)
				}
				v, err := toValue(in)
				if err != nil {
					t.Fatal(err)
				}
				rs, perr := pl.program.Eval(ctx, pl.points[p], ast.NewTerm(v))
				var planned ast.Value
				if perr == nil {
					planned, perr = planResult(p, rs)
				}
				want, terr := b.evalTopdown(ctx, p, b.queries[p], v)
				if (perr == nil) != (terr == nil) {
					t.Fatalf("input %v:\nplan error %v\ntopdown error %v", v, perr, terr)
				}
				if terr != nil {
					outcomes["error"]++
					continue
				}
				if planned.Compare(want) != 0 {
					t.Fatalf("input %v:\nplan    %v\ntopdown %v", v, planned, want)
				}
				outcomes[outcome(want)]++
			}
			t.Logf("%d inputs, identical; outcomes %v", n, outcomes)
			// The inputs must reach both ways of deciding, or the test
			// proves little.
			if p != APIAllow && p != CatalogueVisible && (outcomes["allow"] == 0 || outcomes["deny"] == 0) {
				t.Fatalf("the inputs did not reach both outcomes: %v", outcomes)
			}
		})
	}
}

func outcome(v ast.Value) string {
	switch x := v.(type) {
	case ast.Boolean:
		if x {
			return "allow"
		}
		return "deny"
	case ast.String: // a role, or "" for none
		if x != "" {
			return "allow"
		}
		return "deny"
	case ast.Object:
		if a := x.Get(ast.StringTerm("allow")); a != nil && a.Value.Compare(ast.Boolean(true)) == 0 {
			return "allow"
		}
		return "deny"
	}
	return "other"
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func some[T any](r *rand.Rand, xs ...T) []T {
	var out []T
	for _, x := range xs {
		if r.IntN(2) == 0 {
			out = append(out, x)
		}
	}
	return out
}

var (
	genMembers   = []string{"fr-grandest", "de-bw", "ch-basel", "be-wallonie", "lu-luxembourg", "us-boston", ""}
	genCountries = []string{"FR", "DE", "CH", "BE", "LU", "NO", "US", "CN", "de", "", "XX"}
	genPurposes  = []string{"research", "statistics", "public-health", "model-training", "marketing", "", "  "}
	genThemes    = []string{"health", "industry", "bioeconomy", "space", ""}
	genClasses   = []string{"open", "restricted", "sensitive", "confidential", "secret", ""}
)

func genTime(r *rand.Rand, now time.Time) time.Time {
	return now.Add(time.Duration(r.IntN(400)-200) * 24 * time.Hour)
}

func genExchange(r *rand.Rand) any {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	owner := pick(r, genMembers[:5]...)
	id := pick(r, "oncology-images", "tumour-seg", "crop-yield")
	in := ExchangeInput{
		Requester: Requester{
			Node:       Node{Node: pick(r, genMembers...), Country: pick(r, genCountries...)},
			Researcher: Researcher{Sub: "alice@uni-freiburg.de", Role: "researcher"},
		},
		Resource: Resource{Kind: pick(r, "dataset", "dataset", "model", "notebook", ""), ID: id, Owner: owner,
			Theme: pick(r, genThemes...), Classification: pick(r, genClasses...), PersonalData: r.IntN(2) == 0,
			RequiresProject: r.IntN(3) == 0, Partners: some(r, genMembers...)},
		Purpose: pick(r, genPurposes...),
		Self:    Node{Node: owner, Country: "FR"},
		Time:    now,
	}
	if r.IntN(4) != 0 {
		in.Project = &Project{ID: "fr-de-" + id, Status: pick(r, "active", "active", "closed", ""),
			Partners: some(r, genMembers...), Datasets: some(r, owner+"/"+id, "other/x", owner+"/"+id),
			EthicsRef: pick(r, "CPP-2026-1", "", " ")}
	}
	for range r.IntN(4) {
		in.Agreements = append(in.Agreements, Agreement{ID: pick(r, "ag-1", "ag-2", "ag-3"),
			Model: pick(r, owner+"/"+id, "other/model"), Parties: some(r, genMembers...),
			Purposes: some(r, genPurposes...), ValidFrom: genTime(r, now), ValidUntil: genTime(r, now),
			Status: pick(r, "active", "active", "revoked")})
	}
	if r.IntN(2) == 0 {
		properRequest(r, &in, now)
	}
	if r.IntN(4) == 0 { // a participant of a dataspace, not a member
		in.Requester = Requester{Node: Node{Node: pick(r, genParticipants...), Country: pick(r, genCountries...),
			Org: "ACME Mobility GmbH", External: r.IntN(8) != 0}}
		if r.IntN(2) == 0 {
			in.Project = nil
		}
	}
	return in
}

var genParticipants = []string{"did:web:dataspace.acme-mobility.example", "urn:dataspace:acme", "de-bw", ""}

// properRequest makes most of a request right (a partner in the EU or an
// adequate country, a known purpose, a project and agreements in order), so
// that the inputs reach the grants as often as the refusals.
func properRequest(r *rand.Rand, in *ExchangeInput, now time.Time) {
	requester := pick(r, "de-bw", "ch-basel", "be-wallonie")
	if requester == in.Resource.Owner {
		requester = "lu-luxembourg"
	}
	in.Requester.Node.Node = requester
	in.Requester.Node.Country = pick(r, "DE", "CH", "BE", "NO")
	in.Purpose = pick(r, "research", "statistics", "model-training")
	ref := in.Resource.Owner + "/" + in.Resource.ID
	if r.IntN(4) != 0 {
		in.Project = &Project{ID: "p-1", Status: "active", Partners: []string{in.Resource.Owner, requester},
			Datasets: []string{ref}, EthicsRef: pick(r, "CPP-2026-1", "")}
	}
	if in.Resource.Classification == "confidential" && r.IntN(2) == 0 {
		in.Resource.Partners = append(in.Resource.Partners, requester)
	}
	if in.Resource.Kind == "model" && r.IntN(4) != 0 {
		in.Agreements = append(in.Agreements, Agreement{ID: pick(r, "ag-4", "ag-5"), Model: ref,
			Parties: []string{in.Resource.Owner, requester}, Purposes: []string{in.Purpose},
			ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Duration(1+r.IntN(90)) * 24 * time.Hour),
			Status: "active"})
	}
}

func genCatalogue(r *rand.Rand) any {
	in := CatalogueInput{
		Requester: Node{Node: pick(r, genMembers...), Country: pick(r, genCountries...), Public: r.IntN(5) == 0},
		Entry: CatalogueEntry{ID: "x", Owner: pick(r, genMembers...), Kind: pick(r, "dataset", "model"),
			Classification: pick(r, genClasses...), Theme: pick(r, genThemes...), Partners: some(r, genMembers...),
			PublicListing: r.IntN(2) == 0},
	}
	if r.IntN(4) == 0 {
		in.Requester = Node{Node: pick(r, genParticipants...), Country: pick(r, genCountries...), External: true}
		if r.IntN(2) == 0 {
			in.Entry.Partners = append(in.Entry.Partners, in.Requester.Node)
		}
	}
	return in
}

func genAgreement(r *rand.Rand) any {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var parties []Node
	for _, m := range some(r, genMembers...) {
		parties = append(parties, Node{Node: m, Country: pick(r, genCountries...)})
	}
	var training []DatasetRef
	for range r.IntN(3) {
		training = append(training, DatasetRef{Owner: pick(r, genMembers...), ID: "d", PersonalData: r.IntN(2) == 0})
	}
	if r.IntN(2) == 0 { // an agreement in order, more or less
		parties = []Node{{Node: "fr-grandest", Country: "FR"}, {Node: "de-bw", Country: pick(r, "DE", "CH", "US")}}
		training = []DatasetRef{{Owner: pick(r, "fr-grandest", "de-bw", "ch-basel"), ID: "d", PersonalData: r.IntN(2) == 0}}
	}
	return AgreementInput{
		Agreement: AgreementDraft{ID: pick(r, "ag-1", ""), Parties: parties, Purposes: some(r, genPurposes...),
			Model: ModelRef{Owner: pick(r, genMembers...), ID: "tumour-seg", PersonalData: r.IntN(2) == 0,
				Theme: pick(r, genThemes...), TrainingDatasets: training},
			ValidFrom: genTime(r, now), ValidUntil: genTime(r, now), Conditions: pick(r, "", "Research only.")},
		Proposer: Node{Node: pick(r, genMembers...), Country: pick(r, genCountries...)},
		Self:     Node{Node: pick(r, genMembers...), Country: "DE"},
		Time:     now,
	}
}

func genRegistry(r *rand.Rand) any {
	op := pick(r, "project.propose", "project.join", "project.attach", "project.close",
		"member.propose", "member.vote", "agreement.commit", "agreement.revoke", "policy.put", "bogus")
	args := map[string]any{
		"id": pick(r, "fr-de-oncology", "", " "), "title": pick(r, "Oncology", ""),
		"themes": some(r, genThemes...), "partners": some(r, genMembers...),
		"datasets": some(r, "fr-grandest/x", "de-bw/y", "bad", "/x"), "dataset": pick(r, "fr-grandest/x", "de-bw/y", "bad"),
		"ethics_ref": pick(r, "CPP-1", ""), "vote": pick[any](r, "yes", "no", true, ""),
		"name": pick(r, genMembers...), "country": pick(r, genCountries...),
	}
	countries := map[string]any{}
	for _, m := range genMembers[:5] {
		countries[m] = m[:2]
	}
	state := map[string]any{
		"countries": countries, "project_exists": r.IntN(2) == 0,
		"members": some(r, genMembers...), "pending": some(r, genMembers...),
	}
	if r.IntN(3) != 0 {
		state["project"] = map[string]any{"status": pick(r, "active", "closed"), "lead": pick(r, genMembers...),
			"partners": some(r, genMembers...), "datasets": some(r, "fr-grandest/x", "de-bw/y")}
	}
	if r.IntN(3) != 0 {
		state["agreement"] = map[string]any{"status": pick(r, "active", "revoked"), "parties": some(r, genMembers...)}
	}
	return RegistryInput{Command: RegistryCommand{Op: op, Args: args},
		Member: Node{Node: pick(r, genMembers...), Country: pick(r, genCountries...)}, State: state}
}

func genMembership(r *rand.Rand) any {
	var members []Member
	for _, m := range some(r, genMembers...) {
		members = append(members, Member{Name: m, Country: pick(r, genCountries...)})
	}
	return MembershipInput{
		Candidate: Candidate{Name: pick(r, "nl-limburg", "de-bw", "", "A b"), Country: pick(r, genCountries...),
			Org: pick(r, "Provincie Limburg", "", " "), PeerID: "12D3KooW"},
		Members: members, Self: Node{Node: "fr-grandest", Country: "FR"},
	}
}

func genAudit(r *rand.Rand) any {
	return AuditInput{
		Requester: Node{Node: pick(r, genMembers...), Country: pick(r, genCountries...)},
		Self:      Node{Node: "fr-grandest", Country: "FR"},
		Detail:    pick(r, "chain", "records", "", "all"),
	}
}

func genAnalysis(r *rand.Rand) any {
	owner := pick(r, genMembers[:5]...)
	id := pick(r, "icu-admissions", "crop-yield", "steel-sensors")
	in := AnalysisInput{
		Requester: Requester{
			Node:       Node{Node: pick(r, genMembers...), Country: pick(r, genCountries...)},
			Researcher: Researcher{Sub: "alice@uni-freiburg.de", Role: "researcher"},
		},
		Dataset: Resource{Kind: pick(r, "dataset", "dataset", "dataset", "model", ""), ID: id, Owner: owner,
			Theme: pick(r, genThemes...), Classification: pick(r, genClasses...), PersonalData: r.IntN(2) == 0,
			RequiresProject: r.IntN(3) == 0, Partners: some(r, genMembers...)},
		Analysis: AnalysisRequest{Kind: pick(r, "summary", "table", "histogram", "correlation", "glm", "glm", "listing", ""),
			Variables: some(r, AnalysisColumn{"age", "numeric"}, AnalysisColumn{"sex", "factor"}, AnalysisColumn{"readmitted", "logical"}),
			Filter:    pick(r, "", "age >= 18"),
			Family:    pick(r, "gaussian", "binomial", "poisson", "tweedie", ""), Formula: "readmitted ~ age + sex", Parameters: r.IntN(5)},
		Purpose: pick(r, genPurposes...),
		Self:    Node{Node: owner, Country: "FR"},
		Time:    time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	}
	if r.IntN(4) != 0 {
		in.Project = &Project{ID: "fr-de-" + id, Status: pick(r, "active", "active", "closed", ""),
			Partners: some(r, genMembers...), Datasets: some(r, owner+"/"+id, "other/x"),
			EthicsRef: pick(r, "CPP-2026-1", "", " ")}
	}
	if r.IntN(2) == 0 { // most of a request right, so that both outcomes are reached
		requester := pick(r, "de-bw", "ch-basel", "be-wallonie", owner)
		in.Requester.Node = Node{Node: requester, Country: pick(r, "DE", "CH", "BE", "US", "IN")}
		in.Dataset.Kind = "dataset"
		in.Purpose = pick(r, "research", "statistics", "industrial-rd")
		in.Analysis.Family = pick(r, "gaussian", "binomial", "poisson")
		if r.IntN(4) != 0 {
			in.Project = &Project{ID: "p-1", Status: "active", Partners: []string{owner, requester},
				Datasets: []string{owner + "/" + id}, EthicsRef: pick(r, "CPP-2026-1", "CPP-2026-1", "")}
		}
		if in.Dataset.Classification == "confidential" && r.IntN(2) == 0 {
			in.Dataset.Partners = append(in.Dataset.Partners, requester)
		}
	}
	return in
}

func genDataspace(r *rand.Rand) any {
	purpose := pick(r, genPurposes...)
	constraint := func() map[string]any {
		return map[string]any{
			"leftOperand":  pick[any](r, "purpose", "odrl:purpose", map[string]any{"@id": "http://www.w3.org/ns/odrl/2/purpose"}, "spatial", 42),
			"operator":     pick[any](r, "eq", "odrl:isAnyOf", "isAnyOf", "neq", "isNoneOf", "isA", map[string]any{"@id": "odrl:eq"}, nil),
			"rightOperand": pick[any](r, purpose, "research", []any{"research", "statistics"}, []any{map[string]any{"@value": purpose}, 7}, map[string]any{"@id": "education"}, nil),
		}
	}
	var permissions []any
	for range r.IntN(3) {
		var cs []any
		for range r.IntN(3) {
			c := constraint()
			if r.IntN(6) == 0 {
				cs = append(cs, map[string]any{pick(r, "and", "or", "xone"): []any{c, constraint()}})
				continue
			}
			cs = append(cs, c)
		}
		permissions = append(permissions, map[string]any{"action": "use", "constraint": cs})
	}
	offer := map[string]any{"@id": pick[any](r, "urn:uuid:offer-1", "", 3), "@type": "Offer", "permission": permissions}
	if r.IntN(5) == 0 {
		offer = nil
	}
	return DataspaceInput{
		Researcher: Researcher{Sub: "alice@unistra.fr", Org: "Université de Strasbourg",
			Role: pick(r, "researcher", "researcher", "operator", "legal", "auditor", "")},
		Provider: DataspaceProvider{ID: pick(r, genParticipants...), Country: pick(r, genCountries...),
			Org: "ACME Mobility GmbH", URL: "https://connector.acme-mobility.example/dsp"},
		Dataset: DataspaceDataset{ID: "urn:uuid:3afeadd8", Title: "Commuter flows", Themes: some(r, "TRAN", "HEAL"),
			Keywords: some(r, "mobility", "health")},
		Offer:   offer,
		Purpose: purpose,
		Self:    Node{Node: "fr-grandest", Country: "FR"},
		Time:    time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	}
}

func genAPI(r *rand.Rand) any {
	return APIInput{
		User:   APIUser{Sub: "s", Role: pick(r, "operator", "researcher", "legal", "auditor", "admin", "")},
		Method: pick(r, "GET", "POST", "DELETE", "PUT"),
		Path: pick(r, "/v1/status", "/v1/peers", "/v1/catalogue", "/v1/catalogue/fr-grandest/x", "/v1/projects",
			"/v1/projects/p/join", "/v1/agreements", "/v1/agreements/a/sign", "/v1/grants", "/v1/transfers/7",
			"/v1/requests", "/v1/fetch", "/v1/policy", "/v1/policy/reload", "/v1/policy/eval", "/v1/policy/peers",
			"/v1/audit", "/v1/audit/verify", "/v1/catalogue/../policy/reload", "/v1//policy", "/v1/members", "", "v1/status",
			"/v1/analyses", "/v1/analyses/a-1", "/v1/dsp/catalogue", "/v1/dsp/negotiations", "/v1/dsp/negotiations/n-1",
			"/v1/dsp/transfers/t-1", "/v1/dsp/negotiations/../../policy"),
	}
}

func genAPIRole(r *rand.Rand) any {
	orgs := []string{"uni-freiburg.de", "kit.edu", "unibas.ch", "example.org", "evil.uni-freiburg.de", ""}
	var aff []string
	for range r.IntN(3) {
		aff = append(aff, pick(r, "staff", "member", "student", "faculty", "employee", "")+"@"+pick(r, orgs...))
	}
	return APIRoleInput{Identity: APIIdentity{
		Issuer:  pick(r, "https://login.aai.lifescience-ri.eu/oidc/", "https://proxy.myaccessid.org/", "https://idp.example.org/", ""),
		Subject: "s", Email: "a@uni-freiburg.de",
		Groups: some(r, "xborder-legal", "staff"),
		Entitlements: some(r, "urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu",
			"urn:geant:lifescience-ri.eu:group:xborder:auditors#aai.lifescience-ri.eu",
			"urn:geant:myaccessid.org:group:xborder:legal#myaccessid.org", "urn:mace:dir:entitlement:common-lib-terms"),
		Affiliation: aff,
	}}
}

// mutate turns an input into its JSON form and changes some of it: a field
// removed, or replaced by a value of another type.
func mutate(r *rand.Rand, in any) any {
	raw, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic(err)
	}
	for range 1 + r.IntN(3) {
		doc = mutateOne(r, doc, 0)
	}
	return doc
}

func mutateOne(r *rand.Rand, v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return x
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		// map order is random; sort for a reproducible stream
		slices.Sort(keys)
		k := keys[r.IntN(len(keys))]
		switch {
		case r.IntN(4) == 0 || depth > 3:
			if r.IntN(2) == 0 {
				delete(x, k)
			} else {
				x[k] = pick[any](r, nil, 42, true, "", "x", []any{1, "a"}, map[string]any{"a": 1})
			}
		default:
			x[k] = mutateOne(r, x[k], depth+1)
		}
		return x
	case []any:
		if len(x) == 0 {
			return append(x, pick[any](r, 1, "fr-grandest", nil))
		}
		i := r.IntN(len(x))
		x[i] = mutateOne(r, x[i], depth+1)
		return x
	default:
		return pick[any](r, nil, 0, 1.5, false, true, "", "fr-grandest", []any{}, map[string]any{})
	}
}

// A policy whose decisions the planner's output cannot run (here a rule
// that reads the clock with time.now_ns, which irvm refuses) still loads and decides, by
// topdown, and says so.
func TestUnplannablePolicyDecidesByTopdown(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "../policies")
	f, err := os.OpenFile(filepath.Join(dir, "api.rego"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Never true: the decisions stay those of the shipped policy.
	_, err = f.WriteString("\nallow if {\n\tinput.method == \"NEVER\"\n\ttime.now_ns() > 0\n}\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	e.Bundle().Plan(ctx) // waits for the engine's own planning
	info := e.Info()
	if !strings.HasPrefix(info.Evaluator, "topdown: ") || !strings.Contains(info.Evaluator, "time.now_ns") {
		t.Fatalf("evaluator = %q, want topdown because of time.now_ns", info.Evaluator)
	}
	ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Sub: "a", Role: "auditor"}, Method: "GET", Path: "/v1/audit"})
	if err != nil || !ok {
		t.Fatalf("auditor GET /v1/audit: %v, %v", ok, err)
	}
	ok, err = e.APIAllow(ctx, APIInput{User: APIUser{Sub: "r", Role: "researcher"}, Method: "POST", Path: "/v1/policy/reload"})
	if err != nil || ok {
		t.Fatalf("researcher POST /v1/policy/reload: %v, %v", ok, err)
	}
	shipped, err := NewEngine(ctx, "../policies", nil)
	t.Cleanup(func() { closeEngine(shipped) })
	if err != nil {
		t.Fatal(err)
	}
	shipped.Bundle().Plan(ctx)
	if ev := shipped.Info().Evaluator; ev != "plan" {
		t.Fatalf("the shipped policies are evaluated by %q", ev)
	}
}

// Bundles of the same files share one plan: a federation of nodes in one
// process plans its policy once.
func TestSameBundlePlannedOnce(t *testing.T) {
	ctx := context.Background()
	a, err := Load(ctx, "../policies")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(ctx, copyDir(t, "../policies"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != b.Hash {
		t.Fatalf("the same files hash differently: %s, %s", a.Hash, b.Hash)
	}
	a.Plan(ctx)
	b.Plan(ctx)
	if pa, pb := a.planned.Load(), b.planned.Load(); pa == nil || pa != pb {
		t.Fatalf("plans %p and %p, want one", pa, pb)
	}
}
