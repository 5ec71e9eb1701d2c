package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// load loads a fixture into the shared host and closes it when the test ends.
func load(t testing.TB, name string, cfg ModuleConfig) *Module {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = name
	}
	m, err := sharedHost.Load(context.Background(), fixture(t, name), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

func TestCommandEchoesStdin(t *testing.T) {
	m := load(t, "echo", ModuleConfig{})
	assert.Equal(t, KindCommand, m.Kind())

	payload := bytes.Repeat([]byte("reading;"), 2000) // 16000 bytes, several reads
	out, err := m.Invoke(context.Background(), Input{Topic: "sensors/a/telemetry", Payload: payload})
	require.NoError(t, err)
	assert.Equal(t, payload, out.Stdout)
	assert.Empty(t, out.Published)
}

func TestCommandArgsAndEnv(t *testing.T) {
	m := load(t, "env", ModuleConfig{Name: "co2-alert", Env: map[string]string{"FIELD": "co2", "ABOVE": "1000"}})

	out, err := m.Invoke(context.Background(), Input{Topic: "sensors/office-1/telemetry"})
	require.NoError(t, err)

	// Arguments first, then the environment in key order with HYBRIDD_TOPIC
	// appended by the call.
	want := "co2-alert\nABOVE=1000\nFIELD=co2\nHYBRIDD_TOPIC=sensors/office-1/telemetry\n"
	assert.Equal(t, want, string(out.Stdout))
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		check   func(t *testing.T, err error)
	}{
		{"exit code 3", "exit3", func(t *testing.T, err error) {
			var exit *ExitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, uint32(3), exit.Code)
			assert.EqualError(t, err, `module "exit3": guest exited with code 3`)
		}},
		{"unreachable", "unreachable", func(t *testing.T, err error) {
			var trap *TrapError
			require.ErrorAs(t, err, &trap)
			assert.Contains(t, err.Error(), "unreachable")
		}},
		{"out of bounds", "out_of_bounds", func(t *testing.T, err error) {
			var trap *TrapError
			require.ErrorAs(t, err, &trap)
			assert.Contains(t, err.Error(), "out of bounds memory access")
		}},
		{"stack overflow", "stack_overflow", func(t *testing.T, err error) {
			var trap *TrapError
			require.ErrorAs(t, err, &trap)
			assert.Contains(t, err.Error(), "stack overflow")
		}},
		{"memory growth beyond the cap", "grow", func(t *testing.T, err error) {
			var trap *TrapError
			require.ErrorAs(t, err, &trap)
			assert.Contains(t, err.Error(), "unreachable")
		}},
		{"file open without preopens", "open_file", func(t *testing.T, err error) {
			// WASI errno 8 is EBADF: descriptor 3 does not exist.
			var exit *ExitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, uint32(8), exit.Code)
		}},
		{"stdout over the limit", "big_output", func(t *testing.T, err error) {
			assert.ErrorIs(t, err, ErrOutputLimit)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 8 pages leave the grow fixture no room for 16 more. The
			// timeout only bounds a broken run: a stack overflow takes
			// well under a second alone, but seconds on a loaded machine.
			m := load(t, tt.fixture, ModuleConfig{MemoryLimit: 8 * wasmPageSize, Timeout: time.Minute})
			_, err := m.Invoke(context.Background(), Input{Topic: "t"})
			require.Error(t, err)
			tt.check(t, err)
		})
	}
}

func TestCommandGrowWithinCap(t *testing.T) {
	m := load(t, "grow", ModuleConfig{MemoryLimit: 17 * wasmPageSize})
	_, err := m.Invoke(context.Background(), Input{})
	assert.NoError(t, err)
}

