package wasmhost

import (
	"bytes"
	"io"
	"sync"
)

// MaxOutputBytes caps what one call may write to stdout, and separately the
// total topic and payload bytes it may publish. A call over either limit
// fails with ErrOutputLimit.
const MaxOutputBytes = 1 << 20

// limitedBuffer collects a guest's stdout up to limit bytes. Past the limit
// it keeps nothing more, records the overflow and returns an error, which
// WASI fd_write reports to the guest as EIO.
type limitedBuffer struct {
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.limit {
		b.overflow = true
		return 0, ErrOutputLimit
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) reset() {
	b.buf.Reset()
	b.overflow = false
}

// lockedWriter serializes writes from concurrent instances to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
