package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitDisconnected waits until c has noticed that the broker is gone.
func waitDisconnected(t *testing.T, c *Client) {
	t.Helper()
	require.Eventually(t, func() bool { return !c.Connected() }, waitTimeout, 10*time.Millisecond,
		"client still connected after the broker stopped")
}

func TestClientResubscribesAfterBrokerRestart(t *testing.T) {
	m := testenv.StartMosquitto(t)
	c := dialConnected(t, m.URL(), "resubscriber")
	_, in := subscribe(t, c, "sensors/+/telemetry", 1)

	m.Stop()
	waitDisconnected(t, c)
	m.Restart()

	// mosquitto keeps no sessions across a restart, so a message arrives
	// only once the client has reconnected and subscribed again. Publish
	// until one does, a bounded number of times.
	received := make(chan Message, 1)
	go func() { received <- in.next(t) }()
	var got Message
	for i := 0; ; i++ {
		require.Less(t, i, 100, "no message after reconnecting")
		testenv.Pub(t, m.Addr, "sensors/office-1/telemetry", fmt.Sprintf("reading-%d", i), 1)
		select {
		case got = <-received:
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	assert.Equal(t, "sensors/office-1/telemetry", got.Topic)
	assert.Regexp(t, `^reading-\d+$`, string(got.Payload))
	assert.True(t, c.Connected())
}

func TestClientSendsQueuedPublishesAfterOutage(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		if b.mosquitto == nil {
			t.Skip("needs a broker that can stop and start on the same port")
		}
		c := dialConnected(t, b.url, "outage")
		b.mosquitto.Stop()
		waitDisconnected(t, c)

		// Retained messages let the client itself check what reached the
		// broker. Its SUBSCRIBE follows the PUBLISH packets on the same
		// connection, so the broker has stored them before it sends the
		// SUBACK.
		want := []string{"results/down/1 one", "results/down/2 two", "results/down/3 three"}
		for i, name := range []string{"one", "two", "three"} {
			require.NoError(t, c.Publish(t.Context(), Message{
				Topic: fmt.Sprintf("results/down/%d", i+1), Payload: []byte(name), QoS: 1, Retain: true}))
		}
		assert.Equal(t, uint64(0), c.Stats().Published)

		b.mosquitto.Restart()
		defer func() {
			if t.Failed() {
				t.Log(b.mosquitto.Log())
			}
		}()
		require.Eventually(t, func() bool { return c.Stats().Published == 3 }, waitTimeout, 10*time.Millisecond)
		_, in := subscribe(t, c, "results/down/#", 1)
		var got []string
		for range want {
			m := in.next(t)
			assert.True(t, m.Retain)
			got = append(got, m.Topic+" "+string(m.Payload))
		}
		assert.ElementsMatch(t, want, got)
	})
}

func TestClientFileQueueSurvivesRestart(t *testing.T) {
	m := testenv.StartMosquitto(t)
	m.Stop()
	dir := t.TempDir()
	withQueue := func(cfg *Config) { cfg.QueueDir = dir }

	// The first client only queues: the broker is down for all its life.
	first := dial(t, m.URL(), "file-queue", withQueue)
	for _, payload := range []string{"one", "two", "three"} {
		publish(t, first, "results/office-1/co2", payload, 1)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, first.Close(ctx))
	assert.Equal(t, uint64(0), first.Stats().Published)

	m.Restart()
	sub := testenv.StartSub(t, m.Addr, "results/#", 3, waitTimeout)
	second := dialConnected(t, m.URL(), "file-queue", withQueue)

	// NOTE: autopaho's file queue orders entries by modification time, so
	// entries written within one timestamp tick may leave in either order.
	assert.ElementsMatch(t, []string{
		"results/office-1/co2 one",
		"results/office-1/co2 two",
		"results/office-1/co2 three",
	}, sub.Wait())
	assert.Equal(t, uint64(3), second.Stats().Published)
}
