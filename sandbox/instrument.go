package sandbox

import (
	"errors"
	"fmt"
)

// stopExport names the global through which the sandbox stops a run (see
// instrument).
const stopExport = "xborder.stop"

// yieldEvery is how many checks an instrumented module passes between two
// yields to Go, where it also reads its stop flag.
const yieldEvery = 1 << 14

// errStartSection refuses a module with a start section: the start
// function runs during instantiation, before the sandbox could stop it.
// WASI commands start at the exported _start, and neither Go, Rust nor C
// toolchains emit a start section for them.
var errStartSection = errors.New("it has a start section (a WASI command starts at its exported _start)")

// instrument makes a module stoppable, and its runs preemptible by Go's
// scheduler, at the cost of a counter decremented where the module could
// otherwise run forever. In WebAssembly control goes backwards only to the
// head of a loop, and unbounded work without loops needs calls; so a check
// at each loop head and each function entry bounds the time between two
// checks. Every yieldEvery checks the module yields to Go (memory.grow 0:
// wazero serves it in Go code, where a pending stop-the-world preempts
// the goroutine) and traps (unreachable) if its stop flag, an exported
// global the sandbox sets, is not zero.
//
// wazero's own means, WithCloseOnContextDone, exits to Go at every loop
// head, which Go's wasm code (a loop in every function) pays on almost
// every call: 4-7 times the run. Without either, compiled code never
// returns to Go's scheduler: a garbage collection's stop-the-world would
// wait for the module to end, the whole process with it, forever if the
// module loops.
//
// bin must have been through checkShape (no custom sections, vectors
// bounded). The instructions are decoded strictly: an opcode outside the
// features the sandbox's runtime enables (WebAssembly 2.0) is refused, so
// that no instruction's immediate is mistaken for a loop or missed.
// wazero validates the result, so a decoding mistake here can make a
// module invalid but not unchecked.
func instrument(bin []byte) ([]byte, error) {
	type section struct {
		id   byte
		body []byte
	}
	var sections []section
	r := reader{b: bin[8:]}
	for !r.done() {
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
			return nil, err
		}
		sections = append(sections, section{id, body})
	}

	var imported imports
	var definedGlobals uint64
	hasMemory := false
	for _, s := range sections {
		var err error
		switch s.id {
		case 2:
			imported, err = countImports(s.body)
		case 5:
			hasMemory = true
		case 6:
			definedGlobals, err = (&reader{b: s.body}).uleb()
		case 7:
			err = checkExportName(s.body, stopExport)
		case 8:
			err = errStartSection
		}
		if err != nil {
			return nil, err
		}
	}
	hasMemory = hasMemory || imported.memories > 0
	stop := imported.globals + definedGlobals
	fuel := stop + 1
	if fuel > 1<<32-1 {
		return nil, errors.New("too many globals")
	}

	// global.get $fuel; i32.const 1; i32.sub; global.set $fuel;
	// global.get $fuel; i32.eqz; if
	//   i32.const yieldEvery; global.set $fuel;
	//   i32.const 0; memory.grow; drop;
	//   global.get $stop; if; unreachable; end
	// end
	var check []byte
	check = appendULEB(append(check, 0x23), fuel)
	check = appendULEB(append(check, 0x41, 0x01, 0x6b, 0x24), fuel)
	check = appendULEB(append(check, 0x23), fuel)
	check = appendSLEB(append(check, 0x45, 0x04, 0x40, 0x41), yieldEvery)
	check = appendULEB(append(check, 0x24), fuel)
	check = appendULEB(append(check, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x23), stop)
	check = append(check, 0x04, 0x40, 0x00, 0x0b, 0x0b)

	// $stop: a mutable i32, zero until the sandbox stops the run; $fuel:
	// the checks left before the next yield.
	stopGlobal := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b}
	fuelGlobal := appendSLEB([]byte{0x7f, 0x01, 0x41}, yieldEvery)
	fuelGlobal = append(fuelGlobal, 0x0b)
	export := appendULEB(nil, uint64(len(stopExport)))
	export = append(append(export, stopExport...), 0x03)
	export = appendULEB(export, stop)

	// What is added to a section, or makes one.
	additions := map[byte][][]byte{
		6: {stopGlobal, fuelGlobal},
		7: {export},
	}
	if !hasMemory { // memory.grow needs one: an empty memory that cannot grow
		additions[5] = [][]byte{{0x01, 0x00, 0x00}}
	}

	out := append([]byte(nil), bin[:8]...)
	put := func(id byte, body []byte) {
		out = append(out, id)
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	added := func(upTo int) {
		for _, id := range []byte{5, 6, 7} {
			if entries, ok := additions[id]; ok && sectionRank(id) < upTo {
				put(id, appendEntries(nil, entries))
				delete(additions, id)
			}
		}
	}
	for _, s := range sections {
		added(sectionRank(s.id))
		switch s.id {
		case 5, 6, 7:
			body := appendEntries(s.body, additions[s.id])
			if body == nil {
				return nil, fmt.Errorf("section %d: %w", s.id, errMalformed)
			}
			put(s.id, body)
			delete(additions, s.id)
		case 10:
			body, err := instrumentCode(s.body, check)
			if err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
			put(10, body)
		default:
			put(s.id, s.body)
		}
	}
	added(1 << 10)
	return out, nil
}

// sectionRank is a known section's place in a module's required order
// (the data count section, 12, comes before code, 10; tags, 13, before
// globals).
func sectionRank(id byte) int {
	switch id {
	case 12:
		return 95
	case 13:
		return 55
	}
	return int(id) * 10
}

