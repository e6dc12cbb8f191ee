package analysis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
)

// The benchmarks run real nodes on loopback with the shipped policy: five
// owners, and a sixth member whose researcher asks and which holds the
// pooled copy of the owners' rows for the baseline.
var benchOwners = []string{"fr-grandest", "de-bw", "ch-basel", "be-wallonie", "lu-luxembourg"}

const benchAsker = "nl-limburg"

// benchRoundTimeout lets an owner parse a million-row dataset in the
// first round on a busy two-core machine.
const benchRoundTimeout = 10 * time.Minute

// benchTruth are the coefficients the GLM rows are drawn from: the
// intercept, x1…x7, and the groups B, C and D against A. The design is
// that of stats.BenchmarkGLM: ten covariate columns (seven numeric and a
// four-level factor's three indicators), p = 11.
var benchTruth = []float64{-0.2, 0.3, -0.2, 0.1, 0.05, -0.1, 0.2, 0.15, 0.4, -0.3, 0.2}

const benchCovariates = "x1 + x2 + x3 + x4 + x5 + x6 + x7 + group"

// benchGLMDictionary describes the GLM rows: a binary response (event), a
// numeric one (level), the factor and the seven numeric covariates.
func benchGLMDictionary() tabular.Dictionary {
	cols := []tabular.Column{
		{Name: "event", Type: tabular.TypeBoolean},
		{Name: "level", Type: tabular.TypeNumber},
		{Name: "group", Type: tabular.TypeCategorical, Levels: []string{"A", "B", "C", "D"}},
	}
	for j := 1; j <= 7; j++ {
		cols = append(cols, tabular.Column{Name: fmt.Sprintf("x%d", j), Type: tabular.TypeNumber})
	}
	return tabular.Dictionary{Columns: cols}
}

const benchGLMHeader = "event,level,group,x1,x2,x3,x4,x5,x6,x7\n"

