package bus

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/stretchr/testify/require"
)

// waitTimeout bounds waits for events a test expects; it is long so that a
// slow machine does not fail the test.
const waitTimeout = 15 * time.Second

// testBroker is a broker a test runs against.
type testBroker struct {
	url       string
	mosquitto *testenv.Mosquitto // nil for the embedded broker
	// copyPerSubscription is true for a broker that sends a client one
	// PUBLISH per matching subscription (mosquitto 2.0) and false for one
	// that sends a single PUBLISH listing every subscription identifier
	// (mochi-mqtt v2.7.9).
	copyPerSubscription bool
}

// forEachBroker runs fn against the embedded broker and against mosquitto.
func forEachBroker(t *testing.T, fn func(t *testing.T, b testBroker)) {
	t.Run("embedded", func(t *testing.T) {
		fn(t, testBroker{url: startEmbedded(t).URL()})
	})
	t.Run("mosquitto", func(t *testing.T) {
		m := testenv.StartMosquitto(t)
		fn(t, testBroker{url: m.URL(), mosquitto: m, copyPerSubscription: true})
	})
}

func startEmbedded(t *testing.T) *Broker {
	t.Helper()
	// mochi-mqtt's connection goroutines may log after Close returns, when
	// t.Output is no longer valid, so the broker logs to stderr.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := StartBroker(BrokerConfig{Listen: "127.0.0.1:0", Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// dial returns a client that is closed when the test ends. It does not wait
// for the connection.
func dial(t *testing.T, url, clientID string, edit ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{URL: url, ClientID: clientID, MaxReconnectDelay: 300 * time.Millisecond, Logger: testLogger(t)}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := Dial(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// dialConnected is dial followed by AwaitConnection.
func dialConnected(t *testing.T, url, clientID string, edit ...func(*Config)) *Client {
	t.Helper()
	c := dial(t, url, clientID, edit...)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, c.AwaitConnection(ctx))
	return c
}

// inbox collects the messages one subscription receives.
type inbox chan Message

func newInbox() inbox { return make(inbox, 1000) }

// handle is the subscription handler; it never blocks while the inbox has
// room, which the tests size for.
func (in inbox) handle(m Message) {
	select {
	case in <- m:
	default:
		panic("test inbox full")
	}
}

// next returns the next message, failing the test after waitTimeout.
func (in inbox) next(t *testing.T) Message {
	t.Helper()
	select {
	case m := <-in:
		return m
	case <-time.After(waitTimeout):
		t.Fatal("no message within", waitTimeout)
		return Message{}
	}
}

func subscribe(t *testing.T, c *Client, filter string, qos byte) (*Subscription, inbox) {
	t.Helper()
	in := newInbox()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	sub, err := c.Subscribe(ctx, filter, qos, in.handle)
	require.NoError(t, err)
	return sub, in
}

func publish(t *testing.T, c *Client, topic, payload string, qos byte) {
	t.Helper()
	require.NoError(t, c.Publish(t.Context(), Message{Topic: topic, Payload: []byte(payload), QoS: qos}))
}
