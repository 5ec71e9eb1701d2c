package bus

import (
	"bytes"
	"context"
	"fmt"

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
	// This is what autopaho's PublishViaQueue does, without needing a
	// connection, so that publishes made before Start are kept too.
	packet := &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain}
	var buf bytes.Buffer
	if _, err := packet.Packet().WriteTo(&buf); err != nil {
		return fmt.Errorf("encode message for topic %q: %w", m.Topic, err)
	}
	if err := c.outbox.Enqueue(&buf); err != nil {
		return fmt.Errorf("queue message for topic %q: %w", m.Topic, err)
	}
	return nil
}

// PublishWait sends m at once and, for QoS 1 and 2, waits until the broker
// has acknowledged it. Unlike Publish it does not queue: it fails when the
// client is not connected. Stats.Published counts it. Command-line tools
// use it so that they exit only after the broker has their messages.
func (c *Client) PublishWait(ctx context.Context, m Message) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := m.validate(); err != nil {
		return err
	}
	conn := c.conn.Load()
	if conn == nil {
		return fmt.Errorf("publish to topic %q: the client was not started", m.Topic)
	}
	packet := &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain}
	resp, err := conn.Publish(ctx, packet)
	if err != nil {
		return fmt.Errorf("publish to topic %q: %w", m.Topic, err)
	}
	if resp != nil && resp.ReasonCode >= 0x80 {
		return fmt.Errorf("publish to topic %q: broker returned reason code 0x%02x", m.Topic, resp.ReasonCode)
	}
	c.outbox.sent.Add(1)
	return nil
}