// benchGLMRows appends n CSV rows drawn with seed to dst: the covariates
// standard normal (four decimals), the group uniform, event a Bernoulli
// draw at the logistic of the linear predictor, level the predictor plus
// standard normal noise.
func benchGLMRows(dst []byte, n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var xs [7]float64
	for range n {
		eta := benchTruth[0]
		for j := range xs {
			xs[j] = math.Round(rng.NormFloat64()*1e4) / 1e4
			eta += xs[j] * benchTruth[j+1]
		}
		g := rng.IntN(4)
		if g > 0 {
			eta += benchTruth[7+g]
		}
		dst = strconv.AppendBool(dst, rng.Float64() < 1/(1+math.Exp(-eta)))
		dst = append(dst, ',')
		dst = strconv.AppendFloat(dst, eta+rng.NormFloat64(), 'f', 4, 64)
		dst = append(dst, ',', "ABCD"[g])
		for _, v := range xs {
			dst = append(dst, ',')
			dst = strconv.AppendFloat(dst, v, 'f', 4, 64)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// benchSummaryRows appends n values of a skewed measurement (log-normal,
// three decimals) to dst.
func benchSummaryRows(dst []byte, n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for range n {
		dst = strconv.AppendFloat(dst, math.Exp(4+0.5*rng.NormFloat64()), 'f', 3, 64)
		dst = append(dst, '\n')
	}
	return dst
}

// publishBench publishes, at each owner, id with rows drawn by gen (each
// owner its own seed), and at the asker "pooled-"+id holding every owner's
// rows in one dataset. It returns the owners' references.
func publishBench(f *federation, id, header string, dict tabular.Dictionary, rows int, gen func([]byte, int, uint64) []byte) []string {
	pooled := []byte(header)
	var refs []string
	for i, owner := range benchOwners {
		content := gen([]byte(header), rows, uint64(i+1))
		pooled = append(pooled, content[len(header):]...)
		f.publish(owner, Dataset{ID: id, Classification: "restricted", Dictionary: dictionaryOf(dict)}, content)
		refs = append(refs, owner+"/"+id)
	}
	f.publish(benchAsker, Dataset{ID: "pooled-" + id, Classification: "restricted", Dictionary: dictionaryOf(dict)}, pooled)
	return refs
}

// took is what one analysis cost: the time from Start to the result, and
// the CPU time the process (every node) used meanwhile.
type took struct{ wall, cpu time.Duration }

func (t took) add(o took) took { return took{t.wall + o.wall, t.cpu + o.cpu} }

// benchRun runs spec as the researcher at the asking node and returns it
// finished, with what it took.
func benchRun(b *testing.B, svc *Service, spec Spec) (Status, took) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*benchRoundTimeout)
	defer cancel()
	start, cpu := time.Now(), processCPU()
	st, err := svc.Run(ctx, researcher, spec)
	cost := took{time.Since(start), processCPU() - cpu}
	if err != nil {
		b.Fatalf("%s: %v", spec.Kind, err)
	}
	if st.State != StateDone {
		b.Fatalf("%s over %v: %s %s %+v", spec.Kind, spec.Datasets, st.State, st.Error, st.Regions)
	}
	return st, cost
}

// BenchmarkFederatedGLM fits a model to five owners' 200,000 rows each,
// asked by a sixth node over loopback, and in the same run the same model
// to the same 1,000,000 rows held by the asking node in one dataset (the
// service asking itself: no network), and, for reference, stats.FitPooled
// on that dataset's design matrix. Every fit is timed with a warm cache:
// one run of each before the timed ones parses every dataset. The
// federated and pooled fits alternate in order.
func BenchmarkFederatedGLM(b *testing.B) {
	const rows = 200_000
	f := newFederationWith(b, federationOptions{roundTimeout: benchRoundTimeout}, append(slices.Clone(benchOwners), benchAsker)...)
	dict := benchGLMDictionary()
	refs := publishBench(f, "wide", benchGLMHeader, dict, rows, benchGLMRows)
	asker := f.nodes[benchAsker].svc
	pooledSet, _ := f.nodes[benchAsker].data.Own("pooled-wide")
	for _, tc := range []struct{ family, response string }{{"binomial", "event"}, {"gaussian", "level"}} {
		b.Run(tc.family, func(b *testing.B) {
			federated := Spec{Kind: KindGLM, Datasets: refs, Formula: tc.response + " ~ " + benchCovariates, Family: tc.family, Purpose: "research"}
			pooled := federated
			pooled.Datasets = []string{benchAsker + "/pooled-wide"}
			benchRun(b, asker, federated) // warms the owners' caches
			benchRun(b, asker, pooled)
			// The same rows in memory, as a design matrix, for FitPooled.
			tab, err := asker.table(pooledSet)
			if err != nil {
				b.Fatal(err)
			}
			formula, err := tabular.ParseFormula(federated.Formula, dict)
			if err != nil {
				b.Fatal(err)
			}
			design, err := tabular.NewDesign(formula, dict)
			if err != nil {
				b.Fatal(err)
			}
			x, y, _, err := design.Matrix(tab, nil)
			if err != nil {
				b.Fatal(err)
			}
			fam, _ := stats.ParseFamily(tc.family)
			var fedTime, poolTime took
			var rawTime time.Duration
			var iterations int
			for i := 0; b.Loop(); i++ {
				var fed, pool Status
				var tf, tp took
				if i%2 == 0 {
					fed, tf = benchRun(b, asker, federated)
					pool, tp = benchRun(b, asker, pooled)
				} else {
					pool, tp = benchRun(b, asker, pooled)
					fed, tf = benchRun(b, asker, federated)
				}
				fedTime, poolTime = fedTime.add(tf), poolTime.add(tp)
				start := time.Now()
				raw, err := stats.FitPooled(context.Background(), fam, designNames(design), x, y, design.P(), stats.DefaultRules, stats.Options{})
				if err != nil {
					b.Fatal(err)
				}
				rawTime += time.Since(start)
				fg, pg := fed.Result.Combined.GLM, pool.Result.Combined.GLM
				if fg.Iterations != pg.Iterations || fg.Iterations != raw.Iterations || fg.N != 5*rows || pg.N != 5*rows ||
					!near(fg.Deviance, pg.Deviance) || !near(fg.Deviance, raw.Deviance) {
					b.Fatalf("federated %d iterations, n %d, deviance %v; pooled %d, %d, %v; FitPooled %d, %d, %v",
						fg.Iterations, fg.N, fg.Deviance, pg.Iterations, pg.N, pg.Deviance, raw.Iterations, raw.N, raw.Deviance)
				}
				iterations = fg.Iterations
			}
			report(b, "fit", fedTime, poolTime)
			b.ReportMetric(ms(rawTime, b.N), "FitPooled-ms/fit")
			b.ReportMetric(float64(iterations), "iterations")
		})
	}
}

// BenchmarkFederatedSummary summarises one variable over five owners'
// 1,000,000 rows each, asked by a sixth node over loopback, and in the same
// run over the same 5,000,000 rows held by the asking node in one dataset
// (no network). Warm cache, alternating order, as BenchmarkFederatedGLM.
func BenchmarkFederatedSummary(b *testing.B) {
	const rows = 1_000_000
	f := newFederationWith(b, federationOptions{roundTimeout: benchRoundTimeout}, append(slices.Clone(benchOwners), benchAsker)...)
	dict := tabular.Dictionary{Columns: []tabular.Column{{Name: "value", Type: tabular.TypeNumber, Unit: "mg/l"}}}
	refs := publishBench(f, "measures", "value\n", dict, rows, benchSummaryRows)
	asker := f.nodes[benchAsker].svc
	federated := Spec{Kind: KindSummary, Datasets: refs, Variables: []string{"value"}, Purpose: "research"}
	pooled := federated
	pooled.Datasets = []string{benchAsker + "/pooled-measures"}
	benchRun(b, asker, federated)
	benchRun(b, asker, pooled)
	var fedTime, poolTime took
	for i := 0; b.Loop(); i++ {
		var fed, pool Status
		var tf, tp took
		if i%2 == 0 {
			fed, tf = benchRun(b, asker, federated)
			pool, tp = benchRun(b, asker, pooled)
		} else {
			pool, tp = benchRun(b, asker, pooled)
			fed, tf = benchRun(b, asker, federated)
		}
		fedTime, poolTime = fedTime.add(tf), poolTime.add(tp)
		fs, ps := fed.Result.Combined.Summary, pool.Result.Combined.Summary
		if fs.N != 5*rows || ps.N != 5*rows || math.Abs(fs.Mean-ps.Mean) > 1e-9*ps.Mean || math.Abs(fs.SD-ps.SD) > 1e-9*ps.SD {
			b.Fatalf("federated %+v, pooled %+v", fs, ps)
		}
	}
	report(b, "summary", fedTime, poolTime)
}

// BenchmarkGLMWireBytes counts the bytes of /xborder/analysis/1.0.0 that
// cross the wire per GLM iteration when each of five owners holds 10,000
// rows, and when each holds 1,000,000, in the same run. Each owner's host
// counts its streams' bytes (libp2p's bandwidth reporter, per protocol);
// at every iteration the owner is asked for, it notes its counts before
// computing. Between the first and the last iteration noted, it has
// received every later iteration's request and sent every earlier one's
// answer: those bytes, summed over the owners and divided by the
// iterations they span, are the bytes per iteration. They are the frames
// (4-byte length and JSON), without the stream set-up, which is counted
// apart (multistream-select, under no protocol), nor yamux, TLS, TCP or IP
// headers.
func BenchmarkGLMWireBytes(b *testing.B) {
	counters := map[string]*wireCounter{}
	var mu sync.Mutex
	f := newFederationWith(b, federationOptions{roundTimeout: benchRoundTimeout, wire: func(name string) metrics.Reporter {
		mu.Lock()
		defer mu.Unlock()
		counters[name] = newWireCounter()
		return counters[name]
	}}, append(slices.Clone(benchOwners), benchAsker)...)
	dict := benchGLMDictionary()
	sizes := []int{10_000, 1_000_000}
	specs := make([]Spec, len(sizes))
	for i, rows := range sizes {
		refs := publishBench(f, fmt.Sprintf("rows%d", rows), benchGLMHeader, dict, rows, benchGLMRows)
		specs[i] = Spec{Kind: KindGLM, Datasets: refs, Formula: "event ~ " + benchCovariates, Family: "binomial", Purpose: "research"}
	}
	// at[owner] are the owner's counts at each iteration it was asked for.
	type counts struct{ frames, setup metrics.Stats }
	at := map[string][]counts{}
	for _, owner := range benchOwners {
		c := counters[owner]
		f.nodes[owner].svc.hooks.iterate = func(int) {
			mu.Lock()
			defer mu.Unlock()
			at[owner] = append(at[owner], counts{c.GetBandwidthForProtocol(Protocol), c.GetBandwidthForProtocol("")})
		}
	}
	asker := f.nodes[benchAsker].svc
	perIteration := make([]float64, len(sizes))
	setupPerIteration := make([]float64, len(sizes))
	iterations := make([]int, len(sizes))
	for b.Loop() {
		for i, spec := range specs {
			mu.Lock()
			clear(at)
			mu.Unlock()
			st, _ := benchRun(b, asker, spec)
			mu.Lock()
			var frames, setup int64
			spans := 0
			for _, owner := range benchOwners {
				seen := at[owner]
				if len(seen) != st.Result.Combined.GLM.Iterations || len(seen) < 2 {
					b.Fatalf("%s was asked for %d iterations of a fit of %d", owner, len(seen), st.Result.Combined.GLM.Iterations)
				}
				first, last := seen[0], seen[len(seen)-1]
				frames += last.frames.TotalIn - first.frames.TotalIn + last.frames.TotalOut - first.frames.TotalOut
				setup += last.setup.TotalIn - first.setup.TotalIn + last.setup.TotalOut - first.setup.TotalOut
				spans = len(seen) - 1
			}
			mu.Unlock()
			perIteration[i] = float64(frames) / float64(spans)
			setupPerIteration[i] = float64(setup) / float64(spans)
			iterations[i] = st.Result.Combined.GLM.Iterations
		}
	}
	b.ReportMetric(perIteration[0], "B/iter@10k")
	b.ReportMetric(perIteration[1], "B/iter@1M")
	b.ReportMetric(perIteration[1]/perIteration[0], "1M/10k")
	b.ReportMetric(setupPerIteration[0], "setup-B/iter@10k")
	b.ReportMetric(setupPerIteration[1], "setup-B/iter@1M")
	b.ReportMetric(float64(iterations[0]), "iterations@10k")
	b.ReportMetric(float64(iterations[1]), "iterations@1M")
}

// wireCounter is a libp2p bandwidth reporter that counts the bytes of a
// host's streams by protocol, exactly and at once (libp2p's
// metrics.BandwidthCounter moves its totals once a second).
type wireCounter struct {
	mu      sync.Mutex
	in, out map[protocol.ID]int64
}

func newWireCounter() *wireCounter {
	return &wireCounter{in: map[protocol.ID]int64{}, out: map[protocol.ID]int64{}}
}

func (w *wireCounter) LogSentMessageStream(n int64, p protocol.ID, _ peer.ID) {
	w.mu.Lock()
	w.out[p] += n
	w.mu.Unlock()
}

func (w *wireCounter) LogRecvMessageStream(n int64, p protocol.ID, _ peer.ID) {
	w.mu.Lock()
	w.in[p] += n
	w.mu.Unlock()
}

func (w *wireCounter) GetBandwidthForProtocol(p protocol.ID) metrics.Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return metrics.Stats{TotalIn: w.in[p], TotalOut: w.out[p]}
}

