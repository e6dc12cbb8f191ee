package exchange

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"
)

// The DCAT export of a small federation holding every kind of entry is
// validated with Apache Jena's SHACL engine (Debian's libapache-jena-java)
// against the DCAT-AP 3.0.1 full profile and MLDCAT-AP 3.0.0 (shapes in
// testdata/shapes, see its README): no violation is allowed. Warnings are
// reported. `make jena` installs Jena and a JRE.

// jenaJars is the classpath Jena's SHACL and RIOT commands need from
// Debian's /usr/share/java.
var jenaJars = []string{"jena-arq", "jena-base", "jena-cmds", "jena-core", "jena-iri", "jena-shacl",
	"jena-dboe-base", "jena-dboe-storage", "jena-dboe-transaction", "commons-lang3", "commons-io", "commons-cli",
	"commons-codec", "commons-compress", "commons-csv", "dexx.collection", "gson", "jackson-core", "jackson-databind",
	"jackson-annotations", "jsonld-java", "httpclient", "httpcore", "httpclient-cache", "thrift", "protobuf", "guava",
	"slf4j-api", "slf4j-simple"}

const jenaInstall = "install Debian's Jena and a JRE: `make jena`, or " +
	"apt-get install --no-install-recommends libapache-jena-java openjdk-17-jre-headless"

// jena returns the java command and classpath, failing the test (not
// skipping it) when Jena or Java is missing.
func jena(t *testing.T) (java, classpath string) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java is missing: the DCAT-AP validation needs it; %s", jenaInstall)
	}
	dir := "/usr/share/java"
	cp := []string{jenaFix(t, dir)}
	for _, j := range jenaJars {
		p := filepath.Join(dir, j+".jar")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: the DCAT-AP validation needs Jena; %s", p, jenaInstall)
		}
		cp = append(cp, p)
	}
	return java, strings.Join(cp, string(os.PathListSeparator))
}

// jenaFix works around Debian's Jena 4.5: it relocated Xerces' classes to
// package xerces.* but left their message bundles under
// org/apache/jena/ext/xerces, and without the regex bundle Jena stops at
// start with an "internal error" in XSSimpleTypeDecl. The bundles are
// copied to the relocated path, in a directory put first on the classpath.
func jenaFix(t *testing.T, dir string) string {
	t.Helper()
	core := filepath.Join(dir, "jena-core.jar")
	zr, err := zip.OpenReader(core)
	if err != nil {
		t.Fatalf("%s: %v; %s", core, err, jenaInstall)
	}
	defer zr.Close()
	fix := t.TempDir()
	const from = "org/apache/jena/ext/xerces/impl/xpath/regex/"
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, from) || !strings.HasSuffix(f.Name, ".properties") {
			continue
		}
		dst := filepath.Join(fix, "xerces/impl/xpath/regex", strings.TrimPrefix(f.Name, from))
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fix
}

func runJava(ctx context.Context, java, cp string, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, java, append([]string{"-Xss4m", "-cp", cp}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", args[0], err, errb.String())
	}
	return out.Bytes(), nil
}

