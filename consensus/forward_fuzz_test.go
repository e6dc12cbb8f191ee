package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// fuzzReplies are the answers a leader writes, one of each kind.
func fuzzReplies() []forwardReply {
	return []forwardReply{
		replyFor(42, nil),
		replyFor(43, &RejectedError{Op: OpProjectJoin, Reason: "fr-grandest is already a partner of \"p1\""}),
		replyFor(0, errNotLeader),
		replyFor(0, errors.Join(ErrStale, errors.New("the command was signed 3m0s ago"))),
		replyFor(0, errors.New("timed out enqueuing operation")),
	}
}

// FuzzForwardStream feeds the decoders of the forwarding protocols: the
// frames a leader reads from a follower's stream (an ID and a signed
// command on RegistryPipelineProtocol, one command on RegistryProtocol)
// and the answers a follower reads back. Nothing that arrives may crash
// either side; every frame read is within the size cap and re-encodes to
// the bytes it was read from; an answer decodes to an outcome that
// re-encodes to itself.
func FuzzForwardStream(f *testing.F) {
	cmds := fuzzCommands(f)
	var pipe bytes.Buffer
	for i, c := range cmds {
		if err := writeIDFrame(&pipe, uint64(i+1), c); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(pipe.Bytes())
	var answers bytes.Buffer
	for i, rep := range fuzzReplies() {
		raw, err := json.Marshal(rep)
		if err != nil {
			f.Fatal(err)
		}
		if err := writeIDFrame(&answers, uint64(i+1), raw); err != nil {
			f.Fatal(err)
		}
		var one bytes.Buffer
		if err := writeJSONFrame(&one, rep); err != nil {
			f.Fatal(err)
		}
		f.Add(one.Bytes())
	}
	f.Add(answers.Bytes())
	var legacy bytes.Buffer
	if err := writeFrame(&legacy, cmds[0]); err != nil {
		f.Fatal(err)
	}
	f.Add(legacy.Bytes())
	f.Add([]byte{0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1}) // shorter than its ID
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) // over the cap
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 9}) // an ID and nothing
	f.Fuzz(func(t *testing.T, data []byte) {
		// RegistryPipelineProtocol: frames until the stream ends.
		var again bytes.Buffer
		r := bytes.NewReader(data)
		for {
			id, b, err := readIDFrame(r)
			if err != nil {
				break
			}
			if len(b) > maxFrame {
				t.Fatalf("a %d-byte frame passed the %d-byte cap", len(b), maxFrame)
			}
			if err := writeIDFrame(&again, id, b); err != nil {
				t.Fatal(err)
			}
			checkForwarded(t, b)
		}
		if !bytes.HasPrefix(data, again.Bytes()) {
			t.Fatal("the frames read do not re-encode to the bytes they were read from")
		}
		// RegistryProtocol: one frame.
		if b, err := readFrame(bytes.NewReader(data)); err == nil {
			if len(b) > maxFrame {
				t.Fatalf("a %d-byte frame passed the %d-byte cap", len(b), maxFrame)
			}
			var one bytes.Buffer
			if err := writeFrame(&one, b); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, one.Bytes()) {
				t.Fatal("the frame read does not re-encode to the bytes it was read from")
			}
			checkForwarded(t, b)
		}
	})
}

// checkForwarded runs a frame's body through what either side does with
// it: the leader dates a command before queueing it, the follower decodes
// an answer into Submit's outcome.
func checkForwarded(t *testing.T, b []byte) {
	t.Helper()
	_, _ = commandAge(b)
	var rep forwardReply
	if json.Unmarshal(b, &rep) != nil {
		return
	}
	idx, err := rep.outcome()
	if err == nil && idx != rep.Index {
		t.Fatalf("answer %+v: committed at %d", rep, idx)
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back forwardReply
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, rep) {
		t.Fatalf("answer %+v re-encodes to %s, which decodes to %+v (%v)", rep, raw, back, err)
	}
}
