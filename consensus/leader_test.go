package consensus

import "testing"

// A write takes the watch's channel before it tries: a change of leader
// during its attempt wakes it, and one before does not.
func TestLeaderWatchWakesWritesThatWaitedBeforeTheChange(t *testing.T) {
	w := newLeaderWatch()
	before := w.next()
	w.changed()
	select {
	case <-before:
	default:
		t.Fatal("a change of leader did not wake the write that waited for it")
	}
	after := w.next()
	select {
	case <-after:
		t.Fatal("a change of leader before the wait woke it")
	default:
	}
	w.changed()
	<-after
}
