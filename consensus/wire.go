package consensus

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// RegistryProtocol carries commands from a member to the raft leader,
// one command per stream.
const RegistryProtocol = "/xborder/registry/1.0.0"

// RegistryPipelineProtocol carries many commands from a member to the
// raft leader on one stream: request frames are an 8-byte ID and a signed
// command, reply frames an 8-byte ID and a forwardReply, in any order.
const RegistryPipelineProtocol = "/xborder/registry/1.1.0"

// maxFrame bounds a forwarded message.
const maxFrame = maxCommandBytes + 4096

// forwardReply is the leader's answer to a forwarded command.
type forwardReply struct {
	Index    uint64 `json:"index,omitempty"`    // also with Rejected: the entry that refused it
	Rejected string `json:"rejected,omitempty"` // the FSM's reason
	Code     string `json:"code,omitempty"`     // with Rejected: RejectedError.Code
	Op       string `json:"op,omitempty"`
	Error    string `json:"error,omitempty"` // no index: see NotLeader and Stale, else the outcome is unknown (timeout...)
	// NotLeader and Stale: refused before it was queued, never applied.
	NotLeader bool `json:"not_leader,omitempty"`
	Stale     bool `json:"stale,omitempty"`
}

// writeFrame writes a length-prefixed message.
func writeFrame(w io.Writer, b []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// readFrame reads a length-prefixed message of at most maxFrame bytes.
func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, fmt.Errorf("message of %d bytes exceeds the %d-byte limit", size, maxFrame)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeJSONFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFrame(w, b)
}

// writeIDFrame writes a length-prefixed message that starts with an ID.
func writeIDFrame(w io.Writer, id uint64, b []byte) error {
	var hdr [12]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(8+len(b)))
	binary.BigEndian.PutUint64(hdr[4:], id)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// readIDFrame reads a message written by writeIDFrame.
func readIDFrame(r io.Reader) (uint64, []byte, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:4])
	if size < 8 || size-8 > maxFrame {
		return 0, nil, fmt.Errorf("message of %d bytes is not an ID and at most %d bytes", size, maxFrame)
	}
	b := make([]byte, size-8)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return binary.BigEndian.Uint64(hdr[4:]), b, nil
}
