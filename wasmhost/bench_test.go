package wasmhost

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The benchmarks print ns/op and allocs/op per message. Run them with
//
//	go test -run '^$' -bench . -benchmem ./wasmhost

func benchmarkInvoke(b *testing.B, fixtureName string, cfg ModuleConfig, in Input) {
	m := load(b, fixtureName, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Invoke(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReactorCallWAT(b *testing.B) {
	benchmarkInvoke(b, "reactor", ModuleConfig{}, Input{Topic: "sensors/a/telemetry", Payload: []byte("c")})
}

func BenchmarkReactorCallGo(b *testing.B) {
	cfg := ModuleConfig{Env: map[string]string{"FIELD": "co2", "WINDOW": "10"}}
	benchmarkInvoke(b, "moving-average", cfg, Input{Topic: "sensors/office-1/telemetry", Payload: []byte(officeReading)})
}

func BenchmarkCommandWAT(b *testing.B) {
	benchmarkInvoke(b, "echo", ModuleConfig{}, Input{Topic: "sensors/a/telemetry", Payload: []byte(officeReading)})
}

func BenchmarkCommandGo(b *testing.B) {
	cfg := ModuleConfig{Env: map[string]string{"FIELD": "co2", "ABOVE": "1000"}}
	benchmarkInvoke(b, "threshold-alert", cfg, Input{Topic: "sensors/office-1/telemetry", Payload: []byte(officeReading)})
}

// spinIterations is the loop count of one spin call in the timeout
// benchmarks; ns/op divided by it is the cost of one loop iteration.
const spinIterations = 1_000_000

// BenchmarkGuestLoop compares the cost of a CPU-bound guest loop without
// any timeout check, with wazero's WithCloseOnContextDone, which makes every
// loop back-edge call into the Go runtime, and with the checks that
// instrumentInterrupt inserts, which the host uses. Each variant reports
// ns/iteration.
func BenchmarkGuestLoop(b *testing.B) {
	spin := fixture(b, "spin")
	instrumented, err := instrumentInterrupt(spin)
	require.NoError(b, err)

	for _, tt := range []struct {
		name      string
		closeDone bool
		wasm      []byte
	}{
		{"no timeout check", false, spin},
		{"WithCloseOnContextDone", true, spin},
		{"instrumented checks", false, instrumented},
	} {
		b.Run(tt.name, func(b *testing.B) {
			config := wazero.NewRuntimeConfig().WithCloseOnContextDone(tt.closeDone)
			benchmarkSpin(b, config, tt.wasm)
		})
	}
}

func benchmarkSpin(b *testing.B, config wazero.RuntimeConfig, wasm []byte) {
	// A deadline far away, so that the checks of each variant run but never
	// end the call.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	rt := wazero.NewRuntimeWithConfig(ctx, config)
	defer rt.Close(ctx)
	require.NoError(b, instantiateInterruptModule(ctx, rt))
	guest, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	require.NoError(b, err)
	spin := guest.ExportedFunction("spin")

	// The sum of 0..n-1 checks that the loop ran to the end.
	const want = spinIterations * (spinIterations - 1) / 2
	stack := make([]uint64, 1)
	for b.Loop() {
		stack[0] = api.EncodeI64(spinIterations)
		if err := spin.CallWithStack(ctx, stack); err != nil {
			b.Fatal(err)
		}
		if stack[0] != want {
			b.Fatalf("spin(%d) = %d, want %d", spinIterations, stack[0], want)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/spinIterations, "ns/iteration")
}

// BenchmarkIdleReactorInstance reports the Go heap that one idle reactor
// instance holds beyond its linear memory, from runtime.MemStats before and
// after loading a pool of instances. b.N is ignored: one pool is measured.
func BenchmarkIdleReactorInstance(b *testing.B) {
	for _, tt := range []struct {
		fixture string
		env     map[string]string
	}{
		{"reactor", nil},
		{"moving-average", map[string]string{"FIELD": "co2", "WINDOW": "10"}},
	} {
		b.Run(tt.fixture, func(b *testing.B) {
			const instances = 32
			ctx := context.Background()
			// Compile first, so that the measured load only instantiates.
			warm := load(b, tt.fixture, ModuleConfig{Env: tt.env})
			require.NoError(b, warm.Close(ctx))

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m := load(b, tt.fixture, ModuleConfig{Env: tt.env, Concurrency: instances, MemoryLimit: 64 << 20})
			runtime.GC()
			runtime.ReadMemStats(&after)

			linear := float64(m.MemoryBytes()) / instances
			total := float64(after.HeapAlloc-before.HeapAlloc) / instances
			for b.Loop() {
			}
			b.ReportMetric(linear, "linear-bytes/instance")
			b.ReportMetric(total-linear, "overhead-bytes/instance")
		})
	}
}
