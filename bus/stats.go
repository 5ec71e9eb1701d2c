package bus

import "sync/atomic"

// Stats holds a Client's message counters. Every counter only grows, from
// zero when the Client was dialed.
type Stats struct {
	// Received counts PUBLISH packets from the broker. A broker that sends
	// one copy per matching subscription adds one per copy.
	Received uint64
	// Delivered counts handler calls; a message that matches two
	// subscriptions adds two.
	Delivered uint64
	// Dropped counts received messages that matched no active
	// subscription, such as those in flight while a filter was unsubscribed.
	Dropped uint64
	// Queued counts publishes accepted into the outbound queue.
	Queued uint64
	// Published counts publishes written to the broker connection.
	Published uint64
	// PublishFailed counts queued publishes discarded because they could not
	// be read back from the queue.
	PublishFailed uint64
}

// counters are the atomics behind Stats that the Client itself updates.
type counters struct {
	received  atomic.Uint64
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

// Stats returns the current counters. Each is read atomically, but not all
// at the same instant.
func (c *Client) Stats() Stats {
	return Stats{
		Received:      c.stats.received.Load(),
		Delivered:     c.stats.delivered.Load(),
		Dropped:       c.stats.dropped.Load(),
		Queued:        c.outbox.queued.Load(),
		Published:     c.outbox.sent.Load(),
		PublishFailed: c.outbox.dropped.Load(),
	}
}
