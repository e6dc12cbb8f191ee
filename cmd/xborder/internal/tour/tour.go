package tour

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// API is one node's local HTTP API as the tour calls it; the CLI's client
// implements it. A refusal by policy is a *DeniedError, any other non-2xx
// answer a *StatusError.
type API interface {
	Get(ctx context.Context, path string, out any) error
	Post(ctx context.Context, path string, body, out any) error
	// Upload posts metadata then the file as multipart/form-data.
	Upload(ctx context.Context, path string, meta any, file string, out any) error
	// UploadParts posts metadata then each file as the part it names
	// ({part, file}), as multipart/form-data.
	UploadParts(ctx context.Context, path string, meta any, files [][2]string, out any) error
}

// DeniedError is a call a node's policy refused (HTTP 403 with reasons);
// its text lists the reasons. Err is the client's own error.
type DeniedError struct{ Err error }

func (e *DeniedError) Error() string { return e.Err.Error() }
func (e *DeniedError) Unwrap() error { return e.Err }

// StatusError is any other non-2xx answer.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// AuditBrokenError is an audit trail whose verification failed.
type AuditBrokenError struct {
	Node   string
	Seq    uint64
	Reason string
}

func (e *AuditBrokenError) Error() string {
	return fmt.Sprintf("%s: audit trail broken at record %d: %s", e.Node, e.Seq, e.Reason)
}

// Node is one member as the tour reaches it.
type Node struct {
	Name string
	// Admin calls the API as the node's operator.
	Admin API
	// Researcher returns a client that calls the API as a researcher of
	// this node (a token the node accepts).
	Researcher func(subject, org string) (API, error)
	// SignIn signs a person in at the node's web console through the demo's
	// identity provider (nil: the node offers none).
	SignIn SignIn
}

// replicaWait bounds how long the tour waits for a replica, a partner's
// catalogue or a transfer: far longer than any of them takes on loopback.
const replicaWait = 30 * time.Second

// tour is one walk through the federation.
type tour struct {
	p      *Progress
	dir    string
	nodes  []Node
	byName map[string]Node
	// predictor is the example predictor's WebAssembly file.
	predictor string
	// people have accounts at the demo's identity provider: a member of
	// staff first, then a student.
	people []Person
}

// Option adds to a tour.
type Option func(*tour)

// WithPeople has the tour sign people in at the consoles through the
// demo's identity provider: a member of staff of a partner university,
// then a student.
func WithPeople(staff, student Person) Option {
	return func(t *tour) { t.people = []Person{staff, student} }
}

// Run walks the federation through the tour, writing its sample files
// under dir. The nodes are the five partner regions of `xborder demo`, by
// name; predictor is the example predictor built for WebAssembly (`make
// wasm`). The tour stops at the first step that fails.
func Run(ctx context.Context, p *Progress, dir, predictor string, nodes []Node, opts ...Option) error {
	t := &tour{p: p, dir: dir, nodes: nodes, byName: map[string]Node{}, predictor: predictor}
	for _, o := range opts {
		o(t)
	}
	for _, n := range nodes {
		t.byName[n.Name] = n
	}
	for _, part := range []func(context.Context) error{t.registry, t.catalogue, t.exchange, t.dataspace, t.agreement, t.analyses, t.evaluate, t.signin, t.audit} {
		if err := part(ctx); err != nil {
			return err
		}
	}
	return nil
}

// readAt reads path on n once its replica has applied index: a blocking
// read, held by the node until then (or replicaWait).
func readAt(ctx context.Context, n Node, path string, index uint64, out any) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return n.Admin.Get(ctx, path+sep+"index="+strconv.FormatUint(index, 10)+"&wait="+replicaWait.String(), out)
}

// indent puts a multi-line refusal under its step.
func indent(err error) string { return strings.ReplaceAll(err.Error(), "\n", "\n  ") }
