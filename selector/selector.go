// Package selector decides whether a workload runs as a wasm module or as a
// container, and records the reasons.
//
// The decision depends on the artifact's kind, on what the workload needs,
// on the host's facts (containerd reachable, memory budget left) and on a
// cost model that prefers wasm. Decide is deterministic. It reads nothing but
// the workload's artifacts: a module file directly, OCI references through
// Facts.Inspector. It does not admit anything: the budget package does that
// when the workload is deployed.
package selector

import (
	"fmt"

	"github.com/hybridd/hybridd/manifest"
)

// BudgetUnknown is the Facts.BudgetFree value for a host whose free budget
// is not known. Every negative value means the same.
const BudgetUnknown int64 = -1

// ArtifactKind is the type of content of an OCI reference or archive.
type ArtifactKind int

const (
	// ArtifactWasm is a wasm artifact: an OCI image whose layer is a
	// WebAssembly module.
	ArtifactWasm ArtifactKind = iota + 1
	// ArtifactContainer is an ordinary container image.
	ArtifactContainer
)

// String returns "wasm", "container" or the number of an unknown kind.
func (k ArtifactKind) String() string {
	switch k {
	case ArtifactWasm:
		return "wasm"
	case ArtifactContainer:
		return "container"
	default:
		return fmt.Sprintf("ArtifactKind(%d)", int(k))
	}
}

// ArtifactInspector reports the kind of an OCI artifact without running it.
// ref is an "oci-archive:PATH" reference or a registry reference.
type ArtifactInspector interface {
	Inspect(ref string) (ArtifactKind, error)
}

// Facts are the host's state at the moment of the decision.
type Facts struct {
	// ContainerdAddress is the containerd socket, used in reasons.
	ContainerdAddress string
	// ContainerdErr is nil when containerd is reachable, and otherwise the
	// error of the last attempt to reach it.
	ContainerdErr error
	// BudgetFree is the unreserved memory budget in bytes. A negative value
	// (see BudgetUnknown) means unknown, which counts as enough.
	BudgetFree int64
	// Inspector reads OCI artifacts. Decide needs it only for workloads that
	// name an OCI archive or registry reference.
	Inspector ArtifactInspector
}

// Decision is the runtime chosen for one workload and why.
type Decision struct {
	// Runtime is wasm or container, or empty when the workload cannot run
	// now (Pending) or ever (Err).
	Runtime manifest.Runtime
	// Artifact is the module file or OCI reference the chosen runtime loads:
	// spec.wasm.module, or spec.container.image. A container image that is a
	// wasm artifact is loaded by the wasm runtime.
	Artifact string
	// Reasons are short sentences, the deciding one first.
	Reasons []string
	// Memory is the number of bytes admission would reserve. For a Pending
	// decision it is the reservation of the runtime the workload waits for.
	Memory int64
	// Fallback is true when the wasm reservation does not fit the free
	// budget, so a container was chosen although the cost model prefers
	// wasm. An unreachable containerd never sets it, because a workload that
	// can run in wasm runs there anyway and one that needs a container is
	// Pending.
	Fallback bool
	// Pending is true when the workload cannot run now but could later, for
	// example when it needs a container and containerd is down.
	Pending bool
	// Err is set when the workload can never run as written. Reasons then
	// starts with the same message.
	Err error
}

// Decide chooses the runtime of w from its spec, its artifacts and facts.
func Decide(w manifest.Workload, facts Facts) Decision {
	memory, err := reservations(w.Spec)
	if err != nil {
		return failed(err)
	}
	d := &decider{spec: w.Spec, facts: facts, memory: memory}

	switch w.Spec.Runtime {
	case manifest.RuntimeAuto, "":
		return d.decideAuto()
	case manifest.RuntimeWasm:
		return d.decideWasm()
	case manifest.RuntimeContainer:
		return d.decideContainer()
	default:
		return failed(fmt.Errorf("invalid spec.runtime %q: use auto, wasm or container", w.Spec.Runtime))
	}
}

// failed returns the Decision for a workload that can never run as written.
func failed(err error) Decision {
	return Decision{Reasons: []string{err.Error()}, Err: err}
}

// decider holds the inputs of one decision.
type decider struct {
	spec   manifest.Spec
	facts  Facts
	memory memory
}

// decideWasm honours "runtime: wasm", which uses spec.wasm only.
func (d *decider) decideWasm() Decision {
	if d.spec.Wasm == nil {
		return failed(fmt.Errorf("runtime wasm requested, but spec.wasm is missing: add spec.wasm.module or set spec.runtime to auto"))
	}
	module, err := d.wasmModule()
	if err != nil {
		return failed(err)
	}
	reasons := []string{"runtime wasm requested", module.reason}
	if d.spec.Container != nil {
		reasons = append(reasons, "spec.container is not used because runtime wasm was requested")
	}
	return d.run(manifest.RuntimeWasm, module.ref, reasons)
}

// decideContainer honours "runtime: container".
func (d *decider) decideContainer() Decision {
	if d.spec.Container == nil {
		return failed(fmt.Errorf("runtime container requested, but spec.container is missing: add spec.container.image or set spec.runtime to auto"))
	}
	kind, err := d.imageKind()
	if err != nil {
		return failed(err)
	}
	image := d.spec.Container.Image
	if kind == ArtifactWasm {
		return failed(fmt.Errorf("runtime container requested, but spec.container.image %s is a wasm artifact: set spec.runtime to wasm or auto", image))
	}
	if d.facts.ContainerdErr != nil {
		return Decision{
			Reasons: []string{"container requested but " + d.containerdDown()},
			Memory:  d.memory.container,
			Pending: true,
		}
	}
	return d.run(manifest.RuntimeContainer, image, []string{"runtime container requested"})
}

// run returns the Decision to run artifact in runtime, with a note when the
// reservation does not fit the free budget.
func (d *decider) run(runtime manifest.Runtime, artifact string, reasons []string) Decision {
	bytes := d.memory.of(runtime)
	if !d.fits(bytes) {
		reasons = append(reasons, overBudget(runtime, bytes, d.facts.BudgetFree))
	}
	return Decision{Runtime: runtime, Artifact: artifact, Reasons: reasons, Memory: bytes}
}

// fits reports whether bytes fit the free budget. An unknown budget fits.
func (d *decider) fits(bytes int64) bool {
	return d.facts.BudgetFree < 0 || bytes <= d.facts.BudgetFree
}
