package selector

import (
	"fmt"

	"github.com/hybridd/hybridd/internal/quantity"
	"github.com/hybridd/hybridd/manifest"
)

func formatBytes(n int64) string {
	return quantity.FormatBytes(n)
}

// costReason explains the cost model's preference for wasm. While
// WasmInstanceOverhead is above 0 the wasm reservation is the larger one,
// because each wasm instance reserves spec.resources.memory plus the
// overhead and a container reserves spec.resources.memory once. Wasm is
// preferred for its start time and because it runs without the userland and
// shim process of a container, which the reservations do not show.
func (d *decider) costReason() string {
	return fmt.Sprintf("wasm is preferred because it starts in milliseconds without a container process, and it reserves %s where a container would reserve %s",
		formatBytes(d.memory.wasm), formatBytes(d.memory.container))
}

// containerdDown describes the containerd error in Facts.
func (d *decider) containerdDown() string {
	if d.facts.ContainerdAddress == "" {
		return fmt.Sprintf("containerd is not reachable: %v", d.facts.ContainerdErr)
	}
	return fmt.Sprintf("containerd is not reachable at %s: %v", d.facts.ContainerdAddress, d.facts.ContainerdErr)
}

// overBudget explains that a reservation of bytes will not be admitted now.
func overBudget(runtime manifest.Runtime, bytes, free int64) string {
	return fmt.Sprintf("the %s reservation of %s does not fit the %s of budget free now, so admission will reject it until memory is released",
		runtime, formatBytes(bytes), formatBytes(free))
}
