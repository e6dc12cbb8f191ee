package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/xborder/xborder/internal/frame"
)

// The requester's side of a transfer: attempts, resumption from the
// partial file, and the final check.

// localError marks a failure of this node's own disk: retrying the
// network would not help.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// permanent says whether a failed attempt must end the job.
func permanent(err error) bool {
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Code != RefusalBusy
	}
	var l *localError
	var ie *IntegrityError
	return errors.As(err, &l) || errors.As(err, &ie) || errors.Is(err, ErrServiceClosed)
}

// download runs attempts until the partial file is complete, pausing
// with exponential backoff between transient failures.
func (s *Service) download(ctx context.Context, j *Job) error {
	backoff := s.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		before := j.received.Load()
		err := s.fetchOnce(ctx, j, attempt > 0)
		if err == nil {
			return nil
		}
		if s.ctx.Err() != nil {
			return fmt.Errorf("%w: the partial download is kept; fetch again to resume", ErrServiceClosed)
		}
		if permanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w before the transfer completed (last error: %v)", ErrGrantExpired, err)
		}
		if j.received.Load() > before {
			backoff = s.cfg.RetryBackoff
		}
		s.log.Info("transfer interrupted; resuming", "job", j.id, "received", j.received.Load(), "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if s.ctx.Err() != nil {
				return fmt.Errorf("%w: the partial download is kept; fetch again to resume", ErrServiceClosed)
			}
			return fmt.Errorf("%w before the transfer completed (last error: %v)", ErrGrantExpired, err)
		case <-t.C:
		}
		backoff = min(2*backoff, s.cfg.MaxRetryBackoff)
	}
}

// fetchOnce opens one transfer stream and appends what arrives to the
// partial file; it returns nil once the file has the grant's size.
func (s *Service) fetchOnce(ctx context.Context, j *Job, redial bool) error {
	f, err := os.OpenFile(j.partial, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return &localError{err}
	}
	defer f.Close()
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return &localError{err}
	}
	if offset > j.claims.Size {
		// Not a prefix of this content: start over.
		if err := f.Truncate(0); err != nil {
			return &localError{err}
		}
		if offset, err = f.Seek(0, io.SeekStart); err != nil {
			return &localError{err}
		}
	}
	j.received.Store(offset)
	j.mu.Lock()
	j.attempts++
	j.mu.Unlock()
	if err := j.catchUpDigest(offset); err != nil {
		return &localError{err}
	}

	dialCtx := ctx
	if redial {
		// After a broken connection the swarm's dial backoff would hold
		// the resume back for seconds; the job paces its own retries.
		dialCtx = network.WithForceDirectDial(ctx, "resume transfer")
	}
	dialCtx, cancel := context.WithTimeout(dialCtx, s.cfg.StreamTimeout)
	st, err := s.host.NewStream(dialCtx, j.owner.PeerID, TransferProtocol)
	cancel()
	if err != nil {
		return fmt.Errorf("open transfer stream: %w", err)
	}
	if !s.track(st) {
		_ = st.Reset()
		return ErrServiceClosed
	}
	defer s.untrack(st)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()

	_ = st.SetDeadline(s.now().Add(s.cfg.StreamTimeout))
	if err := frame.Write(st, s.cfg.MaxMessage, transferFrame{Grant: j.grant, Dataset: j.dataset, Offset: offset}); err != nil {
		_ = st.Reset()
		return fmt.Errorf("send transfer request: %w", err)
	}
	_ = st.CloseWrite()
	var hdr transferHeader
	if err := frame.Read(st, s.cfg.MaxMessage, &hdr); err != nil {
		_ = st.Reset()
		return fmt.Errorf("read transfer header: %w", err)
	}
	if hdr.Code != "" {
		_ = st.Close()
		return &RefusedError{Code: hdr.Code, Reason: hdr.Reason}
	}
	if hdr.Size != j.claims.Size || hdr.SHA256 != j.claims.SHA256 || hdr.Offset != offset {
		_ = st.Reset()
		return &RefusedError{Code: RefusalWrongDataset, Reason: fmt.Sprintf(
			"the owner offers %d bytes with SHA-256 %s from offset %d; the grant says %d bytes with %s from %d",
			hdr.Size, hdr.SHA256, hdr.Offset, j.claims.Size, j.claims.SHA256, offset)}
	}
	if err := s.receiveContent(st, f, j, offset, hdr.Size-offset); err != nil {
		_ = st.Reset()
		return err
	}
	_ = st.Close()
	if err := f.Sync(); err != nil {
		return &localError{err}
	}
	return nil
}

// writebackEvery is how many received bytes the requester lets
// accumulate in the page cache before handing them to the disk.
const writebackEvery = 8 << 20

// receiveContent appends n bytes from the stream to f, whose end is at
// offset, each read under a fresh IdleTimeout deadline. Every
// writebackEvery bytes it starts writing them to the disk (startWriteback),
// so the disk works while the network does and the fsync that follows
// waits for the last few MiB instead of the whole file.
func (s *Service) receiveContent(st network.Stream, f *os.File, j *Job, offset, n int64) error {
	buf := make([]byte, s.cfg.ChunkSize)
	pos, flushed := offset, offset
	for n > 0 {
		_ = st.SetReadDeadline(s.now().Add(s.cfg.IdleTimeout))
		k, rerr := st.Read(buf[:min(int64(len(buf)), n)])
		if k > 0 {
			if _, err := f.Write(buf[:k]); err != nil {
				return &localError{err}
			}
			if pos += int64(k); pos-flushed >= writebackEvery {
				startWriteback(f, flushed, pos-flushed)
				flushed = pos
			}
			j.digest.Write(buf[:k])
			j.hashed += int64(k)
			n -= int64(k)
			j.received.Add(int64(k))
		}
		if rerr != nil && n > 0 {
			if errors.Is(rerr, io.EOF) {
				return fmt.Errorf("the owner ended the stream %d bytes early", n)
			}
			return fmt.Errorf("read content: %w", rerr)
		}
	}
	return nil
}

// catchUpDigest makes the running digest cover exactly the first offset
// bytes of the partial file. Bytes received by this job are hashed as they
// arrive; a partial file left by an earlier run, or cut back, is read once.
func (j *Job) catchUpDigest(offset int64) error {
	if j.digest != nil && j.hashed == offset {
		return nil
	}
	j.digest, j.hashed = sha256.New(), 0
	if offset == 0 {
		return nil
	}
	f, err := os.Open(j.partial)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(j.digest, io.LimitReader(f, offset))
	j.hashed = n
	if err == nil && n != offset {
		err = fmt.Errorf("partial file shorter than %d bytes", offset)
	}
	return err
}

// verifyDownload compares the digest of the complete partial file with
// the grant's: on a match the file takes its final name, otherwise it is
// deleted.
func (s *Service) verifyDownload(j *Job) error {
	info, err := os.Stat(j.partial)
	if err != nil {
		return &localError{err}
	}
	n := info.Size()
	if err := j.catchUpDigest(n); err != nil {
		return &localError{err}
	}
	if got := hex.EncodeToString(j.digest.Sum(nil)); n != j.claims.Size || got != j.claims.SHA256 {
		if err := os.Remove(j.partial); err != nil {
			s.log.Error("remove corrupt download", "path", j.partial, "err", err)
		}
		j.received.Store(0)
		j.digest, j.hashed = nil, 0
		return &IntegrityError{Owner: j.owner.Name, Dataset: j.dataset, Want: j.claims.SHA256, Got: got, Size: n}
	}
	if err := os.Rename(j.partial, j.final); err != nil {
		return &localError{err}
	}
	return nil
}