// publishAll publishes one entry per theme and classification on n, each
// with another licence and file type, the protected ones listed publicly
// (the confidential ones too, which the policy never lists for the public),
// one of them with personal data, and one restricted entry not listed;
// its open and restricted (listed) models are trained on one of its open
// datasets and one protected dataset.
func publishAll(t *testing.T, n *testNode) {
	t.Helper()
	lic := []string{"CC-BY-4.0", "etalab-2.0", "research only, no redistribution", "", "DL-DE-BY-2.0", "CC0-1.0"}
	files := []string{"rows.csv", "rows.json", "scan.tiff", "notes.txt", "archive.zip", "blob.unknownext"}
	i := 0
	for _, theme := range Themes {
		for _, class := range Classifications {
			p := Publication{ID: fmt.Sprintf("%s-%s", theme, class), Title: fmt.Sprintf("%s data (%s) of %s", theme, class, n.m.Org),
				Description: "Records \"quoted\"\nover two lines", Theme: theme, Classification: class,
				License: lic[i%len(lic)], Keywords: []string{theme, "cross-border"}, FileName: files[i%len(files)]}
			if class == "confidential" {
				p.Partners = []string{n.m.Name}
			}
			p.PublicListing = class != "open"
			p.PersonalData = theme == "health" && class == "sensitive"
			if i%4 == 1 {
				p.Description = "" // the title stands in
			}
			i++
			if _, err := n.cat.Publish(context.Background(), p, strings.NewReader(fmt.Sprintf("a,b\n%d,2\n", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := n.cat.Publish(context.Background(), Publication{ID: "unlisted-restricted", Title: "Unlisted data of " + n.m.Org,
		Theme: "health", Classification: "restricted", FileName: "rows.csv"}, strings.NewReader("a,b\n")); err != nil {
		t.Fatal(err)
	}
	card := &ModelCard{Task: "Tumour segmentation on CT", Architecture: "3D U-Net, 31 M parameters",
		TrainingDatasets: []string{n.m.Name + "/health-open", n.m.Name + "/health-restricted"},
		Metrics:          map[string]float64{"dice": 0.87, "hausdorff_mm": 4.2},
		IntendedUses:     []string{"research on liver tumours", "second reading"},
		ExcludedUses:     []string{"diagnosis without a radiologist", "children"}}
	for _, class := range []string{"open", "restricted"} {
		if _, err := n.cat.Publish(context.Background(), Publication{ID: "tumour-seg-" + class, Kind: KindModel,
			Title: "Tumour segmentation", Description: "Segments liver tumours on CT.", Theme: "health", Classification: class,
			License: "CC-BY-NC-4.0", Keywords: []string{"oncology"}, FileName: "model.onnx", Model: card,
			PublicListing: class != "open"},
			strings.NewReader("weights")); err != nil {
			t.Fatal(err)
		}
	}
}

// evaluatedModels says that every tumour segmentation model was evaluated
// at two regions, as the registry's signed evaluations would.
type evaluatedModels struct{}

func (evaluatedModels) ModelQuality(_ context.Context, ref string) []QualityMeasurement {
	if !strings.Contains(ref, "/tumour-seg-") {
		return nil
	}
	var ms []QualityMeasurement
	for _, region := range []string{"de-bw", "ch-basel", ""} {
		ms = append(ms,
			QualityMeasurement{Metric: "auc", Value: 0.81, Lower: 0.78, Upper: 0.84, Interval: true, Region: region, Analysis: "ev-20261207-1"},
			QualityMeasurement{Metric: "brier", Value: 0.12, Region: region, Analysis: "ev-20261207-1"},
			QualityMeasurement{Metric: "sensitivity@0.5", Value: 0.7, Region: region, Analysis: "ev-20261207-1"})
	}
	return ms
}

// blankLabel finds the blank-node labels of an N-Triples export.
var blankLabel = regexp.MustCompile(`_:([A-Za-z0-9]+)`)

func TestDCATExportValidatesAgainstDCATAPAndMLDCATAP(t *testing.T) {
	java, cp := jena(t)
	start := time.Now()
	nodes := newFederation(t, fedOptions{catalogues: true, quality: evaluatedModels{}},
		"fr-grandest", "de-bw", "ch-basel", "be-wallonie", "lu-luxembourg")
	var merged bytes.Buffer
	for i, n := range nodes {
		publishAll(t, n)
		g := n.cat.DCAT(context.Background())
		nt, err := g.NTriples()
		if err != nil {
			t.Fatal(err)
		}
		checkSameGraph(t, g, nt)
		if i == 0 {
			checkPublicListing(t, nt, "https://fr-grandest.example.org", "fr-grandest")
		}
		// Blank-node labels are per export: keep them apart in the merge.
		merged.Write(blankLabel.ReplaceAll(nt, []byte(fmt.Sprintf("_:n%d$1", i))))
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "dcat.nt")
	if err := os.WriteFile(data, merged.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The federation's catalogue as fr-grandest compiles it, once it has
	// synced every partner's catalogue.
	fed := filepath.Join(dir, "federation.nt")
	if err := os.WriteFile(fed, federationExport(t, nodes), 0o644); err != nil {
		t.Fatal(err)
	}
	// Served as text/turtle too: Jena must read it as Turtle.
	turtle, err := nodes[0].cat.DCAT(context.Background()).NTriples()
	if err != nil {
		t.Fatal(err)
	}
	ttl := filepath.Join(dir, "fr.ttl")
	if err := os.WriteFile(ttl, turtle, 0o644); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "dcat-ap-full.ttl")
	concat(t, full, "testdata/shapes/dcat-ap-3.0.1/shapes.ttl", "testdata/shapes/dcat-ap-3.0.1/range.ttl",
		"testdata/shapes/dcat-ap-3.0.1/shapes_recommended.ttl", "testdata/shapes/dcat-ap-3.0.1/deprecateduris.ttl")
	built := time.Since(start)

	// Three JVMs at once: SHACL for each profile, and RIOT reading the Turtle.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type run struct {
		name string
		args []string
		out  []byte
		err  error
	}
	runs := []*run{
		{name: "DCAT-AP 3.0.1 full", args: []string{"shacl.shacl", "validate", "--shapes", full, "--data", data}},
		{name: "MLDCAT-AP 3.0.0", args: []string{"shacl.shacl", "validate", "--shapes", "testdata/shapes/mldcat-ap-3.0.0/mldcat-ap-SHACL.ttl", "--data", data}},
		{name: "Turtle", args: []string{"riotcmd.riot", "--syntax=turtle", "--output=ntriples", ttl}},
		{name: "federation DCAT-AP 3.0.1 full", args: []string{"shacl.shacl", "validate", "--shapes", full, "--data", fed}},
		{name: "federation MLDCAT-AP 3.0.0", args: []string{"shacl.shacl", "validate", "--shapes", "testdata/shapes/mldcat-ap-3.0.0/mldcat-ap-SHACL.ttl", "--data", fed}},
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() { r.out, r.err = runJava(ctx, java, cp, r.args...) })
	}
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			t.Fatalf("%s: %v", r.name, r.err)
		}
	}
	for _, r := range append(runs[:2:2], runs[3:]...) {
		report := string(r.out)
		v := len(regexp.MustCompile(`sh:resultSeverity\s+sh:Violation`).FindAllString(report, -1))
		w := len(regexp.MustCompile(`sh:resultSeverity\s+sh:Warning`).FindAllString(report, -1))
		t.Logf("%s: %d violations, %d warnings", r.name, v, w)
		if !strings.Contains(report, "sh:conforms") {
			t.Fatalf("%s: no validation report:\n%s", r.name, report)
		}
		// The report is kept for reading (group it with SPARQL, e.g.).
		saved := filepath.Join(os.TempDir(), "dcat-report-"+slug(r.name)+".ttl")
		if v > 0 || testing.Verbose() && w > 0 {
			if err := os.WriteFile(saved, r.out, 0o644); err != nil {
				t.Log(err)
			}
		}
		if v > 0 {
			t.Errorf("%s: %d violations (report in %s), first ones:\n%s", r.name, v, saved, report[:min(len(report), 3000)])
		}
	}
	// Jena reads the Turtle as the same graph as the N-Triples.
	nt, err := nodes[0].cat.DCAT(context.Background()).NTriples()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := canonical(t, runs[2].out), canonical(t, nt); a != b {
		t.Errorf("the Turtle and the N-Triples differ:\nTurtle as Jena reads it:\n%s\nN-Triples:\n%s", a, b)
	}
	t.Logf("exports built in %v, validated in %v (%d triples)", built, time.Since(start)-built, bytes.Count(merged.Bytes(), []byte("\n")))
}

// federationExport is the federation catalogue of nodes[0] once it has
// synced the others, checked for what it must and must not list.
func federationExport(t *testing.T, nodes []*testNode) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes[1:] {
		if err := nodes[0].cat.Pull(ctx, n.m); err != nil {
			t.Fatalf("pull %s: %v", n.m.Name, err)
		}
	}
	g := nodes[0].cat.DCATFederation(ctx)
	nt, err := g.NTriples()
	if err != nil {
		t.Fatal(err)
	}
	checkSameGraph(t, g, nt)
	const fr = "https://fr-grandest.example.org"
	for _, want := range []string{
		"<" + fr + "/v1/dcat/federation> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/dcat#Catalog> .",
		"<" + fr + "/v1/dcat/federation> <http://purl.org/dc/terms/publisher> <" + fr + "/publishers/fr-grandest> .",
		"<" + fr + "/v1/dcat/federation> <http://www.w3.org/ns/dcat#dataset> <" + fr + "/datasets/de-bw/health-open> .",
		"<" + fr + "/datasets/de-bw/health-open> <http://purl.org/dc/terms/publisher> <" + fr + "/publishers/de-bw> .",
		"<" + fr + "/datasets/de-bw/health-open> <http://purl.org/dc/terms/identifier> \"de-bw/health-open\" .",
		"<" + fr + "/datasets/lu-luxembourg/tumour-seg-open> <http://data.europa.eu/it6/trainedOn> <" + fr + "/datasets/lu-luxembourg/health-open> .",
		"<" + fr + "/datasets/fr-grandest/health-open> <http://purl.org/dc/terms/publisher> <" + fr + "/publishers/fr-grandest> .",
	} {
		if !bytes.Contains(nt, []byte(want+"\n")) {
			t.Errorf("the federation export lacks %s", want)
		}
	}
	for _, m := range nodes {
		checkPublicListing(t, nt, fr, m.m.Name)
	}
	return nt
}

