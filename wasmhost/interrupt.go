package wasmhost

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The import that instrumentInterrupt adds. The host module of that name
// exports one function, () -> (), which ends the call if its context is done
// (see checkInterrupt). A guest cannot import it itself, because Load
// accepts only imports from WASI and the hybridd module.
const (
	interruptModuleName   = "hybridd_interrupt"
	interruptFunctionName = "check"
)

// checkInterval is the number of loop iterations and function entries
// between two calls of the check function. Estimating a call at 100 ns,
// that adds about 0.03 ns to each iteration, and a tight loop reaches the
// host every few microseconds (BenchmarkGuestLoop: about 2 ns/iteration).
const checkInterval = 4096

// Section ids of the binary format (spec section 5.5.2) that only the
// instrumentation rewrites.
const (
	sectionCustom  = 0
	sectionType    = 1
	sectionFunc    = 3
	sectionGlobal  = 6
	sectionStart   = 8
	sectionElement = 9
	sectionCode    = 10
)

// sectionRank is the order that the binary format requires of non-custom
// sections. The tag section (13) sits between memory and global, and the
// data count section (12) comes before code.
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// Opcodes that the instrumentation inserts or renumbers.
const (
	opLoop       = 0x03
	opEnd        = 0x0b
	opCall       = 0x10
	opReturnCall = 0x12
	opGlobalGet  = 0x23
	opGlobalSet  = 0x24
	opI32Const   = 0x41
	opI32Eqz     = 0x45
	opI32Sub     = 0x6b
	opRefFunc    = 0xd2
)

type rawSection struct {
	id   byte
	body []byte
}

// instrumentation contains the indices that instrumentInterrupt adds and the
// number of imported functions, below which function indices stay put.
type instrumentation struct {
	importedFuncs uint32 // also the index of the new check import
	typeIndex     uint32 // type () -> () of the check import
	budgetGlobal  uint32 // i32 countdown to the next check call
}

// remapFunc returns the index of function index after the check import was
// inserted behind the imported functions.
func (in *instrumentation) remapFunc(index uint32) uint32 {
	if index >= in.importedFuncs {
		return index + 1
	}
	return index
}

// instrumentInterrupt returns a copy of wasm that calls the imported
// function interruptModuleName.interruptFunctionName once every
// checkInterval loop iterations and function entries, counted together in
// a new mutable i32 global. Every loop head and every function entry
// decrements the global, so neither a loop nor a recursion can run long
// without reaching the host.
//
// The call into Go is what makes this safe. Compiled guest code cannot be
// preempted by the Go scheduler, and a stop-the-world phase of the garbage
// collector waits for it. A global that another goroutine sets would
// therefore deadlock the whole process as soon as a collection starts while
// a guest spins, whatever GOMAXPROCS is. The check call is a point where the
// goroutine can be preempted, and it ends the call itself when the context
// is done, so no other goroutine has to run for a guest to stop.
//
// Adding an import shifts the index of every defined function by one, so
// the code, element, export, start, global and name sections are
// renumbered. DWARF sections (.debug_*) are dropped, because their code
// offsets no longer match.
func instrumentInterrupt(wasm []byte) ([]byte, error) {
	sections, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}
	in, err := countIndices(sections)
	if err != nil {
		return nil, err
	}

	out := sections[:0:0]
	for _, s := range sections {
		if s.id == sectionCustom && isDebugSection(s.body) {
			continue
		}
		body, err := in.rewriteSection(s)
		if err != nil {
			return nil, fmt.Errorf("instrument section %d: %w", s.id, err)
		}
		out = append(out, rawSection{id: s.id, body: body})
	}
	out = ensureSection(out, sectionType, append([]byte{0x01}, checkFunctionType...))
	out = ensureSection(out, sectionImport, append([]byte{0x01}, in.importEntry()...))
	out = ensureSection(out, sectionGlobal, append([]byte{0x01}, budgetGlobalEntry()...))

	binary := slices.Clone(wasmHeader)
	for _, s := range out {
		binary = append(binary, s.id)
		binary = appendULEB(binary, uint64(len(s.body)))
		binary = append(binary, s.body...)
	}
	return binary, nil
}

