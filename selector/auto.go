package selector

import (
	"errors"
	"fmt"

	"github.com/hybridd/hybridd/manifest"
)

// decideAuto chooses for "runtime: auto". The artifacts decide what is
// possible, the workload's needs may force a container, containerd's state
// decides what is possible now, and among what remains the budget and then
// the cost model decide.
func (d *decider) decideAuto() Decision {
	if d.spec.Wasm == nil && d.spec.Container == nil {
		return failed(errors.New("spec has neither wasm nor container: add spec.wasm.module or spec.container.image"))
	}

	var wasm *wasmSource
	var containerPossible bool
	var notes []string

	if d.spec.Container != nil {
		kind, err := d.imageKind()
		if err != nil {
			return failed(err)
		}
		image := d.spec.Container.Image
		switch {
		case kind == ArtifactContainer:
			containerPossible = true
		case d.spec.Wasm == nil:
			wasm = &wasmSource{ref: image, reason: fmt.Sprintf("spec.container.image %s is a wasm artifact, so it runs in wasm", image)}
		default:
			notes = append(notes, fmt.Sprintf("spec.container.image %s is a wasm artifact, so it cannot run as a container", image))
		}
	}
	if d.spec.Wasm != nil {
		module, err := d.wasmModule()
		if err != nil {
			return failed(err)
		}
		wasm = &module
	}

	if needs := containerNeeds(d.spec.Container); len(needs) > 0 {
		return d.decideNeeds(needs, containerPossible, wasm != nil)
	}
	switch {
	case wasm != nil && containerPossible:
		return d.decideBoth(*wasm)
	case wasm != nil:
		reason := wasm.reason
		if d.spec.Container == nil {
			reason += " and spec.container is not set"
		}
		return d.run(manifest.RuntimeWasm, wasm.ref, append([]string{reason}, notes...))
	default:
		reason := fmt.Sprintf("spec.container.image %s is a container image and spec.wasm is not set", d.spec.Container.Image)
		return d.runContainer([]string{reason})
	}
}

// decideNeeds handles a workload whose spec.container sets something that
// only a container provides.
func (d *decider) decideNeeds(needs []need, containerPossible, hasWasm bool) Decision {
	if !containerPossible {
		err := fmt.Errorf("spec.container.image %s is a wasm artifact, but %s: use a container image or remove that setting",
			d.spec.Container.Image, needs[0].setting)
		return failed(err)
	}

	reasons := make([]string, 0, len(needs)+1)
	for _, n := range needs {
		reasons = append(reasons, n.reason())
	}
	if hasWasm {
		reasons = append(reasons, "spec.wasm is not used because the workload needs a container")
	}
	return d.runContainer(reasons)
}

// decideBoth chooses between a possible wasm module and a possible container.
func (d *decider) decideBoth(wasm wasmSource) Decision {
	cost := d.costReason()

	if d.facts.ContainerdErr != nil {
		return d.run(manifest.RuntimeWasm, wasm.ref, []string{cost, d.containerdDown() + ", so a container could not start now either"})
	}

	if !d.fits(d.memory.wasm) && d.fits(d.memory.container) {
		fallback := fmt.Sprintf("the wasm reservation of %s does not fit the %s of budget free, but the container reservation of %s does",
			formatBytes(d.memory.wasm), formatBytes(d.facts.BudgetFree), formatBytes(d.memory.container))
		decision := d.run(manifest.RuntimeContainer, d.spec.Container.Image, []string{fallback, cost})
		decision.Fallback = true
		return decision
	}

	return d.run(manifest.RuntimeWasm, wasm.ref, []string{cost})
}

// runContainer returns a container Decision, or a Pending one while
// containerd is unreachable.
func (d *decider) runContainer(reasons []string) Decision {
	if d.facts.ContainerdErr != nil {
		down := d.containerdDown() + ", so the container cannot start now"
		return Decision{
			Reasons: append([]string{down}, reasons...),
			Memory:  d.memory.container,
			Pending: true,
		}
	}
	return d.run(manifest.RuntimeContainer, d.spec.Container.Image, reasons)
}