// checkPublicListing checks what an export (IRIs under base) says of
// member's entries: open ones PUBLIC, listed restricted ones RESTRICTED,
// listed sensitive and personal ones NON_PUBLIC with how to ask for access
// and no download; confidential and unlisted ones absent.
func checkPublicListing(t *testing.T, nt []byte, base, member string) {
	t.Helper()
	ds := func(id string) string { return "<" + base + "/datasets/" + member + "/" + id + ">" }
	const rights = " <http://purl.org/dc/terms/accessRights> <http://publications.europa.eu/resource/authority/access-right/"
	for _, want := range []string{
		ds("health-open") + rights + "PUBLIC> .",
		ds("industry-restricted") + rights + "RESTRICTED> .",
		ds("health-restricted") + rights + "RESTRICTED> .",
		ds("industry-sensitive") + rights + "NON_PUBLIC> .",
		ds("health-sensitive") + rights + "NON_PUBLIC> .",
		ds("tumour-seg-restricted") + rights + "RESTRICTED> .",
		ds("tumour-seg-open") + " <http://data.europa.eu/it6/trainedOn> " + ds("health-open") + " .",
		ds("tumour-seg-open") + " <http://data.europa.eu/it6/trainedOn> " + ds("health-restricted") + " .",
		ds("tumour-seg-open") + " <http://www.w3.org/ns/dqv#hasQualityMeasurement> <" + base + "/datasets/" + member +
			"/tumour-seg-open#evaluation-ev-20261207-1-de-bw-auc> .",
		"<" + base + "/datasets/" + member + "/tumour-seg-open#evaluation-ev-20261207-1-de-bw-auc> <http://data.europa.eu/it6/intervalStart> " +
			`"0.78"^^<http://www.w3.org/2001/XMLSchema#double> .`,
		"<" + base + "/datasets/" + member + "/health-sensitive#distribution> <http://www.w3.org/ns/dcat#accessURL> <" +
			base + "/datasets/" + member + "/health-sensitive?format=html> .",
		"<" + base + "/datasets/" + member + "/health-sensitive#distribution> <http://purl.org/dc/terms/rights> <" +
			base + "/datasets/" + member + "/health-sensitive#access> .",
	} {
		if !bytes.Contains(nt, []byte(want+"\n")) {
			t.Errorf("the export lacks %s", want)
		}
	}
	if !bytes.Contains(nt, []byte("xborder request "+member+"/health-sensitive --purpose PURPOSE")) {
		t.Errorf("the export does not say how to ask for %s/health-sensitive", member)
	}
	for _, absent := range []string{"/datasets/" + member + "/health-confidential", "/datasets/" + member + "/unlisted-restricted",
		"/v1/catalogue/" + member + "/health-restricted"} {
		if bytes.Contains(nt, []byte(absent)) {
			t.Errorf("the export names %s", absent)
		}
	}
}

