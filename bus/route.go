package bus

import (
	"strconv"
	"strings"
	"sync"

	"github.com/eclipse/paho.golang/paho"
	"github.com/hybridd/hybridd/bus/topic"
)

// maxSubscriptionID is the largest Subscription Identifier MQTT can encode
// (MQTT v5 section 3.8.2.1.2).
const maxSubscriptionID = 268435455

// filterEntry is one MQTT subscription, shared by every Subscription on the
// same filter.
type filterEntry struct {
	filter string        // as sent to the broker, $share prefix included
	parsed *topic.Filter // for topic matching when no identifier arrives
	id     int           // Subscription Identifier, stable across reconnections
	qos    byte          // highest QoS any Subscription on the filter requested
	subs   []*Subscription
}

// routeTable maps filters and subscription identifiers to subscriptions.
type routeTable struct {
	mu       sync.RWMutex
	byFilter map[string]*filterEntry
	byID     map[int]*filterEntry
	lastID   int
}

func (t *routeTable) init() {
	t.byFilter = make(map[string]*filterEntry)
	t.byID = make(map[int]*filterEntry)
}

// nextID returns an identifier no active filter uses. Caller holds t.mu.
func (t *routeTable) nextID() int {
	for {
		t.lastID++
		if t.lastID > maxSubscriptionID {
			t.lastID = 1
		}
		if _, used := t.byID[t.lastID]; !used {
			return t.lastID
		}
	}
}

// entries returns a snapshot of the active filters.
func (t *routeTable) entries() []filterEntry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]filterEntry, 0, len(t.byFilter))
	for _, e := range t.byFilter {
		out = append(out, *e)
	}
	return out
}

// lookup returns the subscriptions a message is for. With subscription
// identifiers, each identified filter's subscriptions get it once. Without
// them, every filter that matches topicName does.
func (t *routeTable) lookup(ids []int, topicName string) []*Subscription {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*Subscription
	if len(ids) > 0 {
		seen := make(map[int]bool, len(ids))
		for _, id := range ids {
			e, ok := t.byID[id]
			if !ok || seen[id] {
				continue
			}
			seen[id] = true
			// A resumed session may still hold a subscription of an
			// earlier process under an identifier now used for another
			// filter, so the topic must match too.
			if _, match := e.parsed.Match(topicName); match {
				out = append(out, e.subs...)
			}
		}
		if len(out) > 0 {
			return out
		}
		// Only stale identifiers: route by topic instead.
	}
	for _, e := range t.byFilter {
		if _, ok := e.parsed.Match(topicName); ok {
			out = append(out, e.subs...)
		}
	}
	return out
}

// route runs on paho's goroutine for incoming PUBLISH packets and calls the
// handler of every subscription the message is for.
func (c *Client) route(pr paho.PublishReceived) (bool, error) {
	c.stats.received.Add(1)
	p := pr.Packet
	msg := Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain}
	if c.cfg.ackAfter && p.QoS > 0 {
		msg.delivery = &delivery{client: pr.Client, packet: p, log: c.log}
		// The extra hold keeps the count above zero until every handler
		// has been called, even when one finishes at once.
		msg.delivery.pending.Store(1)
	}
	subs := c.routes.lookup(subscriptionIDs(p.Properties), p.Topic)
	delivered := false
	for _, s := range subs {
		if s.active.Load() {
			c.stats.delivered.Add(1)
			if msg.delivery != nil {
				msg.delivery.pending.Add(1)
			}
			s.handler(msg)
			delivered = true
		}
	}
	msg.Done()
	if !delivered {
		c.stats.dropped.Add(1)
		c.log.Debug("dropped message that matches no subscription", "topic", p.Topic)
	}
	return true, nil
}

// subscriptionIDs returns the identifiers of the subscriptions a PUBLISH was
// sent for: the list subIDConn stored, or else paho's single identifier.
func subscriptionIDs(props *paho.PublishProperties) []int {
	if props == nil {
		return nil
	}
	if list := props.User.Get(subIDsProperty); list != "" {
		var ids []int
		for _, field := range strings.Split(list, ",") {
			if id, err := strconv.Atoi(field); err == nil {
				ids = append(ids, id)
			}
		}
		return ids
	}
	if props.SubscriptionIdentifier != nil {
		return []int{*props.SubscriptionIdentifier}
	}
	return nil
}

// add registers sub on filter. It returns a copy of the filter's entry,
// whether the entry existed before, and whether the broker must be sent a
// SUBSCRIBE because the entry is new or its QoS went up.
func (t *routeTable) add(filter string, parsed *topic.Filter, sub *Subscription) (entry filterEntry, existed, changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, existed := t.byFilter[filter]
	if !existed {
		e = &filterEntry{filter: filter, parsed: parsed, id: t.nextID()}
		t.byFilter[filter] = e
		t.byID[e.id] = e
	}
	e.subs = append(e.subs, sub)
	changed = !existed || sub.qos > e.qos
	e.qos = max(e.qos, sub.qos)
	return *e, existed, changed
}

// remove unregisters sub and reports whether it was the filter's last one,
// in which case the filter's entry is gone too.
func (t *routeTable) remove(sub *Subscription) (last bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byFilter[sub.filter]
	if !ok {
		return false
	}
	var qos byte
	kept := e.subs[:0]
	for _, s := range e.subs {
		if s != sub {
			kept = append(kept, s)
			qos = max(qos, s.qos)
		}
	}
	clear(e.subs[len(kept):])
	e.subs, e.qos = kept, qos
	if len(kept) > 0 {
		return false
	}
	delete(t.byFilter, sub.filter)
	delete(t.byID, e.id)
	return true
}
