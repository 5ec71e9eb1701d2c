package bus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPublishRejectsInvalidMessage(t *testing.T) {
	// Validation happens before any network I/O, so no broker is needed.
	c := dial(t, "mqtt://"+testenv.FreeAddr(t), "offline")
	tests := []struct {
		name    string
		msg     Message
		wantErr string
	}{
		{"plus wildcard", Message{Topic: "sensors/+/telemetry"},
			`invalid topic name "sensors/+/telemetry": wildcard '+' is allowed only in subscription filters (publish to a concrete topic such as "sensors/office-1/telemetry")`},
		{"hash wildcard", Message{Topic: "sensors/#"},
			`invalid topic name "sensors/#": wildcard '#' is allowed only in subscription filters (publish to a concrete topic such as "sensors/office-1/telemetry")`},
		{"empty", Message{Topic: ""},
			`invalid topic name "": empty (use a topic such as "sensors/office-1/telemetry")`},
		{"null character", Message{Topic: "a\x00b"},
			`invalid topic name "a\x00b": contains the null character U+0000`},
		{"invalid UTF-8", Message{Topic: "a\xffb"},
			`invalid topic name "a\xffb": not valid UTF-8`},
		{"QoS 3", Message{Topic: "alerts/office-1", QoS: 3},
			`invalid QoS 3 for topic "alerts/office-1": use 0, 1 or 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.EqualError(t, c.Publish(t.Context(), tt.msg), tt.wantErr)
		})
	}
	assert.Equal(t, uint64(0), c.Stats().Queued)
}

func TestPublishRejectsLongTopic(t *testing.T) {
	c := dial(t, "mqtt://"+testenv.FreeAddr(t), "offline")
	topic := strings.Repeat("a", maxTopicBytes+1)
	err := c.Publish(t.Context(), Message{Topic: topic})
	assert.EqualError(t, err, `invalid topic name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"...: 65536 bytes, longer than the MQTT limit of 65535`)
}

func TestSubscribeRejectsInvalidFilter(t *testing.T) {
	c := dial(t, "mqtt://"+testenv.FreeAddr(t), "offline")
	tests := []struct {
		name    string
		filter  string
		qos     byte
		wantErr string
	}{
		{"hash not last", "sensors/#/telemetry", 0,
			`invalid topic filter "sensors/#/telemetry": "#" must be the last level, as in sensors/#`},
		{"hash inside level", "sensors/a#", 0,
			`invalid topic filter "sensors/a#": level "a#": "#" must fill a whole level, as in sensors/#`},
		{"plus inside level", "sensors/dev+/telemetry", 0,
			`invalid topic filter "sensors/dev+/telemetry": level "dev+": "+" must fill a whole level, as in sensors/+/telemetry`},
		{"empty", "", 0,
			`invalid topic filter "": must not be empty`},
		{"share without filter", "$share/workers", 0,
			`invalid topic filter "$share/workers": shared subscription needs a topic filter after the group, as in $share/workers/sensors/#`},
		{"share with empty group", "$share//sensors/#", 0,
			`invalid topic filter "$share//sensors/#": shared subscription needs a group name, as in $share/group/sensors/#`},
		{"share group wildcard", "$share/+/sensors/#", 0,
			`invalid topic filter "$share/+/sensors/#": share group "+" must not contain "+" or "#"`},
		{"template name", "sensors/{device}/telemetry", 0,
			`invalid topic filter "sensors/{device}/telemetry": {device} is a template name; subscribe to "sensors/+/telemetry" and bind names with bus/topic`},
		{"QoS 3", "sensors/#", 3,
			`invalid QoS 3 for topic filter "sensors/#": use 0, 1 or 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := c.Subscribe(t.Context(), tt.filter, tt.qos, func(Message) {})
			assert.Nil(t, sub)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
	_, err := c.Subscribe(t.Context(), "sensors/#", 0, nil)
	assert.EqualError(t, err, `missing handler for topic filter "sensors/#"`)
}

func TestDialRejectsConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"missing URL", Config{ClientID: "c"},
			`missing broker URL: set Config.URL, e.g. mqtt://127.0.0.1:1883`},
		{"websocket scheme", Config{URL: "ws://127.0.0.1:9001", ClientID: "c"},
			`unsupported broker URL scheme "ws" in "ws://127.0.0.1:9001": use mqtt:// or tcp://`},
		{"password redacted", Config{URL: "mqtts://user:secret@127.0.0.1:8883", ClientID: "c"},
			`unsupported broker URL scheme "mqtts" in "mqtts://user:xxxxx@127.0.0.1:8883": use mqtt:// or tcp://`},
		{"missing host", Config{URL: "mqtt://:1883", ClientID: "c"},
			`invalid broker URL "mqtt://:1883": missing host, e.g. mqtt://127.0.0.1:1883`},
		{"path", Config{URL: "mqtt://127.0.0.1:1883/sensors", ClientID: "c"},
			`invalid broker URL "mqtt://127.0.0.1:1883/sensors": unexpected path, query or fragment (use mqtt://host:port)`},
		{"missing client ID", Config{URL: "mqtt://127.0.0.1:1883"},
			`missing client ID: set Config.ClientID to a name unique on the broker, such as the host name`},
		{"keep-alive too short", Config{URL: "mqtt://127.0.0.1:1883", ClientID: "c", KeepAlive: time.Millisecond},
			`invalid keep-alive 1ms: use 1s to 65535s`},
		{"negative session expiry", Config{URL: "mqtt://127.0.0.1:1883", ClientID: "c", SessionExpiry: -time.Second},
			`invalid session expiry -1s: use 0 to 4294967295s`},
		{"reconnect delay too short", Config{URL: "mqtt://127.0.0.1:1883", ClientID: "c", MaxReconnectDelay: 50 * time.Millisecond},
			`invalid max reconnect delay 50ms: use more than 100ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(t.Context(), tt.cfg)
			assert.Nil(t, c)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestParseBrokerURL(t *testing.T) {
	u, user, password, err := parseBrokerURL("tcp://hybridd:s3cret@localhost")
	require.NoError(t, err)
	assert.Equal(t, "mqtt://localhost:1883", u.String())
	assert.Equal(t, "hybridd", user)
	assert.Equal(t, []byte("s3cret"), password)
}

func TestClientClosedRejectsCalls(t *testing.T) {
	c := dial(t, "mqtt://"+testenv.FreeAddr(t), "offline")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	require.NoError(t, c.Close(ctx), "a second Close is a no-op")
	assert.ErrorIs(t, c.Publish(ctx, Message{Topic: "a"}), ErrClosed)
	_, err := c.Subscribe(ctx, "a", 0, func(Message) {})
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, c.AwaitConnection(ctx), ErrClosed)
}
