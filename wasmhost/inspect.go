package wasmhost

import (
	"bytes"
	"errors"
	"fmt"
)

// moduleInfo contains the facts Load reads from a binary before wazero
// compiles it: the imports to check, the exports that decide the kind, and
// the declared minimum of the linear memory.
type moduleInfo struct {
	imports        []importEntry
	exports        map[string]byte // export name to external kind
	memoryMinPages uint64
	hasMemory      bool
}

type importEntry struct {
	module, name string
	kind         byte
}

// External kinds of imports and exports, from the WebAssembly core
// specification, section 5.5.5 (import section) and 5.5.10 (export section).
const (
	externFunc   = 0x00
	externTable  = 0x01
	externMemory = 0x02
	externGlobal = 0x03
	externTag    = 0x04
)

// Section ids from the WebAssembly core specification, section 5.5.2.
const (
	sectionImport = 2
	sectionMemory = 5
	sectionExport = 7
)

var externNames = map[byte]string{
	externFunc: "function", externTable: "table", externMemory: "memory",
	externGlobal: "global", externTag: "tag",
}

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// inspectModule reads the import, memory and export sections of a binary.
// It checks only what it reads; wazero validates the whole module later.
func inspectModule(wasm []byte) (*moduleInfo, error) {
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, errors.New("not a WebAssembly 1.0 binary: missing the \\0asm version 1 header")
	}

	info := &moduleInfo{exports: map[string]byte{}}
	r := &byteReader{buf: wasm, pos: len(wasmHeader)}
	for r.pos < len(r.buf) {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			break
		}

		section := &byteReader{buf: body}
		switch id {
		case sectionImport:
			info.readImports(section)
		case sectionMemory:
			info.readMemories(section)
		case sectionExport:
			info.readExports(section)
		}
		if section.err != nil {
			return nil, fmt.Errorf("invalid section %d at byte %d: %w", id, r.pos-int(size), section.err)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("invalid WebAssembly binary: %w", r.err)
	}
	return info, nil
}

func (info *moduleInfo) readImports(r *byteReader) {
	count := r.u32()
	for i := uint32(0); i < count && r.err == nil; i++ {
		entry := importEntry{module: r.name(), name: r.name(), kind: r.byte()}
		switch entry.kind {
		case externFunc:
			r.u32() // type index
		case externTable:
			r.byte() // reference type
			r.limits()
		case externMemory:
			info.hasMemory = true
			info.memoryMinPages, _ = r.limits()
		case externGlobal:
			r.byte() // value type
			r.byte() // mutability
		case externTag:
			r.byte() // attribute
			r.u32()  // type index
		default:
			r.fail(fmt.Errorf("unknown import kind 0x%02x", entry.kind))
		}
		info.imports = append(info.imports, entry)
	}
}

func (info *moduleInfo) readMemories(r *byteReader) {
	count := r.u32()
	if count > 0 {
		info.hasMemory = true
		info.memoryMinPages, _ = r.limits()
	}
}

func (info *moduleInfo) readExports(r *byteReader) {
	count := r.u32()
	for i := uint32(0); i < count && r.err == nil; i++ {
		name := r.name()
		kind := r.byte()
		r.u32() // index
		info.exports[name] = kind
	}
}

// byteReader decodes the LEB128 integers, names and limits of the binary
// format. The first error sticks, and later reads return zero values.
type byteReader struct {
	buf []byte
	pos int
	err error
}

func (r *byteReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *byteReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.buf) {
		r.fail(errors.New("unexpected end of data"))
		return 0
	}
	b := r.buf[r.pos]
	r.pos++
	return b
}

func (r *byteReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf)-r.pos {
		r.fail(fmt.Errorf("length %d runs past the end of data", n))
		return nil
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b
}

// uleb reads an unsigned LEB128 integer of at most bits bits.
func (r *byteReader) uleb(bits uint) uint64 {
	var value uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 {
			r.fail(errors.New("LEB128 integer too long"))
			return 0
		}
		b := r.byte()
		if r.err != nil {
			return 0
		}
		value |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return value
		}
	}
}

func (r *byteReader) u32() uint32 { return uint32(r.uleb(32)) }

func (r *byteReader) name() string { return string(r.bytes(int(r.u32()))) }

// limits reads a limits type (spec section 5.3.7); flag bit 0 marks a
// maximum and bit 2 a 64-bit memory, whose bounds are 64-bit integers.
func (r *byteReader) limits() (minimum uint64, maximum *uint64) {
	flags := r.byte()
	bits := uint(32)
	if flags&0x04 != 0 {
		bits = 64
	}
	minimum = r.uleb(bits)
	if flags&0x01 != 0 {
		m := r.uleb(bits)
		maximum = &m
	}
	return minimum, maximum
}