// checkFunctionType is the function type () -> ().
var checkFunctionType = []byte{0x60, 0x00, 0x00}

func (in *instrumentation) rewriteSection(s rawSection) ([]byte, error) {
	switch s.id {
	case sectionType:
		return appendToVector(s.body, checkFunctionType)
	case sectionImport:
		return appendToVector(s.body, in.importEntry())
	case sectionGlobal:
		body, err := in.rewriteGlobals(s.body)
		if err != nil {
			return nil, err
		}
		return appendToVector(body, budgetGlobalEntry())
	case sectionExport:
		return in.rewriteExports(s.body)
	case sectionStart:
		r := &byteReader{buf: s.body}
		index := r.u32()
		return appendULEB(nil, uint64(in.remapFunc(index))), r.err
	case sectionElement:
		return in.rewriteElements(s.body)
	case sectionCode:
		return in.instrumentCode(s.body)
	case sectionCustom:
		return in.rewriteCustom(s.body)
	}
	return s.body, nil
}

func splitSections(wasm []byte) ([]rawSection, error) {
	if len(wasm) < len(wasmHeader) {
		return nil, errors.New("binary shorter than its header")
	}
	r := &byteReader{buf: wasm, pos: len(wasmHeader)}
	var sections []rawSection
	for r.pos < len(r.buf) && r.err == nil {
		id := r.byte()
		body := r.bytes(int(r.u32()))
		sections = append(sections, rawSection{id: id, body: body})
	}
	return sections, r.err
}

// countIndices counts the types, imported functions and globals, which
// give the indices of the type, import and global that instrumentation
// appends.
func countIndices(sections []rawSection) (*instrumentation, error) {
	in := &instrumentation{}
	for _, s := range sections {
		r := &byteReader{buf: s.body}
		switch s.id {
		case sectionType:
			in.typeIndex = r.u32()
		case sectionImport:
			info := &moduleInfo{}
			info.readImports(r)
			for _, imp := range info.imports {
				switch imp.kind {
				case externFunc:
					in.importedFuncs++
				case externGlobal:
					in.budgetGlobal++
				}
			}
		case sectionGlobal:
			in.budgetGlobal += r.u32()
		}
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, r.err)
		}
	}
	return in, nil
}

func (in *instrumentation) importEntry() []byte {
	entry := appendName(nil, interruptModuleName)
	entry = appendName(entry, interruptFunctionName)
	entry = append(entry, externFunc)
	return appendULEB(entry, uint64(in.typeIndex))
}

// budgetGlobalEntry declares a mutable i32 starting at checkInterval.
func budgetGlobalEntry() []byte {
	entry := []byte{0x7f, 0x01, opI32Const}
	entry = appendSLEB32(entry, checkInterval)
	return append(entry, opEnd)
}

func appendName(out []byte, name string) []byte {
	out = appendULEB(out, uint64(len(name)))
	return append(out, name...)
}

// appendToVector increments the count that starts body and appends entry.
func appendToVector(body, entry []byte) ([]byte, error) {
	r := &byteReader{buf: body}
	count := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	out := appendULEB(nil, uint64(count)+1)
	out = append(out, body[r.pos:]...)
	return append(out, entry...), nil
}

// ensureSection inserts a section with body if none with id exists, at the
// place the section order requires.
func ensureSection(sections []rawSection, id byte, body []byte) []rawSection {
	at := len(sections)
	for i, s := range sections {
		if s.id == id {
			return sections
		}
		if rank, ok := sectionRank[s.id]; ok && rank > sectionRank[id] && at == len(sections) {
			at = i
		}
	}
	return slices.Insert(sections, at, rawSection{id: id, body: body})
}

