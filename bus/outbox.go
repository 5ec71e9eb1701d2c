package bus

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/eclipse/paho.golang/autopaho/queue"
	"github.com/eclipse/paho.golang/autopaho/queue/memory"
)

// newOutbox returns the queue that publishes wait in: on disk in dir, or in
// memory when dir is empty.
//
// TODO: bound the queue. Both of autopaho's queues grow without limit while
// the broker is away, and a cap needs a policy for what to drop.
func newOutbox(dir string) (*countingQueue, error) {
	if dir == "" {
		return &countingQueue{Queue: memory.New()}, nil
	}
	q, err := newFileQueue(dir)
	if err != nil {
		return nil, fmt.Errorf("open publish queue directory %q: %w (check that it is writable)", dir, err)
	}
	return &countingQueue{Queue: q}, nil
}

// countingQueue wraps autopaho's publish queue to count what leaves it.
type countingQueue struct {
	queue.Queue
	queued  atomic.Uint64
	sent    atomic.Uint64
	dropped atomic.Uint64
}

// waitForEmpty is implemented by both of autopaho's queues.
type waitForEmpty interface{ WaitForEmpty() chan struct{} }

func (q *countingQueue) Enqueue(p io.Reader) error {
	err := q.Queue.Enqueue(p)
	if err == nil {
		q.queued.Add(1)
	}
	return err
}

// WaitForEmpty returns a channel that is closed once the queue is empty.
func (q *countingQueue) WaitForEmpty() <-chan struct{} {
	return q.Queue.(waitForEmpty).WaitForEmpty()
}

func (q *countingQueue) Peek() (queue.Entry, error) {
	e, err := q.Queue.Peek()
	if err != nil {
		return nil, err
	}
	return countingEntry{Entry: e, q: q}, nil
}

// countingEntry counts a removed entry as sent and a quarantined one as
// dropped. autopaho removes an entry once paho has written the PUBLISH.
type countingEntry struct {
	queue.Entry
	q *countingQueue
}

func (e countingEntry) Remove() error {
	err := e.Entry.Remove()
	if err == nil || errors.Is(err, queue.ErrEmpty) {
		e.q.sent.Add(1)
	}
	return err
}

func (e countingEntry) Quarantine() error {
	e.q.dropped.Add(1)
	return e.Entry.Quarantine()
}
