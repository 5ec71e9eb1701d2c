package bus

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/autopaho/queue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readEntry(t *testing.T, q *fileQueue) (queue.Entry, string) {
	t.Helper()
	entry, err := q.Peek()
	require.NoError(t, err)
	r, err := entry.Reader()
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return entry, string(data)
}

// TestFileQueueKeepsOrder enqueues faster than the clock ticks and reopens
// the directory midway: entries come out in the order they went in.
func TestFileQueueKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	q, err := newFileQueue(dir)
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, q.Enqueue(strings.NewReader(fmt.Sprintf("m%02d", i))))
	}
	for i := range 10 {
		entry, data := readEntry(t, q)
		assert.Equal(t, fmt.Sprintf("m%02d", i), data)
		require.NoError(t, entry.Remove())
	}

	reopened, err := newFileQueue(dir)
	require.NoError(t, err)
	require.NoError(t, reopened.Enqueue(strings.NewReader("after-reopen")))
	for i := 10; i < 50; i++ {
		entry, data := readEntry(t, reopened)
		assert.Equal(t, fmt.Sprintf("m%02d", i), data)
		require.NoError(t, entry.Remove())
	}
	entry, data := readEntry(t, reopened)
	assert.Equal(t, "after-reopen", data)
	assert.ErrorIs(t, entry.Remove(), queue.ErrEmpty)

	_, err = reopened.Peek()
	assert.ErrorIs(t, err, queue.ErrEmpty)
	select {
	case <-reopened.WaitForEmpty():
	default:
		t.Fatal("WaitForEmpty not closed on an empty queue")
	}
}

func TestFileQueueQuarantineAndWait(t *testing.T) {
	q, err := newFileQueue(t.TempDir())
	require.NoError(t, err)
	wait := q.Wait()
	select {
	case <-wait:
		t.Fatal("Wait closed on an empty queue")
	default:
	}
	require.NoError(t, q.Enqueue(strings.NewReader("bad")))
	require.NoError(t, q.Enqueue(strings.NewReader("good")))
	select {
	case <-wait:
	default:
		t.Fatal("Wait not closed after Enqueue")
	}

	entry, data := readEntry(t, q)
	assert.Equal(t, "bad", data)
	require.NoError(t, entry.Quarantine())
	_, data = readEntry(t, q)
	assert.Equal(t, "good", data)
}
