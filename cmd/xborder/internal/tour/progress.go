package tour

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Status is where a step stands.
type Status string

const (
	Started Status = "started"
	OK      Status = "ok"
	Failed  Status = "failed"
)

// Figures are what a step measured or was given; each is set only where
// the step has it.
type Figures struct {
	// ID names what the step acted on: a project, an owner/id entry, an
	// agreement, a transfer.
	ID string `json:"id,omitempty"`
	// Index is the registry index a write committed at, or the index a
	// replica had applied when it was read.
	Index uint64 `json:"index,omitempty"`
	// Count is how many things the step saw: peers, projects, catalogue
	// entries, signatures, audit records.
	Count int `json:"count,omitempty"`
	// Bytes is the size of a published or transferred file.
	Bytes int64 `json:"bytes,omitempty"`
}

// Event is one line of the JSON progress.
type Event struct {
	Time   time.Time `json:"time"`
	Step   string    `json:"step"`
	Status Status    `json:"status"`
	Node   string    `json:"node,omitempty"`
	Figures
	// ElapsedMS is how long the step took, from its started event to its
	// ok or failed one (for "mesh": from the start of the processes).
	ElapsedMS float64 `json:"elapsed_ms,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Progress reports the demo to people, as prose, or with JSON set to
// programs, as one Event per line and no prose. It is used from one
// goroutine.
type Progress struct {
	w    io.Writer
	json bool
}

// NewProgress reports on w; asJSON selects the JSON lines.
func NewProgress(w io.Writer, asJSON bool) *Progress {
	return &Progress{w: w, json: asJSON}
}

// JSON says whether p reports JSON lines (and so no prose).
func (p *Progress) JSON() bool { return p.json }

// Printf writes prose for people; nothing in JSON mode.
func (p *Progress) Printf(format string, args ...any) {
	if !p.json {
		fmt.Fprintf(p.w, format, args...)
	}
}

// Prose returns the writer for prose (tables), io.Discard in JSON mode.
func (p *Progress) Prose() io.Writer {
	if p.json {
		return io.Discard
	}
	return p.w
}

// Step is one reported step.
type Step struct {
	p       *Progress
	name    string
	node    string
	started time.Time
}

// Start reports that a step on node (empty for the federation) began.
func (p *Progress) Start(step, node string) *Step {
	s := &Step{p: p, name: step, node: node, started: time.Now()}
	p.emit(Event{Time: s.started, Step: step, Status: Started, Node: node})
	return s
}

// OK reports the step done with its figures and returns how long it took.
func (s *Step) OK(f Figures) time.Duration {
	now := time.Now()
	d := now.Sub(s.started)
	s.p.emit(Event{Time: now, Step: s.name, Status: OK, Node: s.node, Figures: f, ElapsedMS: ms(d)})
	return d
}

// Fail reports the step failed and returns err, for `return st.Fail(err)`.
func (s *Step) Fail(err error) error {
	now := time.Now()
	s.p.emit(Event{Time: now, Step: s.name, Status: Failed, Node: s.node, ElapsedMS: ms(now.Sub(s.started)), Error: err.Error()})
	return err
}

func (p *Progress) emit(e Event) {
	if !p.json {
		return
	}
	// A line that cannot be written has nowhere else to go; the demo's
	// own result still reaches its caller as the exit code.
	_ = json.NewEncoder(p.w).Encode(e)
}

// ms is a duration in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
