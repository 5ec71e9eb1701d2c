package wasmhost

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func TestInstrumentInterruptKeepsModulesValid(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)

	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.wasm"))
	require.NoError(t, err)
	for _, path := range paths {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			wasm, err := os.ReadFile(path)
			require.NoError(t, err)
			instrumented, err := instrumentInterrupt(wasm)
			require.NoError(t, err)

			info, err := inspectModule(instrumented)
			require.NoError(t, err)
			assert.Equal(t, byte(externGlobal), info.exports[interruptExport])

			// Compiling a Go module takes tens of seconds under -race, so
			// only the hand-written ones are validated by wazero.
			if _, isGo := map[string]bool{"threshold-alert.wasm": true, "dew-point.wasm": true, "moving-average.wasm": true}[name]; isGo {
				return
			}
			compiled, err := rt.CompileModule(ctx, instrumented)
			require.NoError(t, err)
			_ = compiled.Close(ctx)
		})
	}
}

func TestInstrumentInterruptStopsLoop(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)

	instrumented, err := instrumentInterrupt(fixture(t, "spin"))
	require.NoError(t, err)
	guest, err := rt.InstantiateWithConfig(ctx, instrumented, wazero.NewModuleConfig().WithName(""))
	require.NoError(t, err)

	// Unset, the check leaves the result alone: 0+1+…+9 = 45.
	results, err := guest.ExportedFunction("spin").Call(ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, uint64(45), results[0])

	global := guest.ExportedGlobal(interruptExport).(api.MutableGlobal)
	done := make(chan error, 1)
	go func() {
		_, err := guest.ExportedFunction("spin").Call(ctx, api.EncodeI64(-1)) // 2^64-1 iterations
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	global.Set(1)

	select {
	case err := <-done:
		assert.ErrorContains(t, err, "unreachable")
	case <-time.After(10 * time.Second):
		t.Fatal("the interrupted loop did not stop")
	}
}
