package wasmhost

import (
	"errors"
	"fmt"
	"slices"
)

// interruptExport names the mutable i32 global that instrumentInterrupt adds
// to a module. The host sets it to 1 to stop a call that ran past its
// timeout, and the guest traps at the next loop iteration.
const interruptExport = "hybridd.interrupt"

// Section ids of the global and code sections (spec section 5.5.2).
const (
	sectionGlobal = 6
	sectionCode   = 10
)

// sectionRank is the order that the binary format requires of non-custom
// sections. The tag section (13) sits between memory and global, and the
// data count section (12) comes before code.
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// The check inserted after the block type of every loop is global.get
// $interrupt, then if (no result), unreachable, end. The global index
// follows opGlobalGet as a LEB128 integer.
var (
	interruptIfUnreachable = []byte{0x04, 0x40, 0x00, 0x0b}
	opGlobalGet            = byte(0x23)
)

type rawSection struct {
	id   byte
	body []byte
}

// instrumentInterrupt returns a copy of wasm with a new exported global,
// interruptExport, and a check of it at the head of every loop. Without
// loops a guest cannot run long, except in host calls or by recursing until
// its stack overflows. So this bounds a runaway guest as wazero's
// WithCloseOnContextDone does, but with one load and one branch per
// iteration instead of a call into the Go runtime.
//
// TODO: the host does not use this yet. Native guest code cannot be
// preempted by the Go scheduler, so when as many guests spin as there are
// Ps (GOMAXPROCS), no goroutine is left to run the timer that sets the
// global, and the guests spin forever. WithCloseOnContextDone avoids that
// because each iteration enters Go code, where the scheduler can preempt
// it. The fix is to also count iterations and call an imported host
// function that runs runtime.Gosched every few thousand of them, which
// means adding an import and renumbering every function index in the code,
// element, export, start and name sections.
func instrumentInterrupt(wasm []byte) ([]byte, error) {
	sections, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}

	globalIndex, err := countGlobals(sections)
	if err != nil {
		return nil, err
	}
	for i, s := range sections {
		switch s.id {
		case sectionGlobal:
			sections[i].body, err = appendToVector(s.body, []byte{0x7f, 0x01, 0x41, 0x00, 0x0b})
		case sectionExport:
			sections[i].body, err = appendToVector(s.body, interruptExportEntry(globalIndex))
		case sectionCode:
			sections[i].body, err = instrumentCode(s.body, globalIndex)
		}
		if err != nil {
			return nil, fmt.Errorf("instrument section %d: %w", s.id, err)
		}
	}
	sections = ensureSection(sections, sectionGlobal, []byte{0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b})
	sections = ensureSection(sections, sectionExport, append([]byte{0x01}, interruptExportEntry(globalIndex)...))

	out := slices.Clone(wasmHeader)
	for _, s := range sections {
		out = append(out, s.id)
		out = appendULEB(out, uint64(len(s.body)))
		out = append(out, s.body...)
	}
	return out, nil
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

// countGlobals returns the number of imported and defined globals, which is
// the index of the global that instrumentation appends.
func countGlobals(sections []rawSection) (uint32, error) {
	var count uint32
	for _, s := range sections {
		switch s.id {
		case sectionImport:
			info := &moduleInfo{}
			r := &byteReader{buf: s.body}
			info.readImports(r)
			if r.err != nil {
				return 0, r.err
			}
			for _, imp := range info.imports {
				if imp.kind == externGlobal {
					count++
				}
			}
		case sectionGlobal:
			r := &byteReader{buf: s.body}
			count += r.u32()
			if r.err != nil {
				return 0, r.err
			}
		case sectionExport:
			info := &moduleInfo{exports: map[string]byte{}}
			info.readExports(&byteReader{buf: s.body})
			if _, ok := info.exports[interruptExport]; ok {
				return 0, fmt.Errorf("module already exports %q, which the host reserves", interruptExport)
			}
		}
	}
	return count, nil
}

func interruptExportEntry(globalIndex uint32) []byte {
	entry := appendULEB(nil, uint64(len(interruptExport)))
	entry = append(entry, interruptExport...)
	entry = append(entry, externGlobal)
	return appendULEB(entry, uint64(globalIndex))
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

// instrumentCode rewrites every function body of the code section.
func instrumentCode(body []byte, globalIndex uint32) ([]byte, error) {
	r := &byteReader{buf: body}
	count := r.u32()
	out := appendULEB(nil, uint64(count))
	check := append(appendULEB([]byte{opGlobalGet}, uint64(globalIndex)), interruptIfUnreachable...)

	for i := uint32(0); i < count && r.err == nil; i++ {
		code := r.bytes(int(r.u32()))
		if r.err != nil {
			break
		}
		rewritten, err := instrumentFunction(code, check)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = appendULEB(out, uint64(len(rewritten)))
		out = append(out, rewritten...)
	}
	return out, r.err
}

// instrumentFunction copies one function body, inserting check after the
// block type of each loop instruction.
func instrumentFunction(code, check []byte) ([]byte, error) {
	r := &byteReader{buf: code}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32() // number of locals of this type
		r.valueType()
	}
	out := slices.Clone(code[:min(r.pos, len(code))])

	for r.pos < len(code) && r.err == nil {
		start := r.pos
		op := r.byte()
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
		out = append(out, code[start:min(r.pos, len(code))]...)
		if op == 0x03 { // loop
			out = append(out, check...)
		}
	}
	return out, r.err
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
