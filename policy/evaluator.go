package policy

import (
	"errors"
	"fmt"
)

// The operator's choice of evaluator (policy.evaluator in config.yaml).
const (
	// EvaluatorPlan decides from OPA's plan of the policy, run by package
	// irvm, once it is made; topdown decides meanwhile and for what the
	// plan cannot run. The default.
	EvaluatorPlan = "plan"
	// EvaluatorTopdown never plans: OPA's topdown takes every decision.
	// Slower, and a way out should the plan ever decide wrongly.
	EvaluatorTopdown = "topdown"
)

// Evaluators lists the values policy.evaluator accepts.
var Evaluators = []string{EvaluatorPlan, EvaluatorTopdown}

// forcedTopdown is what Evaluator says of a bundle the operator has
// topdown decide.
const forcedTopdown = "policy.evaluator is topdown"

// ErrBadEvaluator is wrapped when an evaluator is neither plan nor topdown.
var ErrBadEvaluator = errors.New("unknown policy evaluator")

// Option configures an Engine.
type Option func(*Engine) error

// WithEvaluator selects the evaluator: EvaluatorPlan (the default) or
// EvaluatorTopdown.
func WithEvaluator(name string) Option {
	return func(e *Engine) error {
		switch name {
		case EvaluatorPlan, EvaluatorTopdown:
			e.evaluator = name
			return nil
		case "":
			e.evaluator = EvaluatorPlan
			return nil
		}
		return fmt.Errorf("%w: %q is not one of plan, topdown", ErrBadEvaluator, name)
	}
}

// WithPlanAfter holds the plan of the first bundle until start is closed
// (or the engine is closed first): making a plan takes about a second of
// CPU, and a node that compiles its policies while its host starts would
// otherwise make it while the rest of its start waits for the same cores.
// Topdown decides meanwhile, as it does while any plan is made. Plans of
// later reloads are not held.
func WithPlanAfter(start <-chan struct{}) Option {
	return func(e *Engine) error {
		e.planAfter = start
		return nil
	}
}

// WithOnPlanned has fn called after each bundle's plan is made or refused
// (not with policy.evaluator topdown, which plans nothing), with the
// engine's info then. Making a plan allocates about 150 MB, garbage once
// it is made; a node returns it to the system from here.
func WithOnPlanned(fn func(Info)) Option {
	return func(e *Engine) error {
		e.onPlanned = fn
		return nil
	}
}
