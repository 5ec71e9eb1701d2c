package manifest

// present reports whether key is set in f to something other than null.
func (d *decoder) present(f *fields, key string) bool {
	v, ok := d.get(f, key)
	return ok && !isNull(v)
}

// checkSections applies the rules between the sections of a spec: the
// runtime needs its section, and a workload needs a trigger unless all it
// can run is a service container, which talks MQTT itself.
//
// The rules use which sections are present, not whether they decoded
// without errors, so that a bad wasm.module does not also cause a "wasm
// section is missing" error.
func (d *decoder) checkSections(f *fields, spec *Spec) {
	hasWasm, hasContainer := d.present(f, "wasm"), d.present(f, "container")
	switch spec.Runtime {
	case RuntimeWasm:
		if !hasWasm {
			d.missing(f.node, "spec", "wasm", "runtime wasm needs a wasm section, e.g. wasm: {module: threshold-alert.wasm}")
		}
	case RuntimeContainer:
		if !hasContainer {
			d.missing(f.node, "spec", "container", "runtime container needs a container section, e.g. container: {image: oci-archive:logger.tar}")
		}
	default:
		if !hasWasm && !hasContainer {
			d.errorf(f.node, "spec", "needs a wasm or a container section (add wasm.module or container.image)")
		}
	}

	runsWasm := hasWasm && spec.Runtime != RuntimeContainer
	runsContainer := hasContainer && spec.Runtime != RuntimeWasm
	onlyService := runsContainer && !runsWasm && spec.Container != nil && spec.Container.Mode == ModeService
	if !d.present(f, "trigger") && (runsWasm || runsContainer) && !onlyService {
		d.missing(f.node, "spec", "trigger", "add trigger.mqtt.topic, e.g. sensors/{device}/telemetry")
	}
}
