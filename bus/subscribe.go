package bus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/hybridd/hybridd/bus/topic"
)

// retainIfNew is the Retain Handling option that sends retained messages only
// for a subscription the broker did not have yet (MQTT v5 section 3.8.3.1).
const retainIfNew = 1

// Subscription is one handler's interest in a topic filter. Create it with
// Client.Subscribe and end it with Unsubscribe.
type Subscription struct {
	client  *Client
	filter  string
	qos     byte
	handler func(Message)
	active  atomic.Bool
}

// Filter returns the topic filter the subscription was made with.
func (s *Subscription) Filter() string {
	return s.filter
}

// Subscribe calls handler for every message whose topic matches filter, once
// per message however many other subscriptions also match it. The client
// routes by subscription identifier, which mochi-mqtt v2.7.9 and mosquitto
// 2.0 support.
//
// NOTE: with a broker that supports no identifiers, the client routes by
// topic, so overlapping filters get duplicates if that broker sends one copy
// per matching subscription.
// filter may use the + and # wildcards and the shared form
// $share/{group}/{filter}. Subscriptions on the same filter share one MQTT
// subscription at the highest QoS any of them requested.
//
// When the client is connected, Subscribe waits for the broker's SUBACK and
// returns an error if the broker rejects the filter. When it is not,
// Subscribe returns at once and the filter is subscribed on the next
// connection, like every active filter after each reconnection.
//
// handler runs on the goroutine that reads from the broker, so it must not
// block: while it runs, no other message, acknowledgement or SUBACK is
// processed. It must not call Subscribe or Unsubscribe, which wait for the
// broker. Calling Publish is safe, because Publish only queues. Hand each
// message to a Queue and process it elsewhere.
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte, handler func(Message)) (*Subscription, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	parsed, err := topic.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	if names := parsed.Names(); len(names) > 0 {
		return nil, fmt.Errorf("invalid topic filter %q: {%s} is a template name; subscribe to %q and bind names with bus/topic", filter, names[0], parsed.Subscription())
	}
	if err := validateQoS(qos, "topic filter", filter); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, fmt.Errorf("missing handler for topic filter %q", filter)
	}

	c.subscribeMu.Lock()
	defer c.subscribeMu.Unlock()
	sub := &Subscription{client: c, filter: filter, qos: qos, handler: handler}
	sub.active.Store(true)
	delete(c.pendingUnsubscribes, filter)
	entry, existed, changed := c.routes.add(filter, parsed, sub)
	conn := c.conn.Load()
	if !changed || conn == nil {
		return sub, nil // Start, or the next connection, subscribes it.
	}
	err = c.sendSubscribe(ctx, conn, entry, existed)
	if isConnectionDown(err) {
		c.log.Debug("not connected; filter will be subscribed on connection", "filter", filter)
		return sub, nil
	}
	if err != nil {
		sub.active.Store(false)
		c.routes.remove(sub)
		return nil, err
	}
	return sub, nil
}

// Unsubscribe stops the handler. Once the last subscription on a filter is
// gone, the client unsubscribes the filter on the broker, now or on the next
// connection. A handler call already running may finish after Unsubscribe
// returns. Unsubscribe may be called more than once.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	if !s.active.CompareAndSwap(true, false) {
		return nil
	}
	c := s.client
	c.subscribeMu.Lock()
	defer c.subscribeMu.Unlock()
	if last := c.routes.remove(s); !last || c.closed.Load() {
		return nil
	}
	conn := c.conn.Load()
	if conn == nil {
		return nil // Never sent to the broker.
	}
	err := c.sendUnsubscribe(ctx, conn, s.filter)
	if isConnectionDown(err) {
		// A kept session still holds the filter, so remove it on the next
		// connection.
		c.pendingUnsubscribes[s.filter] = struct{}{}
		return nil
	}
	return err
}

