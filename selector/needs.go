package selector

import "github.com/hybridd/hybridd/manifest"

// need is a setting of spec.container that only a container provides,
// because a wasm module has no network, no devices, no host files and no
// Linux capabilities.
type need struct {
	setting     string // e.g. "spec.container.ports is set"
	explanation string // e.g. "only a container listens on ports"
}

func (n need) reason() string {
	return n.setting + ", and " + n.explanation
}

// containerNeeds returns the settings of container that force the
// container runtime, in the order of the manifest's fields.
func containerNeeds(container *manifest.ContainerSpec) []need {
	if container == nil {
		return nil
	}

	var needs []need
	if container.Mode == manifest.ModeService {
		needs = append(needs, need{"spec.container.mode is service", "only a container runs a long-lived service"})
	}
	if len(container.Ports) > 0 {
		needs = append(needs, need{"spec.container.ports is set", "only a container listens on ports"})
	}
	if len(container.Devices) > 0 {
		needs = append(needs, need{"spec.container.devices is set", "only a container can access host devices"})
	}
	if len(container.HostPaths) > 0 {
		needs = append(needs, need{"spec.container.hostPaths is set", "only a container can mount host paths"})
	}
	if len(container.Capabilities) > 0 {
		needs = append(needs, need{"spec.container.capabilities is set", "only a container has Linux capabilities"})
	}
	return needs
}
