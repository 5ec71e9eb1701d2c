package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogbookJoinsPartialLines(t *testing.T) {
	book := newLogbook()
	_, _ = book.Write([]byte("first li"))
	_, _ = book.Write([]byte("ne\r\nsecond\nthi"))
	assert.Equal(t, []string{"first line", "second"}, book.Lines())
	_, _ = book.Write([]byte("rd\n"))
	assert.Equal(t, []string{"first line", "second", "third"}, book.Lines())
}

func TestLogbookKeepsLastLines(t *testing.T) {
	book := newLogbook()
	for i := range logLines + 5 {
		_, _ = fmt.Fprintf(book, "line %d\n", i)
	}
	lines := book.Lines()
	require.Len(t, lines, logLines)
	assert.Equal(t, "line 5", lines[0])
	assert.Equal(t, fmt.Sprintf("line %d", logLines+4), lines[len(lines)-1])
}

func TestLogbookFollow(t *testing.T) {
	book := newLogbook()
	_, _ = book.Write([]byte("before\n"))
	ctx, cancel := context.WithCancel(context.Background())
	kept, next := book.Follow(ctx)
	assert.Equal(t, []string{"before"}, kept)

	_, _ = book.Write([]byte("after\n"))
	select {
	case line := <-next:
		assert.Equal(t, "after", line)
	case <-time.After(10 * time.Second):
		t.Fatal("followed line did not arrive")
	}
	cancel()
	for range next { // The channel closes once ctx is done.
	}
}

func TestSplitLines(t *testing.T) {
	got := splitLines([]byte("a\r\n\nb\nc"))
	assert.Equal(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, got)
	assert.Empty(t, splitLines(nil))
}

func TestEnvListSorted(t *testing.T) {
	assert.Equal(t, []string{"A=1", "B=x=y"}, envList(map[string]string{"B": "x=y", "A": "1"}))
}
