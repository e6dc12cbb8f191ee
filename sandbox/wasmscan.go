package sandbox

import "errors"

var errMalformed = errors.New("malformed section")

// declaredMemoryPages is the largest initial size, in pages, of the
// memories a module defines (its memory section). wazero sizes a memory
// at instantiation from this number before any limit of ours applies, and
// its API exposes only exported memories, so the sandbox reads it from
// the binary to refuse a module that asks for more than the limit before
// a byte is allocated. It runs on binaries wazero has already validated.
func declaredMemoryPages(bin []byte) (uint64, error) {
	const memorySection = 5
	if len(bin) < 8 {
		return 0, errMalformed
	}
	r := reader{b: bin[8:]} // magic and version
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return 0, err
		}
		size, err := r.uleb()
		if err != nil {
			return 0, err
		}
		body, err := r.take(size)
		if err != nil {
			return 0, err
		}
		if id != memorySection {
			continue
		}
		s := reader{b: body}
		n, err := s.uleb()
		if err != nil {
			return 0, err
		}
		var most uint64
		for range n {
			flags, err := s.byte()
			if err != nil {
				return 0, err
			}
			initial, err := s.uleb()
			if err != nil {
				return 0, err
			}
			if flags&1 != 0 { // a maximum follows
				if _, err := s.uleb(); err != nil {
					return 0, err
				}
			}
			most = max(most, initial)
		}
		return most, nil
	}
	return 0, nil
}

type reader struct {
	b []byte
}

func (r *reader) done() bool { return len(r.b) == 0 }

func (r *reader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errMalformed
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *reader) take(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)) {
		return nil, errMalformed
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s, nil
}

// uleb reads an unsigned LEB128 number of up to 64 bits.
func (r *reader) uleb() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errMalformed
}
