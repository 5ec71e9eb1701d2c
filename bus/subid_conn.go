package bus

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// subIDsProperty is the user property key under which subIDConn passes all
// subscription identifiers of an incoming PUBLISH on to the router.
//
// A server that sends one copy of a message for several overlapping
// subscriptions puts one Subscription Identifier property per subscription
// into it [MQTT-3.3.4-4], as mochi-mqtt v2.7.9 does. paho.golang v0.23.0
// decodes only the last of them, so subIDConn rewrites such packets before
// paho reads them: it moves the identifiers into this user property, as a
// comma-separated list, and keeps the first as the single identifier.
const subIDsProperty = "hybridd-subscription-ids"

// MQTT v5 property identifiers that may appear in a PUBLISH packet.
const (
	propPayloadFormat   = 0x01
	propMessageExpiry   = 0x02
	propContentType     = 0x03
	propResponseTopic   = 0x08
	propCorrelationData = 0x09
	propSubscriptionID  = 0x0B
	propTopicAlias      = 0x23
	propUserProperty    = 0x26
)

const packetTypePublish = 3

// subIDConn wraps the network connection that paho reads from and rewrites
// PUBLISH packets that carry several subscription identifiers. Writes pass
// through unchanged. Only paho's single reader goroutine calls Read.
//
// subIDConn implements sync.Locker because paho writes a packet in several
// Write calls and holds the connection's lock around them if it has one.
// Without it, packets written by concurrent goroutines interleave.
type subIDConn struct {
	net.Conn
	sync.Mutex
	reader  *bufio.Reader
	pending []byte // bytes of the current packet not yet returned by Read
	err     error  // read error to return once pending is drained
}

func newSubIDConn(conn net.Conn) *subIDConn {
	return &subIDConn{Conn: conn, reader: bufio.NewReader(conn)}
}

// Read returns the bytes of the incoming packets, one packet at a time.
func (c *subIDConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		raw, bodyStart, err := readRawPacket(c.reader)
		c.err = err
		if err == nil {
			raw = rewritePublish(raw, bodyStart)
		}
		c.pending = raw
		if len(c.pending) == 0 {
			return 0, c.err
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// readRawPacket reads one whole MQTT control packet and returns its bytes
// and the offset where its variable header starts. On error it returns the
// bytes read so far.
func readRawPacket(r *bufio.Reader) ([]byte, int, error) {
	raw := make([]byte, 0, 64)
	first, err := r.ReadByte()
	if err != nil {
		return raw, 0, err
	}
	raw = append(raw, first)
	remaining, multiplier := 0, 1
	for i := 0; ; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return raw, 0, err
		}
		raw = append(raw, b)
		remaining += int(b&0x7F) * multiplier
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return raw, 0, errors.New("malformed remaining length in MQTT packet header")
		}
		multiplier *= 128
	}
	bodyStart := len(raw)
	raw = append(raw, make([]byte, remaining)...)
	n, err := io.ReadFull(r, raw[bodyStart:])
	return raw[:bodyStart+n], bodyStart, err
}

// rewritePublish returns packet unchanged unless it is a PUBLISH that needs
// rewriting, as subIDsProperty explains. A packet this code cannot parse is
// returned unchanged, so that paho reports the error.
func rewritePublish(packet []byte, bodyStart int) []byte {
	if packet[0]>>4 != packetTypePublish {
		return packet
	}
	p, ok := parsePublish(packet[0], packet[bodyStart:])
	if !ok || (len(p.subIDs) < 2 && !p.hadSubIDsProperty) {
		return packet
	}

	props := append([]byte(nil), p.keptProps...)
	if len(p.subIDs) > 0 {
		props = append(props, propSubscriptionID)
		props = appendVarInt(props, p.subIDs[0])
		ids := make([]string, len(p.subIDs))
		for i, id := range p.subIDs {
			ids[i] = strconv.Itoa(id)
		}
		props = append(props, propUserProperty)
		props = appendString(props, subIDsProperty)
		props = appendString(props, strings.Join(ids, ","))
	}

	body := append([]byte(nil), p.head...)
	body = appendVarInt(body, len(props))
	body = append(body, props...)
	body = append(body, p.payload...)

	out := []byte{packet[0]}
	out = appendVarInt(out, len(body))
	return append(out, body...)
}

