package engine

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// logLines is the number of lines kept per workload for `hybridd logs`.
const logLines = 2000

// logbook keeps the last log lines of one workload and lets readers follow
// new ones. It is an io.Writer, so runners can hand it a guest's stderr.
type logbook struct {
	mu       sync.Mutex
	lines    []string
	partial  []byte
	watchers map[chan string]struct{}
}

func newLogbook() *logbook {
	return &logbook{watchers: make(map[chan string]struct{})}
}

// Write splits p into lines; a line without its newline waits for the rest.
func (l *logbook) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data := append(l.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		l.appendLocked(string(bytes.TrimRight(data[:i], "\r")))
		data = data[i+1:]
	}
	l.partial = append([]byte(nil), data...)
	return len(p), nil
}

// Printf adds one line written by hybridd itself, stamped with the time.
func (l *logbook) Printf(format string, args ...any) {
	line := time.Now().UTC().Format(time.RFC3339) + " hybridd: " + fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appendLocked(line)
}

func (l *logbook) appendLocked(line string) {
	if len(l.lines) == logLines {
		copy(l.lines, l.lines[1:])
		l.lines = l.lines[:logLines-1]
	}
	l.lines = append(l.lines, line)
	for w := range l.watchers {
		select {
		case w <- line:
		default: // A slow follower misses lines rather than blocking the workload.
		}
	}
}

// Follow returns the kept lines and a channel of the lines written after
// them. The channel closes when ctx is done.
func (l *logbook) Follow(ctx context.Context) ([]string, <-chan string) {
	ch := make(chan string, 256)
	l.mu.Lock()
	kept := append([]string(nil), l.lines...)
	l.watchers[ch] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.watchers, ch)
		l.mu.Unlock()
		close(ch)
	}()
	return kept, ch
}

// Lines returns a copy of the kept lines.
func (l *logbook) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
