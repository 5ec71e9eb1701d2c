package bus

import (
	"context"
	"fmt"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Publish queues m for sending and returns without waiting for the broker.
// Queued messages, QoS 0 included, are sent in order once the client is
// connected; Stats.Published counts them as they are written. It returns an
// error when m is invalid, the client is closed or the queue cannot store m.
func (c *Client) Publish(ctx context.Context, m Message) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := m.validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	packet := &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain}
	if err := c.conn.PublishViaQueue(ctx, &autopaho.QueuePublish{Publish: packet}); err != nil {
		return fmt.Errorf("queue message for topic %q: %w", m.Topic, err)
	}
	return nil
}
