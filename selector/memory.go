package selector

import (
	"fmt"
	"math"

	"github.com/hybridd/hybridd/manifest"
)

// WasmInstanceOverhead is the memory reserved for each wasm instance on top
// of its linear memory: the instance's tables, globals and host-side
// structures in wazero.
//
// NOTE: 1 MiB is an estimate, not a measurement. The wasmhost benchmark is
// meant to measure it.
const WasmInstanceOverhead int64 = 1 << 20

// memory is the reservation admission would make for each runtime, in bytes.
type memory struct {
	wasm      int64
	container int64
}

func (m memory) of(runtime manifest.Runtime) int64 {
	if runtime == manifest.RuntimeWasm {
		return m.wasm
	}
	return m.container
}

// reservations computes the reservation of each runtime. A wasm workload
// reserves its linear memory limit plus WasmInstanceOverhead for each of
// spec.concurrency instances. A container reserves its cgroup memory limit,
// spec.resources.memory.
func reservations(spec manifest.Spec) (memory, error) {
	limit, instances := spec.Resources.Memory, int64(spec.Concurrency)
	if limit <= 0 {
		return memory{}, fmt.Errorf("invalid spec.resources.memory %d bytes: use a positive size, e.g. 32Mi", limit)
	}
	if instances <= 0 {
		return memory{}, fmt.Errorf("invalid spec.concurrency %d: use 1 or more", instances)
	}
	if limit > math.MaxInt64/instances-WasmInstanceOverhead {
		return memory{}, fmt.Errorf("spec.resources.memory %d bytes times spec.concurrency %d overflows: lower one of them", limit, instances)
	}
	return memory{wasm: (limit + WasmInstanceOverhead) * instances, container: limit}, nil
}
