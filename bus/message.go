package bus

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/eclipse/paho.golang/paho"
	"strings"
	"unicode/utf8"
)

// maxTopicBytes is the longest topic name or filter MQTT can encode: a UTF-8
// string with a two-byte length prefix.
const maxTopicBytes = 65535

// Message is one MQTT application message, received or to be published.
type Message struct {
	// Topic is the topic name, without wildcards.
	Topic string
	// Payload is the application data. A received payload is shared by every
	// subscription that matches it, so handlers must treat it as read-only.
	Payload []byte
	// QoS is the quality of service: 0, 1 or 2. For a received message it is
	// the lower of the publisher's QoS and the granted subscription QoS.
	QoS byte
	// Retain marks a message the broker stores for future subscribers.
	Retain bool

	// delivery is set on received messages whose acknowledgement waits for
	// the handlers (Config.AckAfterHandling).
	delivery *delivery
}

// Done reports to the client that one handler has finished with a received
// message. With Config.AckAfterHandling, a QoS 1 or 2 message is
// acknowledged once every handler it was delivered to called Done; each
// handler calls it exactly once, also when it drops the message. For other
// messages Done does nothing.
func (m Message) Done() {
	if m.delivery != nil {
		m.delivery.release()
	}
}

// delivery counts the handlers still holding one received message.
type delivery struct {
	pending atomic.Int32
	client  *paho.Client
	packet  *paho.Publish
	log     *slog.Logger
}

func (d *delivery) release() {
	if d.pending.Add(-1) != 0 {
		return
	}
	// paho sends acknowledgements in the order the messages arrived
	// [MQTT-4.6.0-2], so a message handled early waits for those before it.
	// An error means the connection that received the message is gone, and
	// the broker redelivers it on the next one if it kept the session.
	if err := d.client.Ack(d.packet); err != nil {
		d.log.Debug("acknowledge message failed", "topic", d.packet.Topic, "error", err)
	}
}

// validate checks m before it is published.
func (m Message) validate() error {
	if err := validateTopicName(m.Topic); err != nil {
		return err
	}
	return validateQoS(m.QoS, "topic", m.Topic)
}

// validateQoS checks that qos is 0, 1 or 2. kind and name say what the QoS
// belongs to, for the error message.
func validateQoS(qos byte, kind, name string) error {
	if qos > 2 {
		return fmt.Errorf("invalid QoS %d for %s %q: use 0, 1 or 2", qos, kind, name)
	}
	return nil
}

// validateTopicName checks a topic name that a message is published to.
func validateTopicName(topic string) error {
	if err := validateUTF8String(topic, "topic name"); err != nil {
		return err
	}
	if i := strings.IndexAny(topic, "+#"); i >= 0 {
		return fmt.Errorf("invalid topic name %q: wildcard %q is allowed only in subscription filters (publish to a concrete topic such as \"sensors/office-1/telemetry\")",
			topic, topic[i])
	}
	return nil
}

// validateUTF8String checks what MQTT requires of every topic string: not
// empty, valid UTF-8 without U+0000, and short enough to encode.
func validateUTF8String(s, kind string) error {
	switch {
	case s == "":
		return fmt.Errorf("invalid %s \"\": empty (use a topic such as \"sensors/office-1/telemetry\")", kind)
	case len(s) > maxTopicBytes:
		return fmt.Errorf("invalid %s %.40q...: %d bytes, longer than the MQTT limit of %d", kind, s, len(s), maxTopicBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("invalid %s %q: not valid UTF-8", kind, s)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("invalid %s %q: contains the null character U+0000", kind, s)
	}
	return nil
}
