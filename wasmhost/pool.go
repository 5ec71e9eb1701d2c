package wasmhost

import (
	"context"
	"sync"
)

// fifoPool hands out a fixed set of items, one caller per item, and queues
// callers in arrival order while every item is in use. The items are warm
// reactor instances, or empty tokens that bound concurrent command calls.
type fifoPool[T any] struct {
	mu      sync.Mutex
	idle    []T
	waiters []chan T
	closed  bool
}

func newFIFOPool[T any](items []T) *fifoPool[T] {
	return &fifoPool[T]{idle: items}
}

// get returns an idle item, waiting behind earlier callers if none is idle.
// It returns ErrClosed after close, and ctx's error if ctx ends first.
func (p *fifoPool[T]) get(ctx context.Context) (T, error) {
	var zero T
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return zero, ErrClosed
	}
	if len(p.idle) > 0 && len(p.waiters) == 0 {
		item := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		p.mu.Unlock()
		return item, nil
	}
	wait := make(chan T, 1)
	p.waiters = append(p.waiters, wait)
	p.mu.Unlock()

	select {
	case item := <-wait:
		return item, nil
	case <-ctx.Done():
		return zero, p.abandon(wait, ctx.Err())
	}
}

// abandon removes a waiter whose context ended. If put handed it an item
// in the meantime, the item goes back to the pool.
func (p *fifoPool[T]) abandon(wait chan T, cause error) error {
	p.mu.Lock()
	for i, w := range p.waiters {
		if w == wait {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.mu.Unlock()
			return cause
		}
	}
	p.mu.Unlock()

	p.put(<-wait)
	return cause
}

// put returns an item: to the longest waiting caller if there is one,
// otherwise to the idle set. put must be called once for each successful get,
// also after close, so that drain can finish.
func (p *fifoPool[T]) put(item T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 {
		wait := p.waiters[0]
		p.waiters = p.waiters[1:]
		wait <- item
		return
	}
	p.idle = append(p.idle, item)
}

// close makes later calls to get fail with ErrClosed. Callers already
// waiting still get items as put returns them.
func (p *fifoPool[T]) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// drain waits until all size items are idle, or ctx ends, and returns the
// idle items. Call it after close.
func (p *fifoPool[T]) drain(ctx context.Context, size int) []T {
	for {
		p.mu.Lock()
		if len(p.idle) >= size || ctx.Err() != nil {
			items := p.idle
			p.idle = nil
			p.mu.Unlock()
			return items
		}
		wait := make(chan T, 1)
		p.waiters = append(p.waiters, wait)
		p.mu.Unlock()

		select {
		case item := <-wait:
			p.mu.Lock()
			p.idle = append(p.idle, item)
			p.mu.Unlock()
		case <-ctx.Done():
			_ = p.abandon(wait, ctx.Err())
		}
	}
}

// waiting returns the number of queued callers; tests use it.
func (p *fifoPool[T]) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}
