package wasmhost

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counts decodes the 4-byte little-endian counters the reactor fixture
// publishes for 'c' messages.
func counts(t *testing.T, published []Publish) []uint32 {
	t.Helper()
	var values []uint32
	for _, p := range published {
		require.Len(t, p.Payload, 4)
		values = append(values, binary.LittleEndian.Uint32(p.Payload))
	}
	return values
}

// invokeCount sends one 'c' message and returns the counter it published.
func invokeCount(t *testing.T, m *Module) uint32 {
	t.Helper()
	out, err := m.Invoke(context.Background(), Input{Topic: "t", Payload: []byte("c")})
	require.NoError(t, err)
	values := counts(t, out.Published)
	require.Len(t, values, 1)
	return values[0]
}

func TestReactorPublishAllowedAndDenied(t *testing.T) {
	allow := func(topic string) bool { return topic == "alerts/office-1" }
	m := load(t, "reactor", ModuleConfig{AllowPublish: allow})
	assert.Equal(t, KindReactor, m.Kind())

	out, err := m.Invoke(context.Background(), Input{Topic: "alerts/office-1", Payload: []byte("p-hot")})
	require.NoError(t, err)
	assert.Equal(t, []Publish{{Topic: "alerts/office-1", Payload: []byte("p-hot")}}, out.Published)
	assert.Zero(t, m.Denied())

	// The fixture returns publish's status, StatusDenied, as its own.
	out, err = m.Invoke(context.Background(), Input{Topic: "alerts/other", Payload: []byte("p-hot")})
	var exit *ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, uint32(StatusDenied), exit.Code)
	assert.Empty(t, out.Published)
	assert.Equal(t, uint64(1), m.Denied())
}

func TestReactorPublishRejectsWildcardTopic(t *testing.T) {
	m := load(t, "reactor", ModuleConfig{AllowPublish: func(string) bool { return true }})

	_, err := m.Invoke(context.Background(), Input{Topic: "alerts/#", Payload: []byte("p")})
	var exit *ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, uint32(StatusBadTopic), exit.Code)
	assert.Zero(t, m.Denied())
}

func TestReactorKeepsState(t *testing.T) {
	m := load(t, "reactor", ModuleConfig{Concurrency: 1})
	for want := uint32(1); want <= 5; want++ {
		assert.Equal(t, want, invokeCount(t, m))
	}
}

func TestReactorTrapReplacesInstance(t *testing.T) {
	m := load(t, "reactor", ModuleConfig{Concurrency: 1})
	assert.Equal(t, uint32(1), invokeCount(t, m))
	assert.Equal(t, uint32(2), invokeCount(t, m))

	_, err := m.Invoke(context.Background(), Input{Topic: "t", Payload: []byte("!")})
	var trap *TrapError
	require.ErrorAs(t, err, &trap)

	// A fresh instance starts counting again.
	assert.Equal(t, uint32(1), invokeCount(t, m))
}

func TestReactorTimeoutReplacesInstance(t *testing.T) {
	m := load(t, "reactor", ModuleConfig{Concurrency: 1, Timeout: 100 * time.Millisecond})
	assert.Equal(t, uint32(1), invokeCount(t, m))

	_, err := m.Invoke(context.Background(), Input{Topic: "t", Payload: []byte("loop")})
	require.ErrorIs(t, err, ErrTimeout)

	assert.Equal(t, uint32(1), invokeCount(t, m))
}

func TestReactorStatusKeepsInstance(t *testing.T) {
	m := load(t, "reactor", ModuleConfig{Concurrency: 1})
	assert.Equal(t, uint32(1), invokeCount(t, m))

	_, err := m.Invoke(context.Background(), Input{Topic: "t", Payload: []byte("?")})
	var exit *ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, uint32(7), exit.Code)

	assert.Equal(t, uint32(2), invokeCount(t, m))
}

func TestReactorLog(t *testing.T) {
	var log bytes.Buffer
	m := load(t, "reactor", ModuleConfig{Log: &log})

	_, err := m.Invoke(context.Background(), Input{Topic: "t", Payload: []byte("g")})
	require.NoError(t, err)
	assert.Contains(t, log.String(), "level=WARN msg=handled\n")
}

func TestReactorMemoryBytes(t *testing.T) {
	m, err := sharedHost.Load(context.Background(), fixture(t, "reactor"), ModuleConfig{Name: "reactor", Concurrency: 3})
	require.NoError(t, err)

	// The fixture declares 2 pages and never grows.
	assert.Equal(t, uint64(3*2*wasmPageSize), m.MemoryBytes())
	require.NoError(t, m.Close(context.Background()))
	assert.Zero(t, m.MemoryBytes())

	_, err = m.Invoke(context.Background(), Input{Payload: []byte("c")})
	assert.ErrorIs(t, err, ErrClosed)
}

func TestReactorRejectsABIVersion(t *testing.T) {
	_, err := sharedHost.Load(context.Background(), fixture(t, "reactor_v2"), ModuleConfig{Name: "v2"})
	assert.EqualError(t, err, `reactor "v2" uses hybridd ABI version [2], but this host supports only version 1: rebuild it with a matching SDK`)
}

func TestReactorPoolSizeUnderLoad(t *testing.T) {
	const (
		poolSize   = 3
		goroutines = 12
		calls      = 20
	)
	if testing.Short() {
		t.Skip("concurrent load test skipped in -short mode")
	}

	var (
		mu              sync.Mutex
		active, maxSeen int
	)
	// AllowPublish runs inside a guest call, so it can count the calls
	// under way at once. The sleep lets calls overlap.
	allow := func(topic string) bool {
		mu.Lock()
		active++
		maxSeen = max(maxSeen, active)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		active--
		mu.Unlock()
		return true
	}
	m := load(t, "reactor", ModuleConfig{Concurrency: poolSize, AllowPublish: allow})

	var (
		wg     sync.WaitGroup
		values = make(chan uint32, goroutines*calls)
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				out, err := m.Invoke(context.Background(), Input{Topic: "t", Payload: []byte("c")})
				if !assert.NoError(t, err) {
					return
				}
				for _, v := range counts(t, out.Published) {
					values <- v
				}
			}
		}()
	}
	wg.Wait()
	close(values)

	// Each instance counts 1, 2, 3, … so the number of 1s is the number of
	// instances that handled messages.
	total, firsts := 0, 0
	for v := range values {
		total++
		if v == 1 {
			firsts++
		}
	}
	assert.Equal(t, goroutines*calls, total)
	assert.Equal(t, poolSize, maxSeen)
	assert.Equal(t, poolSize, firsts)
}
