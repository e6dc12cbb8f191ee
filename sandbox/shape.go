package sandbox

import "fmt"

// maxLocals bounds the locals of one function, as the JavaScript embedding
// of WebAssembly does (V8, SpiderMonkey).
const maxLocals = 50_000

// checkShape walks a module's structure before wazero decodes it, and
// refuses any vector that claims more entries (or bytes) than the bytes
// left to hold them. wazero v1.12's decoder allocates a vector from its
// declared length before reading it, so a few bytes claiming four billion
// entries make the Go runtime abort the whole process for want of memory
// (FuzzRun found it in the type section); no valid module is refused here,
// but for one with more than maxLocals locals in a function. It also
// returns the binary without its custom sections, which hold only names
// and debug information the sandbox does not use, and whose decoding has
// the same weakness.
func checkShape(bin []byte) ([]byte, error) {
	if len(bin) < 8 {
		return nil, fmt.Errorf("%d bytes is too short for a module", len(bin))
	}
	r := reader{b: bin[8:]}
	stripped := append([]byte(nil), bin[:8]...)
	for !r.done() {
		start := len(bin) - len(r.b)
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.uleb()
		if err != nil {
			return nil, err
		}
		body, err := r.take(size)
		if err != nil {
			return nil, fmt.Errorf("section %d: %d bytes declared, %d left", id, size, len(r.b))
		}
		if id == 0 {
			continue
		}
		if err := checkSection(id, body); err != nil {
			return nil, fmt.Errorf("section %d: %w", id, err)
		}
		stripped = append(stripped, bin[start:len(bin)-len(r.b)]...)
	}
	return stripped, nil
}

func checkSection(id byte, body []byte) error {
	s := &reader{b: body}
	n, err := s.count()
	if err != nil {
		return err
	}
	switch id {
	case 1: // types: 0x60, params, results
		for range n {
			if _, err := s.byte(); err != nil {
				return err
			}
			for range 2 {
				k, err := s.count()
				if err != nil {
					return err
				}
				if _, err := s.take(k); err != nil {
					return err
				}
			}
		}
	case 2: // imports: module, name, description
		for range n {
			if err := s.names(2); err != nil {
				return err
			}
			if err := s.importDesc(); err != nil {
				return err
			}
		}
	case 7: // exports: name, kind, index
		for range n {
			if err := s.names(1); err != nil {
				return err
			}
			if _, err := s.byte(); err != nil {
				return err
			}
			if _, err := s.uleb(); err != nil {
				return err
			}
		}
	case 9:
		for range n {
			if err := s.elementSegment(); err != nil {
				return err
			}
		}
	case 10: // code: size, locals, instructions
		for range n {
			size, err := s.uleb()
			if err != nil {
				return err
			}
			fn, err := s.take(size)
			if err != nil {
				return err
			}
			if err := checkLocals(fn); err != nil {
				return err
			}
		}
	case 11: // data: flags, [memory], [offset], bytes
		for range n {
			flags, err := s.uleb()
			if err != nil {
				return err
			}
			if flags == 2 {
				if _, err := s.uleb(); err != nil {
					return err
				}
			}
			if flags != 1 {
				if err := s.constExpr(); err != nil {
					return err
				}
			}
			k, err := s.count()
			if err != nil {
				return err
			}
			if _, err := s.take(k); err != nil {
				return err
			}
		}
	}
	// The other sections' entries are decoded one by one from their count,
	// which count has bounded.
	return nil
}

func checkLocals(fn []byte) error {
	s := &reader{b: fn}
	n, err := s.count()
	if err != nil {
		return err
	}
	var total uint64
	for range n {
		k, err := s.uleb()
		if err != nil {
			return err
		}
		if total += k; total > maxLocals {
			return fmt.Errorf("a function declares more than %d locals", maxLocals)
		}
		if _, err := s.byte(); err != nil {
			return err
		}
	}
	return nil
}

// count reads a vector's length, which cannot exceed the bytes left: every
// entry takes at least one.
func (r *reader) count() (uint64, error) {
	n, err := r.uleb()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.b)) {
		return 0, fmt.Errorf("a vector of %d entries in %d bytes", n, len(r.b))
	}
	return n, nil
}

func (r *reader) names(k int) error {
	for range k {
		n, err := r.count()
		if err != nil {
			return err
		}
		if _, err := r.take(n); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.uleb(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.uleb()
	}
	return err
}

func (r *reader) importDesc() error {
	kind, err := r.byte()
	if err != nil {
		return err
	}
	switch kind {
	case 0: // function: type index
		_, err = r.uleb()
	case 1: // table: element type, limits
		if _, err = r.byte(); err == nil {
			err = r.limits()
		}
	case 2: // memory
		err = r.limits()
	case 3: // global: value type, mutability
		if _, err = r.byte(); err == nil {
			_, err = r.byte()
		}
	case 4: // tag: attribute, type index
		if _, err = r.byte(); err == nil {
			_, err = r.uleb()
		}
	default:
		err = fmt.Errorf("import kind %d", kind)
	}
	return err
}

func (r *reader) elementSegment() error {
	prefix, err := r.uleb()
	if err != nil {
		return err
	}
	if prefix > 7 {
		return fmt.Errorf("element segment prefix %d", prefix)
	}
	if prefix == 2 || prefix == 6 { // table index
		if _, err := r.uleb(); err != nil {
			return err
		}
	}
	if prefix&1 == 0 { // active: offset
		if err := r.constExpr(); err != nil {
			return err
		}
	}
	if prefix&3 != 0 { // element kind or reference type
		if _, err := r.byte(); err != nil {
			return err
		}
	}
	n, err := r.count()
	if err != nil {
		return err
	}
	for range n {
		if prefix&4 == 0 { // function indices
			_, err = r.uleb()
		} else { // expressions
			err = r.constExpr()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// constExpr skips a constant expression, up to and including its end.
func (r *reader) constExpr() error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b: // end
			return nil
		case 0x41, 0x42, 0x23, 0xd0, 0xd2: // i32/i64.const, global.get, ref.null, ref.func
			_, err = r.uleb() // a signed LEB128 has the same extent
		case 0x43:
			_, err = r.take(4)
		case 0x44:
			_, err = r.take(8)
		case 0xfd: // v128.const
			if _, err = r.uleb(); err == nil {
				_, err = r.take(16)
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		default:
			return fmt.Errorf("opcode 0x%x in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}
