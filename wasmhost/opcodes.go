package wasmhost

import "fmt"

// skipLEB skips one signed or unsigned LEB128 integer.
func (r *byteReader) skipLEB() {
	for r.err == nil {
		if r.byte()&0x80 == 0 {
			return
		}
	}
}

// valueType skips a value type: one byte, or a reference type prefix 0x63
// or 0x64 followed by a heap type.
func (r *byteReader) valueType() {
	if b := r.byte(); b == 0x63 || b == 0x64 {
		r.skipLEB()
	}
}

// blockType skips a block type: 0x40, a value type, or a type index
// encoded as a signed 33-bit LEB128 integer.
func (r *byteReader) blockType() {
	if r.err != nil || r.pos >= len(r.buf) {
		r.fail(fmt.Errorf("missing block type"))
		return
	}
	switch b := r.buf[r.pos]; {
	case b == 0x40 || (b >= 0x6f && b <= 0x7f):
		r.pos++
	case b == 0x63 || b == 0x64:
		r.pos++
		r.skipLEB()
	default:
		r.skipLEB()
	}
}

func (r *byteReader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.skipLEB() // offset
}

// skipImmediates skips the immediates of opcode op, following the binary
// format of WebAssembly 2.0 with the tail-call, exception-handling, SIMD and
// threads proposals that wazero 1.12 implements.
func (r *byteReader) skipImmediates(op byte) error {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04 || op == 0x06: // block, loop, if, try
		r.blockType()
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12 || // br, br_if, call, return_call
		op == 0x07 || op == 0x08 || op == 0x09 || op == 0x18 || // catch, throw, rethrow, delegate
		(op >= 0x20 && op <= 0x26) || op == 0xd2: // locals, globals, table.get/set, ref.func
		r.u32()
	case op == 0x0e: // br_table
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valueType()
		}
	case op == 0x1f: // try_table
		r.tryTable()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41 || op == 0x42: // i32.const, i64.const
		r.skipLEB()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.skipLEB()
	case op == 0xfc:
		r.skipMisc()
	case op == 0xfd:
		r.skipSIMD()
	case op == 0xfe:
		r.skipAtomic()
	case op <= 0x01 || op == 0x05 || op == 0x0a || op == 0x0b || op == 0x0f ||
		op == 0x19 || op == 0x1a || op == 0x1b || (op >= 0x45 && op <= 0xc4) || op == 0xd1:
		// no immediates
	default:
		return fmt.Errorf("unknown opcode 0x%02x at byte %d", op, r.pos-1)
	}
	return nil
}

func (r *byteReader) tryTable() {
	r.blockType()
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if kind := r.byte(); kind == 0x00 || kind == 0x01 { // catch, catch_ref
			r.u32() // tag
		}
		r.u32() // label
	}
}

// skipMisc skips the 0xFC prefix group: saturating truncation, bulk memory
// and table operations.
func (r *byteReader) skipMisc() {
	switch sub := r.u32(); {
	case sub <= 7:
	case sub == 8 || sub == 10 || sub == 12 || sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	default: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	}
}

// skipSIMD skips the 0xFD prefix group of 128-bit SIMD instructions.
func (r *byteReader) skipSIMD() {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // loads, stores, load_zero
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		r.byte()
	case sub >= 84 && sub <= 91: // load_lane, store_lane
		r.memarg()
		r.byte()
	}
}

// skipAtomic skips the 0xFE prefix group of the threads proposal.
func (r *byteReader) skipAtomic() {
	if sub := r.u32(); sub == 0x03 { // atomic.fence
		r.byte()
	} else {
		r.memarg()
	}
}