// rewriteGlobals renumbers ref.func in the initializers of the global
// section.
func (in *instrumentation) rewriteGlobals(body []byte) ([]byte, error) {
	r := &byteReader{buf: body}
	count := r.u32()
	out := appendULEB(nil, uint64(count))
	for i := uint32(0); i < count && r.err == nil; i++ {
		start := r.pos
		r.valueType()
		r.byte() // mutability
		out = append(out, body[start:min(r.pos, len(body))]...)
		out = in.copyConstExpr(r, out)
	}
	return out, r.err
}

func (in *instrumentation) rewriteExports(body []byte) ([]byte, error) {
	r := &byteReader{buf: body}
	count := r.u32()
	out := appendULEB(nil, uint64(count))
	for i := uint32(0); i < count && r.err == nil; i++ {
		out = appendName(out, r.name())
		kind := r.byte()
		index := r.u32()
		if kind == externFunc {
			index = in.remapFunc(index)
		}
		out = append(out, kind)
		out = appendULEB(out, uint64(index))
	}
	return out, r.err
}

// rewriteElements renumbers the function indices and ref.func expressions
// of the element section. The segment flags 0 to 7 select the layout (spec
// section 5.5.12): bit 0 passive or declarative, bit 1 an explicit table
// index (active) or declarative, bit 2 expressions instead of indices.
func (in *instrumentation) rewriteElements(body []byte) ([]byte, error) {
	r := &byteReader{buf: body}
	count := r.u32()
	out := appendULEB(nil, uint64(count))
	for i := uint32(0); i < count && r.err == nil; i++ {
		flags := r.u32()
		if flags > 7 {
			return nil, fmt.Errorf("element segment %d has unknown flags %d", i, flags)
		}
		out = appendULEB(out, uint64(flags))
		active := flags&0x01 == 0
		if flags == 2 || flags == 6 {
			out = appendULEB(out, uint64(r.u32())) // table index
		}
		if active {
			out = in.copyConstExpr(r, out) // offset
		}
		if flags != 0 && flags != 4 {
			// Element kind (0x00, functions) or reference type.
			start := r.pos
			if flags&0x04 == 0 {
				r.byte()
			} else {
				r.valueType()
			}
			out = append(out, body[start:min(r.pos, len(body))]...)
		}

		n := r.u32()
		out = appendULEB(out, uint64(n))
		for j := uint32(0); j < n && r.err == nil; j++ {
			if flags&0x04 == 0 {
				out = appendULEB(out, uint64(in.remapFunc(r.u32())))
			} else {
				out = in.copyConstExpr(r, out)
			}
		}
	}
	return out, r.err
}

// copyConstExpr copies one constant expression up to and including its end,
// renumbering ref.func. Constant expressions contain no blocks, so the
// first end closes them.
func (in *instrumentation) copyConstExpr(r *byteReader, out []byte) []byte {
	for r.err == nil {
		start := r.pos
		op := r.byte()
		if op == opRefFunc {
			out = append(out, op)
			out = appendULEB(out, uint64(in.remapFunc(r.u32())))
			continue
		}
		if err := r.skipImmediates(op); err != nil {
			r.fail(err)
			break
		}
		out = append(out, r.buf[start:min(r.pos, len(r.buf))]...)
		if op == opEnd {
			break
		}
	}
	return out
}

// instrumentCode rewrites every function body of the code section.
func (in *instrumentation) instrumentCode(body []byte) ([]byte, error) {
	r := &byteReader{buf: body}
	count := r.u32()
	out := appendULEB(nil, uint64(count))
	check := in.checkSequence()

	for i := uint32(0); i < count && r.err == nil; i++ {
		code := r.bytes(int(r.u32()))
		if r.err != nil {
			break
		}
		rewritten, err := in.instrumentFunction(code, check)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = appendULEB(out, uint64(len(rewritten)))
		out = append(out, rewritten...)
	}
	return out, r.err
}