// publishParts holds the pieces of a PUBLISH body that rewritePublish needs.
type publishParts struct {
	head              []byte // topic name and packet identifier
	keptProps         []byte // properties other than subscription identifiers and subIDsProperty
	subIDs            []int
	hadSubIDsProperty bool
	payload           []byte
}

// parsePublish splits the body of a PUBLISH packet whose first byte is
// first. It returns false if body is malformed.
func parsePublish(first byte, body []byte) (publishParts, bool) {
	var p publishParts
	pos, ok := skipString(body, 0)
	if !ok {
		return p, false
	}
	if (first>>1)&0x03 > 0 { // QoS 1 and 2 carry a packet identifier.
		pos += 2
	}
	if pos > len(body) {
		return p, false
	}
	p.head = body[:pos]
	propsLen, n, ok := readVarInt(body[pos:])
	if !ok || pos+n+propsLen > len(body) {
		return p, false
	}
	props := body[pos+n : pos+n+propsLen]
	p.payload = body[pos+n+propsLen:]
	return p, p.splitProperties(props)
}

// splitProperties sorts props into subscription identifiers and the rest.
func (p *publishParts) splitProperties(props []byte) bool {
	for pos := 0; pos < len(props); {
		start := pos
		id := props[pos]
		pos++
		var ok bool
		switch id {
		case propPayloadFormat:
			pos, ok = pos+1, pos+1 <= len(props)
		case propTopicAlias:
			pos, ok = pos+2, pos+2 <= len(props)
		case propMessageExpiry:
			pos, ok = pos+4, pos+4 <= len(props)
		case propContentType, propResponseTopic, propCorrelationData:
			pos, ok = skipString(props, pos)
		case propSubscriptionID:
			var value, n int
			value, n, ok = readVarInt(props[pos:])
			pos += n
			if ok {
				p.subIDs = append(p.subIDs, value)
				continue
			}
		case propUserProperty:
			keyEnd, keyOK := skipString(props, pos)
			pos, ok = skipString(props, keyEnd)
			ok = ok && keyOK
			if ok && string(props[start+3:keyEnd]) == subIDsProperty {
				p.hadSubIDsProperty = true
				continue
			}
		}
		if !ok {
			return false
		}
		p.keptProps = append(p.keptProps, props[start:pos]...)
	}
	return true
}

// skipString returns the offset after the length-prefixed string or binary
// data that starts at pos.
func skipString(b []byte, pos int) (int, bool) {
	if pos+2 > len(b) {
		return pos, false
	}
	end := pos + 2 + int(binary.BigEndian.Uint16(b[pos:]))
	return end, end <= len(b)
}

// readVarInt decodes an MQTT variable byte integer and returns its value and
// length in bytes.
func readVarInt(b []byte) (int, int, bool) {
	value, multiplier := 0, 1
	for i := 0; i < 4 && i < len(b); i++ {
		value += int(b[i]&0x7F) * multiplier
		if b[i]&0x80 == 0 {
			return value, i + 1, true
		}
		multiplier *= 128
	}
	return 0, 0, false
}

// appendVarInt appends v as an MQTT variable byte integer.
func appendVarInt(b []byte, v int) []byte {
	for {
		digit := byte(v % 128)
		v /= 128
		if v > 0 {
			digit |= 0x80
		}
		b = append(b, digit)
		if v == 0 {
			return b
		}
	}
}

// appendString appends s as an MQTT length-prefixed UTF-8 string.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
