package wasmhost

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitForWaiters polls until n callers are queued in p.
func waitForWaiters[T any](t *testing.T, p *fifoPool[T], n int) {
	t.Helper()
	require.Eventually(t, func() bool { return p.waiting() == n }, 5*time.Second, time.Millisecond)
}

func TestFIFOPoolServesInArrivalOrder(t *testing.T) {
	p := newFIFOPool([]int{42})
	item, err := p.get(context.Background())
	require.NoError(t, err)

	const waiters = 5
	order := make(chan int, waiters)
	for i := range waiters {
		go func() {
			got, err := p.get(context.Background())
			if assert.NoError(t, err) {
				order <- i
				p.put(got)
			}
		}()
		waitForWaiters(t, p, i+1)
	}

	p.put(item)
	for want := range waiters {
		assert.Equal(t, want, <-order)
	}
}

func TestFIFOPoolCanceledWaiterLeavesQueue(t *testing.T) {
	p := newFIFOPool([]int{7})
	item, err := p.get(context.Background())
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := p.get(ctx)
		done <- err
	}()
	waitForWaiters(t, p, 1)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.Zero(t, p.waiting())

	p.put(item)
	got, err := p.get(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 7, got)
}

func TestFIFOPoolCloseAndDrain(t *testing.T) {
	p := newFIFOPool([]int{1, 2})
	item, err := p.get(context.Background())
	require.NoError(t, err)

	p.close()
	_, err = p.get(context.Background())
	assert.ErrorIs(t, err, ErrClosed)

	time.AfterFunc(20*time.Millisecond, func() { p.put(item) })
	assert.ElementsMatch(t, []int{1, 2}, p.drain(context.Background(), 2))
}
