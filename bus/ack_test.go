package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/internal/testenv"
)

// TestAckAfterHandlingLimitsInflight holds the first messages unfinished:
// with a Receive Maximum of 2, the broker sends no third message until a
// handler calls Done.
func TestAckAfterHandlingLimitsInflight(t *testing.T) {
	m := testenv.StartMosquitto(t)
	c := dialConnected(t, m.URL(), "ack-window", func(cfg *Config) {
		cfg.AckAfterHandling = true
		cfg.ReceiveMaximum = 2
	})
	_, in := subscribe(t, c, "work/#", 1)
	for i := range 4 {
		testenv.Pub(t, m.Addr, fmt.Sprintf("work/%d", i), "job", 1)
	}

	first, second := in.next(t), in.next(t)
	assert.Equal(t, "work/0", first.Topic)
	assert.Equal(t, "work/1", second.Topic)
	select {
	case extra := <-in:
		t.Fatalf("broker sent %s beyond the Receive Maximum of 2", extra.Topic)
	case <-time.After(500 * time.Millisecond):
	}

	first.Done()
	assert.Equal(t, "work/2", in.next(t).Topic)
	second.Done()
	assert.Equal(t, "work/3", in.next(t).Topic)
}

// TestUnfinishedMessageRedelivered closes the client while a message is
// still being handled: the broker keeps the session, and the next client
// with the same ID gets the message again.
func TestUnfinishedMessageRedelivered(t *testing.T) {
	m := testenv.StartMosquitto(t)
	c := dialConnected(t, m.URL(), "ack-redeliver", func(cfg *Config) {
		cfg.AckAfterHandling = true
		cfg.SessionExpiry = time.Minute
	})
	_, in := subscribe(t, c, "work/#", 1)
	testenv.Pub(t, m.Addr, "work/once", "payload-1", 1)
	held := in.next(t)
	require.Equal(t, "payload-1", string(held.Payload))

	closeCtx, closeCancel := context.WithTimeout(t.Context(), waitTimeout)
	defer closeCancel()
	require.NoError(t, c.Close(closeCtx))

	// The handler is in place before the client connects, because the
	// broker resends the message as soon as the session resumes.
	c2 := dial(t, m.URL(), "ack-redeliver", func(cfg *Config) {
		cfg.AckAfterHandling = true
		cfg.SessionExpiry = time.Minute
		cfg.ResumeSession = true
		cfg.DeferConnect = true
	})
	in2 := newInbox()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	_, err := c2.Subscribe(ctx, "work/#", 1, in2.handle)
	require.NoError(t, err)
	require.NoError(t, c2.Start())

	again := in2.next(t)
	assert.Equal(t, "work/once", again.Topic)
	assert.Equal(t, "payload-1", string(again.Payload))
	again.Done()
	held.Done() // The old connection is closed, so this acknowledgement is discarded.
}

// TestDoneWithoutAckAfterHandlingIsNoop keeps the default behaviour: the
// client acknowledges on receipt, and Done changes nothing.
func TestDoneWithoutAckAfterHandlingIsNoop(t *testing.T) {
	m := testenv.StartMosquitto(t)
	c := dialConnected(t, m.URL(), "ack-default", func(cfg *Config) { cfg.ReceiveMaximum = 1 })
	_, in := subscribe(t, c, "work/#", 1)
	for i := range 3 {
		testenv.Pub(t, m.Addr, fmt.Sprintf("work/%d", i), "job", 1)
	}
	for i := range 3 {
		assert.Equal(t, fmt.Sprintf("work/%d", i), in.next(t).Topic)
	}
	var zero Message
	zero.Done()
}

// TestEmbeddedBrokerKeepsSendingPastReceiveMaximum sends many more QoS 1
// messages than the subscriber's Receive Maximum through the embedded
// broker; all arrive (see quotaRepairHook). mochi-mqtt v2.7.9 sends the
// messages it parked out of order, so the test compares them as a set.
func TestEmbeddedBrokerKeepsSendingPastReceiveMaximum(t *testing.T) {
	b := startEmbedded(t)
	sub := dialConnected(t, b.URL(), "small-window", func(cfg *Config) {
		cfg.AckAfterHandling = true
		cfg.ReceiveMaximum = 2
	})
	_, in := subscribe(t, sub, "work/#", 1)
	pub := dialConnected(t, b.URL(), "publisher")
	const count = 200
	for i := range count {
		publish(t, pub, fmt.Sprintf("work/%d", i), "job", 1)
	}
	got := make(map[string]bool)
	for range count {
		m := in.next(t)
		got[m.Topic] = true
		m.Done()
	}
	for i := range count {
		assert.True(t, got[fmt.Sprintf("work/%d", i)], "work/%d missing", i)
	}
}