// resubscribe restores the broker's view of the route table on a new
// connection. It runs in a goroutine started by onConnectionUp.
func (c *Client) resubscribe(ctx context.Context, conn *autopaho.ConnectionManager) {
	c.subscribeMu.Lock()
	defer c.subscribeMu.Unlock()
	for filter := range c.pendingUnsubscribes {
		err := c.sendUnsubscribe(ctx, conn, filter)
		if isConnectionDown(err) || ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Warn("unsubscribe failed", "filter", filter, "error", err)
		}
		delete(c.pendingUnsubscribes, filter)
	}
	for _, entry := range c.routes.entries() {
		err := c.sendSubscribe(ctx, conn, entry, true)
		if isConnectionDown(err) || ctx.Err() != nil {
			return // The next connection starts over.
		}
		if err != nil {
			c.log.Warn("resubscribe failed", "filter", entry.filter, "error", err)
		}
	}
}

// sendSubscribe sends one SUBSCRIBE for entry and waits for the SUBACK. Each
// filter goes in a packet of its own because a SUBSCRIBE carries at most one
// Subscription Identifier (MQTT v5 section 3.8.2.1.2).
func (c *Client) sendSubscribe(ctx context.Context, conn *autopaho.ConnectionManager, entry filterEntry, existed bool) error {
	opts := paho.SubscribeOptions{Topic: entry.filter, QoS: entry.qos}
	if existed {
		opts.RetainHandling = retainIfNew
	}
	packet := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{opts}}
	if c.subIDsAvailable.Load() {
		id := entry.id
		packet.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: &id}
	}

	var suback *paho.Suback
	err := retryWhileIDInUse(ctx, func() (reasons []byte, err error) {
		suback, err = conn.Subscribe(ctx, packet)
		if suback != nil {
			reasons = suback.Reasons
		}
		return reasons, err
	})
	if err != nil {
		if suback != nil && len(suback.Reasons) == 1 {
			return fmt.Errorf("broker rejected subscription to %q: reason code 0x%02X", entry.filter, suback.Reasons[0])
		}
		return fmt.Errorf("subscribe to %q: %w", entry.filter, err)
	}
	if len(suback.Reasons) == 1 && suback.Reasons[0] < entry.qos {
		c.log.Warn("broker granted a lower QoS than requested", "filter", entry.filter,
			"requested", entry.qos, "granted", suback.Reasons[0])
	}
	c.log.Debug("subscribed", "filter", entry.filter, "subscription_id", entry.id)
	return nil
}

func (c *Client) sendUnsubscribe(ctx context.Context, conn *autopaho.ConnectionManager, filter string) error {
	err := retryWhileIDInUse(ctx, func() ([]byte, error) {
		unsuback, err := conn.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{filter}})
		if unsuback != nil {
			return unsuback.Reasons, err
		}
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("unsubscribe from %q: %w", filter, err)
	}
	c.log.Debug("unsubscribed", "filter", filter)
	return nil
}

// isConnectionDown reports whether err means the connection was down or
// dropped during the exchange, which the next connection makes up for.
func isConnectionDown(err error) bool {
	return errors.Is(err, autopaho.ConnectionDownError) || errors.Is(err, paho.ErrConnectionLost)
}

// Retry settings for a SUBSCRIBE or UNSUBSCRIBE that the broker rejects with
// reason code 0x91, Packet Identifier in use.
const (
	idInUseReason   = 0x91
	idInUseAttempts = 5
	idInUseDelay    = 20 * time.Millisecond
)

// retryWhileIDInUse calls send again, after a growing delay, while the broker
// rejects its packet identifier as in use. mochi-mqtt v2.7.9 looks up the
// identifier of a client's SUBSCRIBE and UNSUBSCRIBE among its own QoS 1 and
// 2 deliveries that the client has not acknowledged yet, although client and
// server number their packets independently in MQTT v5. The clash lasts
// only until paho sends the pending PUBACK.
func retryWhileIDInUse(ctx context.Context, send func() (reasons []byte, err error)) error {
	for attempt := 1; ; attempt++ {
		reasons, err := send()
		inUse := err != nil && len(reasons) == 1 && reasons[0] == idInUseReason
		if !inUse || attempt == idInUseAttempts {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt) * idInUseDelay):
		case <-ctx.Done():
			return err
		}
	}
}
