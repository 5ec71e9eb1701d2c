package wasmhost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
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

			before, err := inspectModule(wasm)
			require.NoError(t, err)
			after, err := inspectModule(instrumented)
			require.NoError(t, err)
			assert.Equal(t, before.exports, after.exports)
			want := append(before.imports, importEntry{module: interruptModuleName, name: interruptFunctionName, kind: externFunc})
			assert.Equal(t, want, after.imports)

			// Compiling a Go module takes tens of seconds under -race, so
			// only the hand-written ones are validated by wazero here. Load
			// compiles the instrumented Go modules in TestMain.
			if _, isGo := map[string]bool{"threshold-alert.wasm": true, "dew-point.wasm": true, "moving-average.wasm": true}[name]; isGo {
				return
			}
			compiled, err := rt.CompileModule(ctx, instrumented)
			require.NoError(t, err)
			_ = compiled.Close(ctx)
		})
	}
}

// newInterruptRuntime returns a runtime without WithCloseOnContextDone in
// which instrumented modules can be instantiated.
func newInterruptRuntime(t *testing.T) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	require.NoError(t, instantiateInterruptModule(ctx, rt))
	return rt
}

func TestInstrumentInterruptRenumbersFunctions(t *testing.T) {
	ctx := context.Background()
	run := func(rt wazero.Runtime, wasm []byte) uint32 {
		t.Helper()
		double := func(x uint32) uint32 { return 2 * x }
		_, err := rt.NewHostModuleBuilder("env").NewFunctionBuilder().WithFunc(double).Export("double").Instantiate(ctx)
		require.NoError(t, err)
		guest, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
		require.NoError(t, err)
		results, err := guest.ExportedFunction("run").Call(ctx, 1)
		require.NoError(t, err)
		return api.DecodeU32(results[0])
	}
	plain := wazero.NewRuntime(ctx)
	defer plain.Close(ctx)
	original := fixture(t, "renumber")
	instrumented, err := instrumentInterrupt(original)
	require.NoError(t, err)

	// ((2*1)*3+7)*3, plus 100 because the start function ran.
	assert.Equal(t, uint32(139), run(plain, original))
	assert.Equal(t, uint32(139), run(newInterruptRuntime(t), instrumented))
}

func TestInstrumentInterruptStopsLoop(t *testing.T) {
	instrumented, err := instrumentInterrupt(fixture(t, "spin"))
	require.NoError(t, err)
	rt := newInterruptRuntime(t)
	newSpin := func() api.Function {
		t.Helper()
		guest, err := rt.InstantiateWithConfig(context.Background(), instrumented, wazero.NewModuleConfig().WithName(""))
		require.NoError(t, err)
		return guest.ExportedFunction("spin")
	}

	// Far more iterations than checkInterval leave the result alone:
	// 0+1+…+(n-1).
	const n = 10 * checkInterval
	results, err := newSpin().Call(context.Background(), n)
	require.NoError(t, err)
	assert.Equal(t, uint64(n*(n-1)/2), results[0])

	tests := []struct {
		name     string
		cancel   bool
		wantCode uint32
	}{
		{"deadline", false, sys.ExitCodeDeadlineExceeded},
		{"canceled", true, sys.ExitCodeContextCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if tt.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			_, err := newSpin().Call(ctx, api.EncodeI64(-1)) // 2^64-1 iterations

			var exit *sys.ExitError
			require.True(t, errors.As(err, &exit), "error %v is a *sys.ExitError", err)
			assert.Equal(t, tt.wantCode, exit.ExitCode())
		})
	}
}