func TestCommandEndlessLoopTimesOut(t *testing.T) {
	m := load(t, "endless_loop", ModuleConfig{Timeout: 100 * time.Millisecond})
	require.True(t, m.instrumented, "module runs with the instrumented checks")

	_, err := m.Invoke(context.Background(), Input{Payload: []byte("spin")})
	require.ErrorIs(t, err, ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// The same module serves the next call.
	_, err = m.Invoke(context.Background(), Input{Payload: []byte("ok")})
	assert.NoError(t, err)
}

func TestCommandCanceledContext(t *testing.T) {
	m := load(t, "endless_loop", ModuleConfig{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)

	_, err := m.Invoke(ctx, Input{Payload: []byte("spin")})
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrTimeout)
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		cfg     ModuleConfig
		want    string
	}{
		{
			"unknown import module", "unknown_import", ModuleConfig{},
			`module "m" imports function env.sensor_read, which this host does not provide: import only from wasi_snapshot_preview1 and hybridd`,
		},
		{
			"unknown host function", "unknown_host_function", ModuleConfig{},
			`module "m" imports function hybridd.subscribe, which this host does not provide: known functions are [log message_read publish]`,
		},
		{
			"minimum memory above the limit", "big_minimum", ModuleConfig{MemoryLimit: 4 << 20},
			`module "m" declares a minimum linear memory of 6553600 bytes (100 pages), above its memory limit of 4194304 bytes: raise the memory limit to at least 6553600 bytes (6400Ki)`,
		},
		{
			"memory limit below one page", "echo", ModuleConfig{MemoryLimit: 1000},
			`module "m": memory limit 1000 bytes is below one 64 KiB WebAssembly page: set at least 64Ki`,
		},
		{
			"reserved environment variable", "echo", ModuleConfig{Env: map[string]string{"HYBRIDD_TOPIC": "x"}},
			`environment variable HYBRIDD_TOPIC is set by the host for each message: remove it from the environment`,
		},
		{
			"negative concurrency", "echo", ModuleConfig{Concurrency: -1},
			`concurrency -1 is negative: set 1 or more`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name = "m"
			_, err := sharedHost.Load(context.Background(), fixture(t, tt.fixture), tt.cfg)
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestLoadRejectsNonWasm(t *testing.T) {
	_, err := sharedHost.Load(context.Background(), []byte("#!/bin/sh\n"), ModuleConfig{Name: "script"})
	assert.EqualError(t, err, `module "script": not a WebAssembly 1.0 binary: missing the \0asm version 1 header`)
}

func TestLoadRejectsNoEntryPoint(t *testing.T) {
	wasm := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	_, err := sharedHost.Load(context.Background(), wasm, ModuleConfig{Name: "empty"})
	assert.ErrorContains(t, err, "exports neither _start (a WASI command) nor hybridd_on_message")
}

func TestCommandStderrGoesToLog(t *testing.T) {
	var log bytes.Buffer
	m := load(t, "threshold-alert", ModuleConfig{Env: map[string]string{"FIELD": "co2", "ABOVE": "many"}, Log: &log})

	_, err := m.Invoke(context.Background(), Input{Topic: "sensors/a/telemetry", Payload: []byte(`{}`)})
	var exit *ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, uint32(1), exit.Code)
	assert.Equal(t, "threshold-alert: ABOVE \"many\" is not a number: set it to the threshold, e.g. 1000\n", log.String())
}

func TestCommandConcurrencyLimit(t *testing.T) {
	const limit = 2
	m := load(t, "endless_loop", ModuleConfig{Concurrency: limit, Timeout: 300 * time.Millisecond})

	// Each live instance of the fixture holds one page, so MemoryBytes
	// counts the instances running at the moment.
	var wg sync.WaitGroup
	for range 2 * limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Invoke(context.Background(), Input{Payload: []byte("spin")})
			assert.ErrorIs(t, err, ErrTimeout)
		}()
	}
	var maxSeen uint64
	for deadline := time.Now().Add(450 * time.Millisecond); time.Now().Before(deadline); {
		maxSeen = max(maxSeen, m.MemoryBytes())
		time.Sleep(time.Millisecond)
	}
	wg.Wait()

	assert.Equal(t, uint64(limit*wasmPageSize), maxSeen)
	assert.Zero(t, m.MemoryBytes(), "memory of finished calls")
}

func TestCommandRecursionTimesOut(t *testing.T) {
	m := load(t, "recursion", ModuleConfig{Timeout: 100 * time.Millisecond})

	_, err := m.Invoke(context.Background(), Input{})
	assert.ErrorIs(t, err, ErrTimeout)
}

func TestCommandSleepTimesOut(t *testing.T) {
	for _, instrumented := range []bool{true, false} {
		t.Run(map[bool]string{true: "instrumented", false: "WithCloseOnContextDone"}[instrumented], func(t *testing.T) {
			host := sharedHost
			if !instrumented {
				host = newUninstrumentedHost(t)
			}
			m, err := host.Load(context.Background(), fixture(t, "sleep"), ModuleConfig{Name: "sleep", Timeout: 100 * time.Millisecond})
			require.NoError(t, err)
			defer m.Close(context.Background())
			require.Equal(t, instrumented, m.instrumented)

			// The guest requests a one-hour sleep. The bound is generous
			// for a loaded machine, and far below the hour.
			started := time.Now()
			_, err = m.Invoke(context.Background(), Input{})
			assert.ErrorIs(t, err, ErrTimeout)
			assert.Less(t, time.Since(started), time.Minute)
		})
	}
}

