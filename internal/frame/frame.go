// Package frame reads and writes the length-prefixed JSON messages of
// xborder's request-reply libp2p protocols: a 4-byte big-endian length,
// then exactly one JSON value. Both sides cap a frame; a reader refuses
// unknown fields and trailing data, so a peer speaking another version of
// a protocol is told so rather than half understood.
package frame

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is wrapped when a frame exceeds the limit of its reader.
var ErrTooLarge = errors.New("message exceeds the size limit")

// Write writes v as one frame. The receiver's cap applies, so the sender
// checks it too rather than have the stream reset.
func Write(w io.Writer, limit int, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(raw) > limit {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(raw), limit)
	}
	buf := make([]byte, 4+len(raw))
	binary.BigEndian.PutUint32(buf, uint32(len(raw)))
	copy(buf[4:], raw)
	_, err = w.Write(buf)
	return err
}

// Read reads one frame of at most limit bytes into v.
func Read(r io.Reader, limit int, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if uint64(size) > uint64(limit) {
		return fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, size, limit)
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return err
	}
	return Decode(raw, v)
}

// Decode decodes exactly one JSON value whose fields v knows.
func Decode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed message: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("malformed message: data after the JSON value")
	}
	return nil
}
