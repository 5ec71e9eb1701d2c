package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by operations on a closed Client or a closed and
// drained Queue.
var ErrClosed = errors.New("closed")

// Queue is a bounded FIFO of messages for one workload. A subscription
// handler offers each message without blocking, and the workload's worker
// receives them in order. What does not fit is dropped and counted.
//
// A Queue is safe for concurrent use.
type Queue struct {
	mu      sync.RWMutex // guards closed against sends on a closed items
	closed  bool
	closing chan struct{} // closed first by Close, to release OfferWait
	once    sync.Once
	items   chan Message
	dropped atomic.Uint64
}

// NewQueue returns an empty queue that holds at most capacity messages.
func NewQueue(capacity int) (*Queue, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("invalid queue capacity %d: use 1 or more", capacity)
	}
	return &Queue{items: make(chan Message, capacity), closing: make(chan struct{})}, nil
}

// Offer appends m unless the queue is full or closed, and never blocks. It
// returns false, and counts a drop, when m was not queued.
func (q *Queue) Offer(m Message) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.dropped.Add(1)
		return false
	}
	select {
	case q.items <- m:
		return true
	default:
		q.dropped.Add(1)
		return false
	}
}

// OfferWait appends m, waiting while the queue is full. It returns false,
// and counts a drop, when ctx ends or the queue is closed first.
func (q *Queue) OfferWait(ctx context.Context, m Message) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.dropped.Add(1)
		return false
	}
	select {
	case q.items <- m:
		return true
	case <-q.closing:
	case <-ctx.Done():
	}
	q.dropped.Add(1)
	return false
}

// Receive removes and returns the oldest message, waiting for one if the
// queue is empty. It returns ctx.Err() when ctx is done first, and ErrClosed
// once the queue is closed and drained.
func (q *Queue) Receive(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-q.items:
		if !ok {
			return Message{}, ErrClosed
		}
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// Len returns the number of queued messages.
func (q *Queue) Len() int {
	return len(q.items)
}

// Cap returns the maximum number of queued messages.
func (q *Queue) Cap() int {
	return cap(q.items)
}

// Dropped returns how many offers were rejected because the queue was full
// or closed. The count only grows.
func (q *Queue) Dropped() uint64 {
	return q.dropped.Load()
}

// Close stops accepting messages. Messages already queued can still be
// received. Close may be called more than once.
func (q *Queue) Close() {
	q.once.Do(func() { close(q.closing) })
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.items)
	}
}