// The rest of metrics.Reporter: not needed by the benchmark.
func (w *wireCounter) LogSentMessage(int64)                                  {}
func (w *wireCounter) LogRecvMessage(int64)                                  {}
func (w *wireCounter) GetBandwidthForPeer(peer.ID) metrics.Stats             { return metrics.Stats{} }
func (w *wireCounter) GetBandwidthTotals() metrics.Stats                     { return metrics.Stats{} }
func (w *wireCounter) GetBandwidthByPeer() map[peer.ID]metrics.Stats         { return nil }
func (w *wireCounter) GetBandwidthByProtocol() map[protocol.ID]metrics.Stats { return nil }
func (w *wireCounter) Reset()                                                {}
func (w *wireCounter) TrimIdle(time.Time)                                    {}

// report gives the federated and pooled times per analysis, wall and CPU,
// and their ratios.
func report(b *testing.B, what string, fed, pool took) {
	b.ReportMetric(ms(fed.wall, b.N), "federated-ms/"+what)
	b.ReportMetric(ms(pool.wall, b.N), "pooled-ms/"+what)
	b.ReportMetric(float64(fed.wall)/float64(pool.wall), "federated/pooled")
	b.ReportMetric(ms(fed.cpu, b.N), "federated-cpu-ms/"+what)
	b.ReportMetric(ms(pool.cpu, b.N), "pooled-cpu-ms/"+what)
	b.ReportMetric(float64(fed.cpu)/float64(pool.cpu), "cpu-federated/pooled")
}

func ms(d time.Duration, n int) float64 { return d.Seconds() * 1000 / float64(n) }
