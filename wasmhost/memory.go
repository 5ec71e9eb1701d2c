package wasmhost

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// wasmPageSize is the size of one WebAssembly linear-memory page, 64 KiB.
const wasmPageSize = 65536

// maxMemoryPages is the most pages a 32-bit linear memory can have (4 GiB).
const maxMemoryPages = 65536

// memoryCounter allocates the linear memories of one module's instances and
// keeps the sum of their current sizes. It takes the place of wazero's
// default allocator, which grows a Go slice the same way but keeps no count
// that another goroutine could read without a data race.
type memoryCounter struct {
	bytes atomic.Int64
}

// Allocate implements experimental.MemoryAllocator.
func (c *memoryCounter) Allocate(capacity, maximum uint64) experimental.LinearMemory {
	return &countedMemory{counter: c, buf: make([]byte, 0, capacity), max: maximum}
}

// countedMemory is one linear memory. wazero calls Reallocate only with
// growing sizes, and calls Free once when the instance closes.
type countedMemory struct {
	counter *memoryCounter
	buf     []byte
	max     uint64
}

// Reallocate implements experimental.LinearMemory. It returns nil, which
// makes memory.grow return -1, for a size above the maximum.
func (m *countedMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}

	old := uint64(len(m.buf))
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
	} else {
		// Exactly the requested size: Go guests grow by megabytes at a time,
		// and doubling left about 2 MiB of spare heap per Go reactor instance
		// (BenchmarkIdleReactorInstance). A guest that grows page by page is
		// copied on every grow instead.
		grown := make([]byte, size)
		copy(grown, m.buf)
		m.buf = grown
	}
	m.counter.bytes.Add(int64(size) - int64(old))
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *countedMemory) Free() {
	m.counter.bytes.Add(-int64(len(m.buf)))
	m.buf = nil
}
