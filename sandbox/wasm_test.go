package sandbox_test

// Minimal modules assembled by hand, for what a Go program cannot be made
// to do (import from "env", trap at once) and as small fuzzing seeds.

type wasmImport struct {
	module, name string
	typ          byte // 0: () -> (); 1: (i32, i32, i32, i32) -> i32
}

type wasmSpec struct {
	imports    []wasmImport
	memPages   uint64
	data       []byte // an active segment at offset 0
	body       []byte // of the exported function, without its end
	exportName string // "_start" unless set
	locals     uint64 // i32 locals of the exported function
}

func (s wasmSpec) withLocals(n uint64) wasmSpec { s.locals = n; return s }

func (s wasmSpec) build() []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, content []byte) {
		out = append(out, id)
		out = append(out, uleb(uint64(len(content)))...)
		out = append(out, content...)
	}
	section(1, []byte{2, 0x60, 0, 0, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f})
	if len(s.imports) > 0 {
		imp := uleb(uint64(len(s.imports)))
		for _, i := range s.imports {
			imp = append(imp, name(i.module)...)
			imp = append(imp, name(i.name)...)
			imp = append(imp, 0x00, i.typ)
		}
		section(2, imp)
	}
	section(3, []byte{1, 0})
	section(5, append([]byte{1, 0}, uleb(s.memPages)...))
	export := s.exportName
	if export == "" {
		export = "_start"
	}
	exp := []byte{2}
	exp = append(exp, name(export)...)
	exp = append(exp, 0x00)
	exp = append(exp, uleb(uint64(len(s.imports)))...)
	exp = append(exp, name("memory")...)
	exp = append(exp, 0x02, 0)
	section(7, exp)
	body := []byte{0} // no locals
	if s.locals > 0 {
		body = append(append([]byte{1}, uleb(s.locals)...), 0x7f)
	}
	body = append(body, s.body...)
	body = append(body, 0x0b)
	section(10, append([]byte{1}, append(uleb(uint64(len(body))), body...)...))
	if len(s.data) > 0 {
		seg := []byte{1, 0x00, 0x41, 0x00, 0x0b}
		seg = append(seg, uleb(uint64(len(s.data)))...)
		section(11, append(seg, s.data...))
	}
	return out
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

// helloModule writes text to standard output with fd_write and returns.
func helloModule(text string) []byte {
	data := []byte{8, 0, 0, 0, byte(len(text)), 0, 0, 0} // one iovec: text at 8
	data = append(data, text...)
	return wasmSpec{
		imports:  []wasmImport{{"wasi_snapshot_preview1", "fd_write", 1}},
		memPages: 1,
		data:     data,
		// fd_write(1, iovs=0, 1 iovec, nwritten at 64); drop the errno
		body: []byte{0x41, 1, 0x41, 0, 0x41, 1, 0x41, 0xc0, 0x00, 0x10, 0, 0x1a},
	}.build()
}

// envImportModule calls a host function "env"."f" the sandbox does not give.
func envImportModule() []byte {
	return wasmSpec{imports: []wasmImport{{"env", "f", 0}}, memPages: 1, body: []byte{0x10, 0}}.build()
}

// trapModule reaches unreachable at once.
func trapModule() []byte { return wasmSpec{memPages: 1, body: []byte{0x00}}.build() }
