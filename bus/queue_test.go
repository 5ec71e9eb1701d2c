package bus

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestQueue(t *testing.T, capacity int) *Queue {
	t.Helper()
	q, err := NewQueue(capacity)
	require.NoError(t, err)
	return q
}

func TestQueueFIFOOrder(t *testing.T) {
	q := newTestQueue(t, 3)
	for _, topic := range []string{"a", "b", "c"} {
		require.True(t, q.Offer(Message{Topic: topic}))
	}
	assert.Equal(t, 3, q.Len())
	for _, want := range []string{"a", "b", "c"} {
		m, err := q.Receive(t.Context())
		require.NoError(t, err)
		assert.Equal(t, want, m.Topic)
	}
	assert.Equal(t, 0, q.Len())
}

func TestQueueDropsWhenFull(t *testing.T) {
	q := newTestQueue(t, 2)
	assert.True(t, q.Offer(Message{Topic: "kept-1"}))
	assert.True(t, q.Offer(Message{Topic: "kept-2"}))
	assert.False(t, q.Offer(Message{Topic: "dropped-1"}))
	assert.False(t, q.Offer(Message{Topic: "dropped-2"}))
	assert.Equal(t, uint64(2), q.Dropped())
	assert.Equal(t, 2, q.Len())

	m, err := q.Receive(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "kept-1", m.Topic)
	assert.True(t, q.Offer(Message{Topic: "kept-3"}), "room again after a receive")
}

func TestQueueCloseDrainsThenFails(t *testing.T) {
	q := newTestQueue(t, 2)
	require.True(t, q.Offer(Message{Topic: "before-close"}))
	q.Close()
	q.Close()
	assert.False(t, q.Offer(Message{Topic: "after-close"}))
	assert.Equal(t, uint64(1), q.Dropped())

	m, err := q.Receive(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "before-close", m.Topic)
	_, err = q.Receive(t.Context())
	assert.ErrorIs(t, err, ErrClosed)
}

func TestQueueReceiveStopsOnContext(t *testing.T) {
	q := newTestQueue(t, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := q.Receive(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestQueueRejectsCapacity(t *testing.T) {
	for _, capacity := range []int{0, -1} {
		q, err := NewQueue(capacity)
		assert.Nil(t, q)
		assert.EqualError(t, err, fmt.Sprintf("invalid queue capacity %d: use 1 or more", capacity))
	}
}

// TestQueueConcurrentUse runs producers and consumers at once. Under -race it
// checks the locking. The counts check that every offer is either received
// once or counted as dropped.
func TestQueueConcurrentUse(t *testing.T) {
	producers, perProducer := 4, 2000
	if testing.Short() {
		perProducer = 200
	}
	q := newTestQueue(t, 16)

	var accepted sync.WaitGroup
	var acceptedCount [4]int
	for p := range producers {
		accepted.Add(1)
		go func() {
			defer accepted.Done()
			for i := range perProducer {
				if q.Offer(Message{Topic: fmt.Sprintf("p%d/%d", p, i)}) {
					acceptedCount[p]++
				}
			}
		}()
	}

	received := make(chan map[string]int, 2)
	for range 2 {
		go func() {
			seen := map[string]int{}
			for {
				m, err := q.Receive(context.Background())
				if err != nil {
					received <- seen
					return
				}
				seen[m.Topic]++
			}
		}()
	}
	accepted.Wait()
	q.Close()

	total := map[string]int{}
	for range 2 {
		for topic, n := range <-received {
			total[topic] += n
		}
	}
	sumAccepted := 0
	for _, n := range acceptedCount {
		sumAccepted += n
	}
	assert.Len(t, total, sumAccepted, "every accepted message received")
	for topic, n := range total {
		assert.Equal(t, 1, n, "message %s received more than once", topic)
	}
	assert.Equal(t, uint64(producers*perProducer-sumAccepted), q.Dropped())
}