// appendEntries is a vector section's body (count, entries) with entries
// added, or nil if body's count is malformed. A nil body is an empty
// vector.
func appendEntries(body []byte, entries [][]byte) []byte {
	var n uint64
	r := reader{b: body}
	if len(body) > 0 {
		var err error
		if n, err = r.uleb(); err != nil {
			return nil
		}
	}
	out := appendULEB(nil, n+uint64(len(entries)))
	out = append(out, r.b...)
	for _, e := range entries {
		out = append(out, e...)
	}
	return out
}

type imports struct{ globals, memories uint64 }

func countImports(body []byte) (imports, error) {
	var c imports
	s := &reader{b: body}
	n, err := s.count()
	if err != nil {
		return c, err
	}
	for range n {
		if err := s.names(2); err != nil {
			return c, err
		}
		if len(s.b) > 0 {
			switch s.b[0] {
			case 2:
				c.memories++
			case 3:
				c.globals++
			}
		}
		if err := s.importDesc(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkExportName refuses a module that already exports name.
func checkExportName(body []byte, name string) error {
	s := &reader{b: body}
	n, err := s.count()
	if err != nil {
		return err
	}
	for range n {
		k, err := s.count()
		if err != nil {
			return err
		}
		got, err := s.take(k)
		if err != nil {
			return err
		}
		if string(got) == name {
			return fmt.Errorf("it exports %q, a name the sandbox reserves", name)
		}
		if _, err := s.byte(); err != nil {
			return err
		}
		if _, err := s.uleb(); err != nil {
			return err
		}
	}
	return nil
}

// instrumentCode inserts check at the entry of every function of a code
// section and after the block type of every loop.
func instrumentCode(body, check []byte) ([]byte, error) {
	s := &reader{b: body}
	n, err := s.count()
	if err != nil {
		return nil, err
	}
	out := appendULEB(make([]byte, 0, len(body)+len(body)/8), n)
	var fn []byte
	for i := range n {
		size, err := s.uleb()
		if err != nil {
			return nil, err
		}
		code, err := s.take(size)
		if err != nil {
			return nil, err
		}
		if fn, err = instrumentFunction(fn[:0], code, check); err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendULEB(out, uint64(len(fn)))
		out = append(out, fn...)
	}
	if !s.done() {
		return nil, errMalformed
	}
	return out, nil
}

func instrumentFunction(out, code, check []byte) ([]byte, error) {
	r := &reader{b: code}
	if err := checkLocals(code); err != nil {
		return nil, err
	}
	n, _ := r.count()
	for range n {
		_, _ = r.uleb()
		_, _ = r.byte()
	}
	out = append(out, code[:len(code)-len(r.b)]...)
	out = append(out, check...)
	for !r.done() {
		start := r.b
		op, _ := r.byte()
		if err := r.immediates(op); err != nil {
			return nil, err
		}
		out = append(out, start[:len(start)-len(r.b)]...)
		if op == 0x03 { // loop: the check opens its body
			out = append(out, check...)
		}
	}
	return out, nil
}

// immediates skips the immediates of an instruction of WebAssembly 2.0
// (with its SIMD, bulk memory, reference types, sign extension and
// non-trapping conversion); any other opcode is an error.
func (r *reader) immediates(op byte) error {
	var err error
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
		// none
	case op >= 0x02 && op <= 0x04: // block type: a signed LEB128 of 33 bits
		_, err = r.uleb()
	case op == 0x0c, op == 0x0d, op == 0x10, op >= 0x20 && op <= 0x26, op == 0x3f, op == 0x40,
		op == 0x41, op == 0x42, op == 0xd2: // one index or signed LEB128
		_, err = r.uleb()
	case op == 0x0e: // br_table: labels and a default
		var n uint64
		if n, err = r.count(); err == nil {
			err = r.ulebs(n + 1)
		}
	case op == 0x11: // call_indirect: type, table
		err = r.ulebs(2)
	case op == 0x1c: // select with types
		var n uint64
		if n, err = r.count(); err == nil {
			_, err = r.take(n)
		}
	case op >= 0x28 && op <= 0x3e: // memory argument: alignment, offset
		err = r.ulebs(2)
	case op == 0x43:
		_, err = r.take(4)
	case op == 0x44:
		_, err = r.take(8)
	case op == 0xd0: // ref.null: reference type
		_, err = r.byte()
	case op == 0xfc:
		err = r.miscImmediates()
	case op == 0xfd:
		err = r.simdImmediates()
	default:
		return fmt.Errorf("opcode 0x%02x is not supported", op)
	}
	return err
}

func (r *reader) ulebs(n uint64) error {
	for range n {
		if _, err := r.uleb(); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) miscImmediates() error {
	sub, err := r.uleb()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7: // saturating truncations
		return nil
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		return r.ulebs(2)
	case sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		return r.ulebs(1)
	}
	return fmt.Errorf("opcode 0xfc %d is not supported", sub)
}

func (r *reader) simdImmediates() error {
	sub, err := r.uleb()
	if err != nil {
		return err
	}
	switch {
	case sub <= 11, sub == 92, sub == 93: // loads and stores: memory argument
		return r.ulebs(2)
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		_, err = r.take(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		_, err = r.byte()
	case sub >= 84 && sub <= 91: // load and store lane: memory argument, lane
		if err = r.ulebs(2); err == nil {
			_, err = r.byte()
		}
	case sub <= 255:
		// none
	default:
		return fmt.Errorf("opcode 0xfd %d is not supported", sub)
	}
	return err
}

// appendSLEB appends v as a signed LEB128 number.
func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
