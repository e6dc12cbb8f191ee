package sandbox

import "errors"

// errOutputLimit is what the module's write past the output limit returns;
// the run is ended at the same time.
var errOutputLimit = errors.New("output limit reached")

// limitedOutput keeps standard output up to its limit; a write past it
// fails and calls exceeded, which ends the run.
type limitedOutput struct {
	buf      []byte
	limit    int
	over     bool
	exceeded func()
}

func (w *limitedOutput) Write(p []byte) (int, error) {
	if w.over {
		return 0, errOutputLimit
	}
	room := w.limit - len(w.buf)
	if len(p) <= room {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.buf = append(w.buf, p[:room]...)
	w.over = true
	w.exceeded()
	return room, errOutputLimit
}

// truncatedOutput keeps standard error up to its limit and drops the rest:
// it is for diagnostics, and a module's failure should not be hidden by a
// failure to report it.
type truncatedOutput struct {
	buf       []byte
	limit     int
	truncated bool
}

func (w *truncatedOutput) Write(p []byte) (int, error) {
	room := w.limit - len(w.buf)
	if len(p) > room {
		w.buf = append(w.buf, p[:room]...)
		w.truncated = true
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// tail is the end of what the module wrote, for an error message.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
