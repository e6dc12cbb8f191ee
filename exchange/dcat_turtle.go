package exchange

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/piprate/json-gold/ld"
)

// json-gold has no Turtle writer, so this prints the triples it produced
// (already typed and escaped as RDF terms) grouped by subject, with the
// export's prefixes. N-Triples stays the reference form: the tests check
// that both parse to the same graph.

// Turtle is the graph as Turtle.
func (g *DCATGraph) Turtle() ([]byte, error) {
	ds, err := g.dataset()
	if err != nil {
		return nil, err
	}
	quads := slices.Clone(ds.GetQuads("@default"))
	slices.SortStableFunc(quads, func(a, b *ld.Quad) int {
		return cmp.Or(cmp.Compare(subjectKey(a.Subject), subjectKey(b.Subject)),
			cmp.Compare(predicateKey(a.Predicate.GetValue()), predicateKey(b.Predicate.GetValue())),
			cmp.Compare(a.Object.GetValue(), b.Object.GetValue()))
	})
	var out bytes.Buffer
	for _, p := range dcatPrefixes {
		fmt.Fprintf(&out, "@prefix %s: <%s> .\n", p.Prefix, p.NS)
	}
	for i := 0; i < len(quads); {
		s := quads[i].Subject
		fmt.Fprintf(&out, "\n%s", turtleTerm(s))
		first := true
		for i < len(quads) && subjectKey(quads[i].Subject) == subjectKey(s) {
			p := quads[i].Predicate.GetValue()
			if !first {
				out.WriteString(" ;")
			}
			first = false
			pred := turtleTerm(quads[i].Predicate)
			if p == nsRDF+"type" {
				pred = "a"
			}
			fmt.Fprintf(&out, "\n    %s ", pred)
			for k := i; i < len(quads) && subjectKey(quads[i].Subject) == subjectKey(s) && quads[i].Predicate.GetValue() == p; i++ {
				if i > k {
					out.WriteString(" , ")
				}
				out.WriteString(turtleTerm(quads[i].Object))
			}
		}
		out.WriteString(" .\n")
	}
	return out.Bytes(), nil
}

// subjectKey sorts IRIs before blank nodes; predicateKey puts rdf:type
// first.
func subjectKey(n ld.Node) string {
	if ld.IsBlankNode(n) {
		return "~" + n.GetValue()
	}
	return n.GetValue()
}

func predicateKey(p string) string {
	if p == nsRDF+"type" {
		return ""
	}
	return p
}

// localName is what a prefixed name may hold here: a safe subset of
// Turtle's PN_LOCAL.
var localName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func turtleIRI(iri string) string {
	for _, p := range dcatPrefixes {
		if rest, ok := strings.CutPrefix(iri, p.NS); ok && localName.MatchString(rest) {
			return p.Prefix + ":" + rest
		}
	}
	return "<" + iriEscaper.Replace(iri) + ">"
}

// iriEscaper escapes what Turtle forbids in an IRIREF (url.PathEscape
// already leaves none of it in the IRIs the export builds).
var iriEscaper = strings.NewReplacer(" ", "%20", "<", "%3C", ">", "%3E", `"`, "%22", "{", "%7B", "}", "%7D",
	"|", "%7C", "^", "%5E", "`", "%60", `\`, "%5C")

var literalEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)

func turtleTerm(n ld.Node) string {
	switch t := n.(type) {
	case ld.IRI:
		return turtleIRI(t.Value)
	case *ld.IRI:
		return turtleIRI(t.Value)
	case ld.BlankNode:
		return t.Attribute
	case *ld.BlankNode:
		return t.Attribute
	case ld.Literal:
		return turtleLiteral(t)
	case *ld.Literal:
		return turtleLiteral(*t)
	}
	return fmt.Sprintf("%q", n.GetValue())
}

func turtleLiteral(l ld.Literal) string {
	s := `"` + literalEscaper.Replace(l.Value) + `"`
	switch {
	case l.Language != "":
		return s + "@" + l.Language
	case l.Datatype != "" && l.Datatype != nsXSD+"string":
		return s + "^^" + turtleIRI(l.Datatype)
	}
	return s
}
