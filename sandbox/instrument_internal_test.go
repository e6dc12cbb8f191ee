package sandbox

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// seedModule is a module with one function of type () -> () whose body
// (without its end) is body, exported as _start, and one page of memory
// unless noMemory.
func seedModule(body []byte, noMemory bool) []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, content []byte) {
		out = append(out, id)
		out = appendULEB(out, uint64(len(content)))
		out = append(out, content...)
	}
	section(1, []byte{1, 0x60, 0, 0})
	section(3, []byte{1, 0})
	if !noMemory {
		section(5, []byte{1, 0, 1})
	}
	section(7, append([]byte{1, 6}, "_start\x00\x00"...))
	fn := append(append([]byte{0}, body...), 0x0b)
	section(10, append(appendULEB([]byte{1}, uint64(len(fn))), fn...))
	return out
}

// FuzzInstrument: instrumenting never panics, and a module wazero
// accepts is still accepted once instrumented, unless it is refused for
// a start section or the reserved export name; each function gains a
// check.
func FuzzInstrument(f *testing.F) {
	for _, body := range [][]byte{
		nil,
		{0x03, 0x40, 0x0c, 0x00, 0x0b}, // loop br 0
		{0x02, 0x40, 0x03, 0x7f, 0x41, 0x01, 0x0b, 0x1a, 0x0b},                // block (loop (result i32) ...)
		{0x41, 0x00, 0x0e, 0x01, 0x00, 0x00},                                  // br_table
		{0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x1a}, // v128.const holding 0x03
		{0x44, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x1a},          // f64.const of loop opcodes
		{0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00},                // memory.fill
	} {
		f.Add(seedModule(body, false))
		f.Add(seedModule(body, true))
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	f.Cleanup(func() { _ = rt.Close(ctx) })
	f.Fuzz(func(t *testing.T, bin []byte) {
		decodable, err := checkShape(bin)
		if err != nil {
			return
		}
		out, ierr := instrument(decodable)
		compiled, err := rt.CompileModule(ctx, decodable)
		if err != nil {
			return
		}
		_ = compiled.Close(ctx)
		if ierr != nil {
			if errors.Is(ierr, errStartSection) || strings.Contains(ierr.Error(), stopExport) {
				return
			}
			t.Fatalf("wazero compiles the module, instrument refuses it: %v", ierr)
		}
		compiled, err = rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the instrumented module does not compile: %v", err)
		}
		defer compiled.Close(ctx)
		// Every function gained a check, its yield (memory.grow 0) included.
		functions := bytes.Count(out, []byte{0x41, 0x00, 0x40, 0x00, 0x1a})
		if functions < countFunctions(out) {
			t.Fatalf("%d checks for %d functions", functions, countFunctions(out))
		}
	})
}

// countFunctions is the number of function bodies of a module's code
// section.
func countFunctions(bin []byte) int {
	r := reader{b: bin[8:]}
	for !r.done() {
		id, _ := r.byte()
		size, _ := r.uleb()
		body, err := r.take(size)
		if err != nil {
			return 0
		}
		if id == 10 {
			n, _ := (&reader{b: body}).uleb()
			return int(n)
		}
	}
	return 0
}