// checkSameGraph checks that the JSON-LD form is the graph of the
// N-Triples.
func checkSameGraph(t *testing.T, g *DCATGraph, nt []byte) {
	t.Helper()
	doc, err := g.JSONLD()
	if err != nil {
		t.Fatal(err)
	}
	if ctx, ok := doc["@context"].(map[string]any); !ok || len(ctx) == 0 {
		t.Fatalf("JSON-LD without an inline context: %v", doc["@context"])
	}
	opts := ldOptions()
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.Format = "application/n-quads"
	fromLD, err := ld.NewJsonLdProcessor().Normalize(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := fromLD.(string), canonical(t, nt); a != b {
		t.Errorf("the JSON-LD and the N-Triples differ:\n%s\n---\n%s", a, b)
	}
}

// canonical is an N-Triples graph in URDNA2015 canonical form.
func canonical(t *testing.T, nt []byte) string {
	t.Helper()
	opts := ldOptions()
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.Format = "application/n-quads"
	opts.InputFormat = "application/n-quads"
	out, err := ld.NewJsonLdProcessor().Normalize(string(nt), opts)
	if err != nil {
		t.Fatal(err)
	}
	return out.(string)
}

func concat(t *testing.T, dst string, srcs ...string) {
	t.Helper()
	var b bytes.Buffer
	for _, s := range srcs {
		raw, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(dst, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
