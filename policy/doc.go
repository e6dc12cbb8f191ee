// Package policy is xborder's embedded Open Policy Agent: it loads a policy
// directory (Rego v1 modules and data/*.json), compiles it strictly,
// prepares one query per decision point, and turns typed inputs into typed
// decisions. The node reloads the directory on change, on SIGHUP and on
// request; a reload that fails leaves the last good policy in force.
//
// Decisions are taken from OPA's plan of the policy (the intermediate
// representation `opa build -t plan` writes, run by package irvm), which
// costs a fraction of OPA's tree-walking evaluator, topdown. The engine
// makes the plan in the background after each load. Topdown stays: it
// decides while the plan is being made, takes every decision of a policy
// the planner cannot plan, repeats any
// evaluation the plan fails so that the error names file and line, and
// serves ad-hoc evaluation with explanations. With WithEvaluator
// (EvaluatorTopdown), the operator's policy.evaluator, the engine never
// plans and topdown takes every decision.
//
// The package also wraps OPA's own tools for legal teams: the test runner,
// the formatter and ad-hoc evaluation with explanations, so that
// `xborder policy ...` and the stock `opa` binary agree on the same files.
//
// Where things are: load.go compiles a directory into a Bundle (bundle.go),
// files.go lists its files and computes the bundle hash, plan.go makes the
// plan, eval.go takes a decision from the plan or topdown, decision.go
// reads a Decision from the policy's value, analysis.go the decision of a
// federated analysis with its disclosure limits, dataspace.go the consumer
// side of a dataspace and the purpose vocabulary (from which a provider
// derives its offers), input.go holds the typed
// inputs, engine.go swaps bundles atomically on Reload and watch.go
// reloads on change; check.go, testrunner.go, format.go and query.go wrap
// OPA's tools. The engine serves the local API directly: it is its
// Authorizer (APIAllow). Declaring the active bundle in the registry is the
// node's wiring (node/policy.go); the audit policy's decisions are taken
// and recorded by audit.Service.
//
// # Caveats
//
//   - Decisions read only their input and the bundle's static data: callers
//     pass the registry facts a decision needs (the project named, the
//     agreements for the resource), never the whole registry, so the cost of
//     a decision does not grow with the registry.
//   - A built-in function's error makes the plan's evaluation fail and
//     topdown's answer (with strict built-in errors) stands. Where topdown
//     would meet such an error in a body the plan finds undefined first, the
//     plan's answer is the one topdown gives without strict built-in errors.
//   - Four decision points are optional (data.xborder.audit.decision,
//     data.xborder.analysis.decision, data.xborder.dataspace.decision and
//     data.xborder.api.role, added after regions wrote their policies): a
//     bundle without one loads, and the point refuses, saying why. An analysis decision that
//     allows must carry sane disclosure limits, or it is a *ShapeError and
//     the analysis is refused.
//   - Test files (*_test.rego) are compiled by Check and run by Test, but are
//     not part of the bundle that decides; they do not change its hash.
//     They are run by Plan, though: before a plan decides, the plan and
//     topdown must agree on every input the tests give a decision point and
//     on the inputs of the engine's last decisions (dualeval.go); Test
//     reports each difference as a failure.
//   - Every decision runs under its point's deadline (Deadlines; 250 ms for
//     api.allow and catalogue.visible, 500 ms for the others by default) and
//     stops when its caller's context ends. One that overruns is a denial,
//     a *TimeoutError, reported through Engine.OnTimeout. A single built-in
//     call is not interrupted (irvm checks between loop iterations and
//     calls, topdown between evaluation steps).
//   - Every path that compiles Rego (Load, Check, Test, EvalQuery,
//     Engine.Eval) uses the same capabilities: OPA's, less the built-ins in
//     Forbidden, which reach the network, the node's environment or files,
//     or randomness. A module or query that calls one does not compile.
//   - The package must not import libp2p, raft or exchange.
package policy
