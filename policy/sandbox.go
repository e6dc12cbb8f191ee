package policy

import (
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Forbidden are the built-in functions no evaluation of a policy may call:
// decisions, the playground and `xborder policy eval|test|check` alike. Each
// reaches outside the evaluation (the network, the node's environment or
// files) or draws random numbers, so that a policy or an ad-hoc query could
// make the node a proxy into its own network, read its secrets, or decide
// differently on the same input. They are left out of the capabilities the
// compiler is given, so that a module or a query that calls one does not
// compile; docs/policies.md ("What a policy may not call") lists them.
var Forbidden = map[string]string{
	"http.send":          "it sends HTTP requests from the node",
	"net.lookup_ip_addr": "it makes DNS queries from the node",
	"opa.runtime":        "it returns the node's environment variables and configuration",
	"json.match_schema":  "a $ref in the schema makes it read the node's files or fetch URLs",
	"json.verify_schema": "a $ref in the schema makes it read the node's files or fetch URLs",
	"rand.intn":          "it returns random numbers",
	"uuid.rfc4122":       "it returns random UUIDs",
	// ECDSA and RSA-PSS signatures draw a random nonce: the same input
	// would not give the same answer twice.
	"io.jwt.encode_sign":     "it signs with random nonces for some algorithms",
	"io.jwt.encode_sign_raw": "it signs with random nonces for some algorithms",
}

// capabilities are OPA's capabilities for this version without the
// forbidden built-ins, and with no host a built-in may reach over the
// network (allow_net empty, not absent: absent allows every host).
var capabilities = sandboxCapabilities()

func sandboxCapabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool {
		_, no := Forbidden[b.Name]
		return no
	})
	c.AllowNet = []string{}
	return c
}

// newCompiler is the compiler every policy path uses: strict, Rego v1, and
// confined to the sandbox's capabilities.
func newCompiler() *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(capabilities).
		WithStrict(true).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(false)
}

// checkForbidden names each call of a forbidden built-in in the modules (or
// a query's body) with its location and why it is refused. The compiler
// refuses them anyway, as undefined functions; this says why.
func checkForbidden(x any) ast.Errors {
	var errs ast.Errors
	report := func(t *ast.Term) {
		r, ok := t.Value.(ast.Ref)
		if !ok {
			return
		}
		name := r.String()
		if why, no := Forbidden[name]; no {
			errs = append(errs, ast.NewError(ast.CompileErr, t.Location,
				"%s may not be called in an xborder policy: %s (see \"What a policy may not call\" in docs/policies.md)", name, why))
		}
	}
	ast.WalkExprs(x, func(e *ast.Expr) bool {
		if e.IsCall() {
			report(e.OperatorTerm())
		}
		for _, w := range e.With {
			report(w.Target)
			report(w.Value)
		}
		return false
	})
	ast.WalkTerms(x, func(t *ast.Term) bool {
		if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
			report(c[0])
		}
		return false
	})
	return errs
}

// checkForbiddenModules runs checkForbidden over modules in name order.
func checkForbiddenModules(mods map[string]*ast.Module) ast.Errors {
	var errs ast.Errors
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		errs = append(errs, checkForbidden(mods[name])...)
	}
	return errs
}
