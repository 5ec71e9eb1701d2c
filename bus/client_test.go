package bus

import (
	"testing"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientReceivesFromMosquittoPub(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		c := dialConnected(t, b.url, "receiver")
		_, in := subscribe(t, c, "sensors/+/telemetry", 1)

		payload := `{"device":"office-1","co2":721.25}`
		testenv.Pub(t, b.url, "sensors/office-1/telemetry", payload, 1)

		m := in.next(t)
		assert.Equal(t, "sensors/office-1/telemetry", m.Topic)
		assert.Equal(t, payload, string(m.Payload))
		assert.Equal(t, byte(1), m.QoS)
		assert.False(t, m.Retain)
	})
}

func TestClientPublishSeenByMosquittoSub(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		c := dialConnected(t, b.url, "publisher")
		sub := testenv.StartSub(t, b.url, "alerts/#", 2, waitTimeout)

		publish(t, c, "alerts/office-1/co2", "co2 above 1000", 1)
		publish(t, c, "alerts/office-2/co2", "co2 above 1200", 0)

		assert.Equal(t, []string{
			"alerts/office-1/co2 co2 above 1000",
			"alerts/office-2/co2 co2 above 1200",
		}, sub.Wait())
		assert.Equal(t, uint64(2), c.Stats().Queued)
		assert.Equal(t, uint64(2), c.Stats().Published)
	})
}

func TestClientOverlappingFiltersDeliverOnce(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		c := dialConnected(t, b.url, "overlap")
		_, narrow := subscribe(t, c, "sensors/+/telemetry", 1)
		_, wide := subscribe(t, c, "sensors/#", 1)
		_, other := subscribe(t, c, "alerts/#", 1)

		testenv.Pub(t, b.url, "sensors/office-1/telemetry", "first", 1)
		testenv.Pub(t, b.url, "sensors/office-1/telemetry", "second", 1)
		testenv.Pub(t, b.url, "sensors/office-1/status", "only-wide", 1)

		// A duplicate would arrive before the next message, so reading the
		// expected sequence in order proves each arrived once.
		assert.Equal(t, "first", string(narrow.next(t).Payload))
		assert.Equal(t, "second", string(narrow.next(t).Payload))
		assert.Equal(t, "first", string(wide.next(t).Payload))
		assert.Equal(t, "second", string(wide.next(t).Payload))
		assert.Equal(t, "only-wide", string(wide.next(t).Payload))
		assert.Empty(t, narrow)
		assert.Empty(t, other)

		stats := c.Stats()
		assert.Equal(t, uint64(5), stats.Delivered)
		assert.Equal(t, uint64(0), stats.Dropped)
		wantReceived := uint64(3)
		if b.copyPerSubscription {
			wantReceived = 5
		}
		assert.Equal(t, wantReceived, stats.Received)
	})
}

func TestClientSharedSubscription(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		workers := []*Client{dialConnected(t, b.url, "worker-1"), dialConnected(t, b.url, "worker-2")}
		shared := newInbox()
		for _, w := range workers {
			_, err := w.Subscribe(t.Context(), "$share/workers/jobs/+", 1, shared.handle)
			require.NoError(t, err)
		}
		producer := dialConnected(t, b.url, "producer")

		want := []string{"job-1", "job-2", "job-3", "job-4", "job-5", "job-6"}
		for _, job := range want {
			publish(t, producer, "jobs/"+job, job, 1)
		}
		var got []string
		for range want {
			got = append(got, string(shared.next(t).Payload))
		}
		assert.ElementsMatch(t, want, got)
		total := workers[0].Stats().Delivered + workers[1].Stats().Delivered
		assert.Equal(t, uint64(len(want)), total)
	})
}

func TestClientSharedFilterIsReferenceCounted(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		c := dialConnected(t, b.url, "refcount")
		first, firstIn := subscribe(t, c, "sensors/#", 1)
		second, secondIn := subscribe(t, c, "sensors/#", 0)

		testenv.Pub(t, b.url, "sensors/office-1/telemetry", "both", 1)
		assert.Equal(t, "both", string(firstIn.next(t).Payload))
		assert.Equal(t, "both", string(secondIn.next(t).Payload))

		require.NoError(t, first.Unsubscribe(t.Context()))
		testenv.Pub(t, b.url, "sensors/office-1/telemetry", "second-only", 1)
		assert.Equal(t, "second-only", string(secondIn.next(t).Payload))
		assert.Empty(t, firstIn)

		require.NoError(t, second.Unsubscribe(t.Context()))
		require.NoError(t, second.Unsubscribe(t.Context()), "a second Unsubscribe is a no-op")
		// The broker no longer sends anything for "sensors/#": a new
		// subscription on another filter receives the next message, and the
		// old ones stay empty.
		_, probe := subscribe(t, c, "sensors/+/telemetry", 1)
		testenv.Pub(t, b.url, "sensors/office-1/telemetry", "after", 1)
		assert.Equal(t, "after", string(probe.next(t).Payload))
		assert.Empty(t, firstIn)
		assert.Empty(t, secondIn)
		assert.Equal(t, uint64(0), c.Stats().Dropped)
	})
}
