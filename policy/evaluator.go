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