// newUninstrumentedHost returns a host whose instrumentation fails, so
// that its modules run with WithCloseOnContextDone.
func newUninstrumentedHost(t *testing.T) *Host {
	t.Helper()
	host, err := New(context.Background(), Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = host.Close(context.Background()) })
	host.instrument = func([]byte) ([]byte, error) { return nil, errors.New("instrumentation failed on purpose") }
	return host
}

func TestCommandFallbackWithoutInstrumentation(t *testing.T) {
	var log bytes.Buffer
	host := newUninstrumentedHost(t)
	host.logger = slog.New(slog.NewTextHandler(&log, nil))
	m, err := host.Load(context.Background(), fixture(t, "endless_loop"), ModuleConfig{Name: "loop", Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	defer m.Close(context.Background())
	assert.False(t, m.instrumented)
	assert.Contains(t, log.String(), `msg="wasm module not instrumented, so loops run slower under WithCloseOnContextDone" workload=loop runtime=wasm error="instrumentation failed on purpose"`)

	_, err = m.Invoke(context.Background(), Input{Payload: []byte("spin")})
	require.ErrorIs(t, err, ErrTimeout)

	// The same module serves the next call.
	_, err = m.Invoke(context.Background(), Input{Payload: []byte("ok")})
	assert.NoError(t, err)
}

// TestEndlessLoopsBeyondGOMAXPROCS runs more spinning guests than there are
// Ps. Compiled guest code cannot be preempted. If the guests only polled a
// flag that another goroutine sets, the stop-the-world phase below would
// wait for them forever, and the goroutine that sets the flag would never
// run again.
func TestEndlessLoopsBeyondGOMAXPROCS(t *testing.T) {
	guests := runtime.GOMAXPROCS(0) + 1
	m := load(t, "endless_loop", ModuleConfig{Concurrency: guests, Timeout: time.Second})
	echo := load(t, "echo", ModuleConfig{})

	started := time.Now()
	errs := make(chan error, guests)
	for range guests {
		go func() {
			_, err := m.Invoke(context.Background(), Input{Payload: []byte("spin")})
			errs <- err
		}()
	}

	// Each live instance of the fixture holds one page. The loop ends early
	// if the calls end before all of them were seen live at once.
	for time.Since(started) < 10*time.Second && m.MemoryBytes() < uint64(guests*wasmPageSize) && len(errs) == 0 {
		time.Sleep(time.Millisecond)
	}
	t.Logf("%d guests live after %s", m.MemoryBytes()/wasmPageSize, time.Since(started))

	// The host stays responsive while the guests spin: a stop-the-world
	// phase (ReadMemStats) ends, a collection reaches mark termination
	// (NumGC counts it), and another module serves a call. runtime.GC
	// itself is not waited for, because in Go 1.26 it then sweeps every
	// span with a Gosched after each (runtime/mgc.go), which queues behind
	// the spinning guests until they time out.
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	collections := stats.NumGC
	go runtime.GC()
	for polls := 0; stats.NumGC == collections && polls < 30_000; polls++ {
		time.Sleep(time.Millisecond)
		runtime.ReadMemStats(&stats)
	}
	assert.Greater(t, stats.NumGC, collections, "garbage collections finished")
	out, err := echo.Invoke(context.Background(), Input{Payload: []byte("still here")})
	require.NoError(t, err)
	assert.Equal(t, "still here", string(out.Stdout))
	t.Logf("collection and echo call done after %s", time.Since(started))

	for range guests {
		assert.ErrorIs(t, <-errs, ErrTimeout)
	}
	assert.Less(t, time.Since(started), time.Minute, "time until every guest timed out")
	assert.Zero(t, m.MemoryBytes(), "memory of finished calls")
}

func TestCommandCloseCutsOffRunningCall(t *testing.T) {
	host, err := New(context.Background(), Config{})
	require.NoError(t, err)
	defer host.Close(context.Background())
	m, err := host.Load(context.Background(), fixture(t, "endless_loop"), ModuleConfig{Name: "loop", Timeout: time.Hour})
	require.NoError(t, err)
	require.True(t, m.instrumented)

	done := make(chan error, 1)
	go func() {
		_, err := m.Invoke(context.Background(), Input{Payload: []byte("spin")})
		done <- err
	}()
	for polls := 0; m.MemoryBytes() == 0 && polls < 10_000; polls++ {
		time.Sleep(time.Millisecond)
	}

	// Close waits 50 ms for the call, then closes the runtime under it.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.NoError(t, m.Close(ctx))
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrClosed, "a call cut off by Close")
	case <-time.After(time.Minute):
		t.Fatal("the call under way did not end after Close")
	}
}