// checkSequence returns the code inserted at each function entry and loop
// head. It leaves the operand stack as it found it:
//
//	global.get $budget, i32.const 1, i32.sub, global.set $budget
//	global.get $budget, i32.eqz
//	if
//	  i32.const checkInterval, global.set $budget
//	  call $check
//	end
func (in *instrumentation) checkSequence() []byte {
	global := appendULEB(nil, uint64(in.budgetGlobal))
	var seq []byte
	seq = append(append(seq, opGlobalGet), global...)
	seq = append(seq, opI32Const, 0x01, opI32Sub)
	seq = append(append(seq, opGlobalSet), global...)
	seq = append(append(seq, opGlobalGet), global...)
	seq = append(seq, opI32Eqz, 0x04, 0x40) // if, no result
	seq = appendSLEB32(append(seq, opI32Const), checkInterval)
	seq = append(append(seq, opGlobalSet), global...)
	seq = appendULEB(append(seq, opCall), uint64(in.importedFuncs))
	return append(seq, opEnd)
}

// instrumentFunction copies one function body, inserting check after the
// local declarations and after the block type of each loop, and
// renumbering call, return_call and ref.func.
func (in *instrumentation) instrumentFunction(code, check []byte) ([]byte, error) {
	r := &byteReader{buf: code}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32() // number of locals of this type
		r.valueType()
	}
	out := slices.Clone(code[:min(r.pos, len(code))])
	out = append(out, check...)

	for r.pos < len(code) && r.err == nil {
		start := r.pos
		op := r.byte()
		if op == opCall || op == opReturnCall || op == opRefFunc {
			out = append(out, op)
			out = appendULEB(out, uint64(in.remapFunc(r.u32())))
			continue
		}
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
		out = append(out, code[start:min(r.pos, len(code))]...)
		if op == opLoop {
			out = append(out, check...)
		}
	}
	return out, r.err
}

// isDebugSection reports whether a custom section is a DWARF section.
func isDebugSection(body []byte) bool {
	r := &byteReader{buf: body}
	return strings.HasPrefix(r.name(), ".debug_") && r.err == nil
}

// rewriteCustom renumbers the function indices of the name section: the
// function names (subsection 1), and the local and label names (2 and 3),
// which are grouped by function. Other custom sections are kept as they
// are.
func (in *instrumentation) rewriteCustom(body []byte) ([]byte, error) {
	r := &byteReader{buf: body}
	if r.name() != "name" || r.err != nil {
		return body, nil
	}
	out := slices.Clone(body[:r.pos])

	for r.pos < len(body) && r.err == nil {
		id := r.byte()
		sub := &byteReader{buf: r.bytes(int(r.u32()))}
		content := sub.buf
		if id >= 1 && id <= 3 {
			content = in.rewriteNameMap(sub, id != 1)
		}
		if sub.err != nil {
			return nil, fmt.Errorf("name subsection %d: %w", id, sub.err)
		}
		out = append(out, id)
		out = appendULEB(out, uint64(len(content)))
		out = append(out, content...)
	}
	return out, r.err
}

// rewriteNameMap renumbers the function indices of a name map, or of an
// indirect name map whose inner maps it copies unchanged.
func (in *instrumentation) rewriteNameMap(r *byteReader, indirect bool) []byte {
	count := r.u32()
	out := appendULEB(nil, uint64(count))
	for i := uint32(0); i < count && r.err == nil; i++ {
		out = appendULEB(out, uint64(in.remapFunc(r.u32())))
		if !indirect {
			out = appendName(out, r.name())
			continue
		}
		inner := r.u32()
		out = appendULEB(out, uint64(inner))
		for j := uint32(0); j < inner && r.err == nil; j++ {
			out = appendULEB(out, uint64(r.u32()))
			out = appendName(out, r.name())
		}
	}
	return out
}

// appendULEB appends v as an unsigned LEB128 integer.
func appendULEB(out []byte, v uint64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// appendSLEB32 appends v as a signed LEB128 integer.
func appendSLEB32(out []byte, v int32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}
