package bus

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// publishWithIDs is a QoS 1 PUBLISH to "a/b", packet identifier 7, payload
// "hi", whose properties are given raw.
func publishWithIDs(props ...byte) []byte {
	body := []byte{0x00, 0x03, 'a', '/', 'b', 0x00, 0x07, byte(len(props))}
	body = append(body, props...)
	body = append(body, 'h', 'i')
	return append([]byte{0x32, byte(len(body))}, body...)
}

// readThroughConn writes raw into one end of a pipe and decodes one packet
// with paho from a subIDConn on the other end.
func readThroughConn(t *testing.T, raw []byte) *packets.Publish {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() { _, _ = server.Write(raw) }()
	cp, err := packets.ReadPacket(newSubIDConn(client))
	require.NoError(t, err)
	pub, ok := cp.Content.(*packets.Publish)
	require.True(t, ok, "packet type %d", cp.Type)
	return pub
}

func TestSubIDConnListsAllIdentifiers(t *testing.T) {
	// Subscription identifiers 5 and 200 (two-byte variable integer), and a
	// content type that must survive the rewrite.
	raw := publishWithIDs(0x0B, 0x05, 0x0B, 0xC8, 0x01, 0x03, 0x00, 0x01, 'j')
	pub := readThroughConn(t, raw)

	assert.Equal(t, "a/b", pub.Topic)
	assert.Equal(t, uint16(7), pub.PacketID)
	assert.Equal(t, byte(1), pub.QoS)
	assert.Equal(t, []byte("hi"), pub.Payload)
	assert.Equal(t, "j", pub.Properties.ContentType)
	require.NotNil(t, pub.Properties.SubscriptionIdentifier)
	assert.Equal(t, 5, *pub.Properties.SubscriptionIdentifier)
	assert.Equal(t, []packets.User{{Key: subIDsProperty, Value: "5,200"}}, pub.Properties.User)
}

func TestSubIDConnKeepsSingleIdentifier(t *testing.T) {
	raw := publishWithIDs(0x0B, 0x05)
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() { _, _ = server.Write(raw) }()
	got := make([]byte, len(raw))
	_, err := ioReadFull(newSubIDConn(client), got)
	require.NoError(t, err)
	assert.Equal(t, raw, got, "a PUBLISH with one identifier passes unchanged")
}

func TestSubIDConnStripsForgedProperty(t *testing.T) {
	// A publisher's user property with the reserved key, and one
	// identifier: the forged list must not reach the router.
	key := []byte(subIDsProperty)
	props := []byte{0x26, 0x00, byte(len(key))}
	props = append(props, key...)
	props = append(props, 0x00, 0x03, '9', ',', '9', 0x0B, 0x05)
	pub := readThroughConn(t, publishWithIDs(props...))

	assert.Equal(t, []packets.User{{Key: subIDsProperty, Value: "5"}}, pub.Properties.User)
	assert.Equal(t, 5, *pub.Properties.SubscriptionIdentifier)
}

func TestSubscriptionIDsFromProperties(t *testing.T) {
	pub := readThroughConn(t, publishWithIDs(0x0B, 0x02, 0x0B, 0x01, 0x0B, 0x03))
	props := publishPropertiesForTest(pub)
	assert.Equal(t, []int{2, 1, 3}, subscriptionIDs(props))
}

func TestRewritePublishLeavesMalformedPacket(t *testing.T) {
	// The properties claim 9 bytes but the packet ends sooner.
	raw := []byte{0x30, 0x05, 0x00, 0x01, 'a', 0x09, 0x0B}
	assert.Equal(t, raw, rewritePublish(bytes.Clone(raw), 2))
}

func ioReadFull(conn net.Conn, buf []byte) (int, error) {
	return io.ReadFull(conn, buf)
}

func publishPropertiesForTest(p *packets.Publish) *paho.PublishProperties {
	return paho.PublishFromPacketPublish(p).Properties
}
