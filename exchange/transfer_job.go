package exchange

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// memberName is what a member name must look like to become a directory
// under DATA/downloads: no separators, no leading dot, never "..".
var memberName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validName checks a member name; dataset and model IDs follow ValidateID.
func validName(s string) bool {
	return memberName.MatchString(s) && !strings.HasSuffix(s, partialSuffix)
}

// maxJobs bounds the jobs kept in memory; the oldest finished ones go
// first (their outcome is in the audit trail).
const maxJobs = 1000

// JobState is where a transfer job stands.
type JobState string

const (
	JobRunning JobState = "running"
	JobDone    JobState = "done"
	JobFailed  JobState = "failed"
)

// JobStatus is a snapshot of a transfer job.
type JobStatus struct {
	ID       string   `json:"id"`
	Owner    string   `json:"owner"`
	Dataset  string   `json:"dataset"`
	GrantID  string   `json:"grant_id"`
	Size     int64    `json:"size"`
	Received int64    `json:"received"`
	State    JobState `json:"state"`
	Error    string   `json:"error,omitempty"`
	// Path is the verified file, set once the job is done.
	Path       string    `json:"path,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	SHA256     string    `json:"sha256"`
	// Attempts counts the streams opened, resumes included.
	Attempts int `json:"attempts"`
	// Integrity is set when the job failed because the content did not
	// match the grant's SHA-256.
	Integrity bool `json:"integrity_failure,omitempty"`
	// Requester is the subject of the researcher who started the job.
	Requester string `json:"requester,omitempty"`
}

// Job is a transfer owned by the Service: it outlives the context of the
// Fetch that started it and ends when it completes, fails, its grant
// expires, or the Service closes.
type Job struct {
	id      string
	by      string // the requester's subject
	owner   Member
	dataset string
	grant   string
	claims  grantClaims
	partial string
	final   string
	started time.Time
	done    chan struct{}

	received atomic.Int64

	// digest hashes the partial file as it is written; hashed is how many
	// bytes of it the digest covers. Only the job's own goroutine uses them.
	digest hash.Hash
	hashed int64

	mu       sync.Mutex
	state    JobState
	err      error
	attempts int
	finished time.Time
}

// ID names the job for Service.Job.
func (j *Job) ID() string { return j.id }

// Done is closed when the job has finished.
func (j *Job) Done() <-chan struct{} { return j.done }

// Err is nil while the job runs and once it is done; after a failure it
// is the cause (an *IntegrityError, a *RefusedError, ErrServiceClosed...).
func (j *Job) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Wait blocks until the job finishes or ctx ends, and returns its status
// and error.
func (j *Job) Wait(ctx context.Context) (JobStatus, error) {
	select {
	case <-j.done:
		return j.Status(), j.Err()
	case <-ctx.Done():
		return j.Status(), ctx.Err()
	}
}

// Status returns a snapshot of the job.
func (j *Job) Status() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := JobStatus{
		ID: j.id, Owner: j.owner.Name, Dataset: j.dataset, GrantID: j.claims.ID, Requester: j.by,
		Size: j.claims.Size, Received: j.received.Load(), State: j.state,
		StartedAt: j.started, FinishedAt: j.finished, SHA256: j.claims.SHA256, Attempts: j.attempts,
	}
	if j.err != nil {
		st.Error = j.err.Error()
		var ie *IntegrityError
		st.Integrity = errors.As(j.err, &ie)
	}
	if j.state == JobDone {
		st.Path = j.final
	}
	return st
}

func (j *Job) ref() string { return j.owner.Name + "/" + j.dataset }

// Fetch starts a job that downloads owner's dataset id with grant into
// DATA/downloads/OWNER/ID. The content goes to ID.partial first; a broken
// stream is resumed from the partial file's length (also across a restart
// of the node), and the file gets its final name only once its SHA-256
// matches the grant. ctx bounds only the start: the job belongs to the
// Service. At most one job per dataset runs at a time.
func (s *Service) Fetch(ctx context.Context, owner Member, id string, grant string) (*Job, error) {
	return s.FetchFor(ctx, "", owner, id, grant)
}

// FetchFor is Fetch on behalf of a researcher: the job and its audit
// records name requester (the researcher's subject), so that the node
// shows and serves the job to them alone.
func (s *Service) FetchFor(ctx context.Context, requester string, owner Member, id string, grant string) (*Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validName(owner.Name) {
		return nil, fmt.Errorf("fetch %s/%s: %w", owner.Name, id, ErrBadName)
	}
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("fetch %s/%s: %w", owner.Name, id, err)
	}
	gc, err := checkGrantHeld(grant, owner, id, s.self.PeerID, s.now())
	if err != nil {
		return nil, fmt.Errorf("fetch %s/%s: %w", owner.Name, id, err)
	}
	dir := filepath.Join(s.downloads, owner.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fetch %s/%s: %w", owner.Name, id, err)
	}
	j := &Job{
		id: newTokenID()[:16], by: requester, owner: owner, dataset: id, grant: grant, claims: gc,
		partial: filepath.Join(dir, id+partialSuffix), final: filepath.Join(dir, id),
		started: s.now().UTC(), done: make(chan struct{}), state: JobRunning,
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrServiceClosed
	}
	if _, running := s.active[j.ref()]; running {
		s.mu.Unlock()
		return nil, fmt.Errorf("fetch %s: %w", j.ref(), ErrTransferRunning)
	}
	s.active[j.ref()] = j
	s.jobs[j.id] = j
	s.order = append(s.order, j.id)
	s.trimJobsLocked()
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.runJob(j)
	}()
	return j, nil
}

// Jobs lists the transfer jobs, oldest first.
func (s *Service) Jobs() []JobStatus {
	s.mu.Lock()
	jobs := make([]*Job, 0, len(s.order))
	for _, id := range s.order {
		jobs = append(jobs, s.jobs[id])
	}
	s.mu.Unlock()
	out := make([]JobStatus, len(jobs))
	for i, j := range jobs {
		out[i] = j.Status()
	}
	return out
}

// Job returns one job's status.
func (s *Service) Job(id string) (JobStatus, bool) {
	s.mu.Lock()
	j, ok := s.jobs[id]
	s.mu.Unlock()
	if !ok {
		return JobStatus{}, false
	}
	return j.Status(), true
}

// trimJobsLocked forgets the oldest finished jobs beyond maxJobs.
func (s *Service) trimJobsLocked() {
	for i := 0; len(s.order) > maxJobs && i < len(s.order); {
		j := s.jobs[s.order[i]]
		select {
		case <-j.done:
			delete(s.jobs, j.id)
			s.order = append(s.order[:i], s.order[i+1:]...)
		default:
			i++
		}
	}
}

// runJob drives a job to its end and records its outcome.
func (s *Service) runJob(j *Job) {
	subject := s.self.Name + " -> " + j.ref()
	rec := transferRecord{Side: "requester", Peer: j.owner.PeerID.String(), GrantID: j.claims.ID, JobID: j.id,
		SHA256: j.claims.SHA256, Size: j.claims.Size, Researcher: j.by}
	if fi, err := os.Stat(j.partial); err == nil {
		rec.Offset = fi.Size()
	}

	// The owner refuses an expired grant: there is no point in retrying
	// past it.
	ctx, cancel := context.WithDeadline(s.ctx, j.claims.expiresAt())
	defer cancel()
	// Nothing is fetched unless the start is on record.
	err := s.record(RecordTransferStarted, subject, rec)
	if err == nil {
		err = s.download(ctx, j)
	}
	if err == nil {
		err = s.verifyDownload(j)
	}
	var ie *IntegrityError
	if rec.Offset > 0 && errors.As(err, &ie) {
		// The partial file predates this job and may hold a prefix of
		// another version of the dataset; the check has deleted it, so a
		// download from zero settles whether the owner's content is bad.
		s.log.Info("a resumed download failed its check; downloading again from the start", "job", j.id, "err", err)
		if err = s.download(ctx, j); err == nil {
			err = s.verifyDownload(j)
		}
	}

	j.mu.Lock()
	j.finished = s.now().UTC()
	if err != nil {
		j.state, j.err = JobFailed, err
	} else {
		j.state = JobDone
	}
	j.mu.Unlock()

	rec.Bytes = j.received.Load()
	if err != nil {
		rec.Error = err.Error()
		var r *RefusedError
		if errors.As(err, &r) {
			rec.Code = string(r.Code)
		}
		s.log.Warn("transfer failed", "job", j.id, "subject", subject, "err", err)
		_ = s.record(RecordTransferFailed, subject, rec)
	} else {
		rec.Path = j.final
		s.log.Info("transfer completed", "job", j.id, "subject", subject, "bytes", rec.Bytes)
		// The file is verified and in place; a failure to record it is
		// logged, and serving it locally needs a record of its own.
		_ = s.record(RecordTransferCompleted, subject, rec)
	}

	// Done only once the outcome is on record and the dataset can be
	// fetched again.
	s.mu.Lock()
	delete(s.active, j.ref())
	s.mu.Unlock()
	close(j.done)
}
