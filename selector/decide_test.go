package selector

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hybridd/hybridd/manifest"
)

// decideCase is one workload, the facts it is decided with, and the
// expected Decision. wantErr is the text of Decision.Err, which Reasons
// then repeats.
type decideCase struct {
	name     string
	workload manifest.Workload
	facts    Facts
	want     Decision
	wantErr  string
}

func runDecideCases(t *testing.T, tests []decideCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.workload, tt.facts)

			if tt.wantErr != "" {
				assert.EqualError(t, got.Err, tt.wantErr)
				assert.Equal(t, []string{tt.wantErr}, got.Reasons)
				got.Err = nil
				tt.want.Reasons = []string{tt.wantErr}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDecideArtifacts(t *testing.T) {
	fx := newFixtures(t)
	host := hostFacts(t)

	runDecideCases(t, []decideCase{
		{
			name:     "wasm file",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.wasmFile) }),
			facts:    host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons:  []string{"spec.wasm.module " + fx.wasmFile + " is a core WebAssembly module and spec.container is not set"},
				Memory:   33 * mib,
			},
		},
		{
			name: "wasm file with four instances",
			workload: workload(func(s *manifest.Spec) {
				s.Wasm = wasmSection(fx.wasmFile)
				s.Resources.Memory = 16 * mib
				s.Concurrency = 4
			}),
			facts: host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons:  []string{"spec.wasm.module " + fx.wasmFile + " is a core WebAssembly module and spec.container is not set"},
				Memory:   68 * mib,
			},
		},
		{
			name:     "wasm OCI artifact",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.wasmArchive) }),
			facts:    host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmArchive,
				Reasons:  []string{"spec.wasm.module " + fx.wasmArchive + " is a wasm artifact and spec.container is not set"},
				Memory:   33 * mib,
			},
		},
		{
			name:     "container image",
			workload: workload(func(s *manifest.Spec) { s.Container = containerSection(fx.containerArchive) }),
			facts:    host,
			want: Decision{
				Runtime:  manifest.RuntimeContainer,
				Artifact: fx.containerArchive,
				Reasons:  []string{"spec.container.image " + fx.containerArchive + " is a container image and spec.wasm is not set"},
				Memory:   32 * mib,
			},
		},
		{
			name:     "container image that is a wasm artifact",
			workload: workload(func(s *manifest.Spec) { s.Container = containerSection(fx.wasmArchive) }),
			facts:    host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmArchive,
				Reasons:  []string{"spec.container.image " + fx.wasmArchive + " is a wasm artifact, so it runs in wasm"},
				Memory:   33 * mib,
			},
		},
		{
			name: "wasm artifact in both sections",
			workload: workload(func(s *manifest.Spec) {
				s.Wasm = wasmSection(fx.wasmFile)
				s.Container = containerSection(fx.wasmArchive)
			}),
			facts: host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons: []string{
					"spec.wasm.module " + fx.wasmFile + " is a core WebAssembly module",
					"spec.container.image " + fx.wasmArchive + " is a wasm artifact, so it cannot run as a container",
				},
				Memory: 33 * mib,
			},
		},
		{
			name:     "file that is not wasm",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.scriptFile) }),
			facts:    host,
			wantErr:  "spec.wasm.module " + fx.scriptFile + " is not a WebAssembly module because it does not start with \\0asm: build it for WASI, e.g. with GOOS=wasip1 GOARCH=wasm",
		},
		{
			name:     "file shorter than a header",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.shortFile) }),
			facts:    host,
			wantErr:  "spec.wasm.module " + fx.shortFile + " is not a WebAssembly module because it does not start with \\0asm: build it for WASI, e.g. with GOOS=wasip1 GOARCH=wasm",
		},
		{
			name:     "component model binary",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.componentFile) }),
			facts:    host,
			wantErr:  "spec.wasm.module " + fx.componentFile + " is a WebAssembly component, not a core module: build a core WASI module, e.g. with GOOS=wasip1 GOARCH=wasm",
		},
		{
			name:     "unknown binary version",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.version2File) }),
			facts:    host,
			wantErr:  "spec.wasm.module " + fx.version2File + " has WebAssembly binary version 2: only version 1 is supported",
		},
		{
			name:     "missing wasm file",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.missingFile) }),
			facts:    host,
			wantErr:  "read spec.wasm.module: open " + fx.missingFile + ": no such file or directory",
		},
		{
			name: "broken wasm beside a good container",
			workload: workload(func(s *manifest.Spec) {
				s.Wasm = wasmSection(fx.scriptFile)
				s.Container = containerSection(fx.containerArchive)
			}),
			facts:   host,
			wantErr: "spec.wasm.module " + fx.scriptFile + " is not a WebAssembly module because it does not start with \\0asm: build it for WASI, e.g. with GOOS=wasip1 GOARCH=wasm",
		},
		{
			name:     "wasm module that is a container image",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.containerArchive) }),
			facts:    host,
			wantErr:  "spec.wasm.module " + fx.containerArchive + " is a container image, not a wasm artifact: move it to spec.container.image",
		},
		{
			name:     "missing archive",
			workload: workload(func(s *manifest.Spec) { s.Container = containerSection(fx.missingArchive) }),
			facts:    host,
			wantErr:  "inspect spec.container.image " + fx.missingArchive + ": open " + fx.missingArchive[len("oci-archive:"):] + ": no such file or directory",
		},
		{
			name:     "archive without inspector",
			workload: workload(func(s *manifest.Spec) { s.Wasm = wasmSection(fx.wasmArchive) }),
			facts:    Facts{ContainerdAddress: socketPath, BudgetFree: BudgetUnknown},
			wantErr:  "inspect spec.wasm.module " + fx.wasmArchive + ": no ArtifactInspector in the selector facts",
		},
		{
			name:     "inspector returns an unknown kind",
			workload: workload(func(s *manifest.Spec) { s.Container = containerSection("registry.example/sensor:1") }),
			facts: Facts{
				ContainerdAddress: socketPath,
				BudgetFree:        BudgetUnknown,
				Inspector:         inspectorFunc(func(string) (ArtifactKind, error) { return 0, nil }),
			},
			wantErr: "inspect spec.container.image registry.example/sensor:1: unknown artifact kind ArtifactKind(0)",
		},
		{
			name:     "registry reference through the inspector",
			workload: workload(func(s *manifest.Spec) { s.Container = containerSection("registry.example/sensor:1") }),
			facts: Facts{
				ContainerdAddress: socketPath,
				BudgetFree:        BudgetUnknown,
				Inspector: inspectorFunc(func(ref string) (ArtifactKind, error) {
					if ref != "registry.example/sensor:1" {
						return 0, errors.New("unexpected reference " + ref)
					}
					return ArtifactContainer, nil
				}),
			},
			want: Decision{
				Runtime:  manifest.RuntimeContainer,
				Artifact: "registry.example/sensor:1",
				Reasons:  []string{"spec.container.image registry.example/sensor:1 is a container image and spec.wasm is not set"},
				Memory:   32 * mib,
			},
		},
		{
			name:     "no artifact",
			workload: workload(func(*manifest.Spec) {}),
			facts:    host,
			wantErr:  "spec has neither wasm nor container: add spec.wasm.module or spec.container.image",
		},
		{
			name: "invalid runtime",
			workload: workload(func(s *manifest.Spec) {
				s.Runtime = "docker"
				s.Wasm = wasmSection(fx.wasmFile)
			}),
			facts:   host,
			wantErr: `invalid spec.runtime "docker": use auto, wasm or container`,
		},
		{
			name: "zero memory",
			workload: workload(func(s *manifest.Spec) {
				s.Wasm = wasmSection(fx.wasmFile)
				s.Resources.Memory = 0
			}),
			facts:   host,
			wantErr: "invalid spec.resources.memory 0 bytes: use a positive size, e.g. 32Mi",
		},
	})
}

func TestDecideContainerNeeds(t *testing.T) {
	fx := newFixtures(t)
	host := hostFacts(t)
	both := func(edit func(c *manifest.ContainerSpec)) manifest.Workload {
		return workload(func(s *manifest.Spec) {
			s.Wasm = wasmSection(fx.wasmFile)
			s.Container = containerSection(fx.containerArchive)
			edit(s.Container)
		})
	}
	unused := "spec.wasm is not used because the workload needs a container"
	container := func(reason string) Decision {
		return Decision{
			Runtime:  manifest.RuntimeContainer,
			Artifact: fx.containerArchive,
			Reasons:  []string{reason, unused},
			Memory:   32 * mib,
		}
	}

	runDecideCases(t, []decideCase{
		{
			name:     "service mode",
			workload: both(func(c *manifest.ContainerSpec) { c.Mode = manifest.ModeService }),
			facts:    host,
			want:     container("spec.container.mode is service, and only a container runs a long-lived service"),
		},
		{
			name:     "ports",
			workload: both(func(c *manifest.ContainerSpec) { c.Ports = []int{8080} }),
			facts:    host,
			want:     container("spec.container.ports is set, and only a container listens on ports"),
		},
		{
			name:     "devices",
			workload: both(func(c *manifest.ContainerSpec) { c.Devices = []string{"/dev/ttyUSB0"} }),
			facts:    host,
			want:     container("spec.container.devices is set, and only a container can access host devices"),
		},
		{
			name:     "host paths",
			workload: both(func(c *manifest.ContainerSpec) { c.HostPaths = []string{"/var/lib/sensors"} }),
			facts:    host,
			want:     container("spec.container.hostPaths is set, and only a container can mount host paths"),
		},
		{
			name:     "capabilities",
			workload: both(func(c *manifest.ContainerSpec) { c.Capabilities = []string{"CAP_NET_RAW"} }),
			facts:    host,
			want:     container("spec.container.capabilities is set, and only a container has Linux capabilities"),
		},
		{
			name: "service mode and ports, container only",
			workload: workload(func(s *manifest.Spec) {
				s.Container = containerSection(fx.containerArchive)
				s.Container.Mode = manifest.ModeService
				s.Container.Ports = []int{1883}
			}),
			facts: host,
			want: Decision{
				Runtime:  manifest.RuntimeContainer,
				Artifact: fx.containerArchive,
				Reasons: []string{
					"spec.container.mode is service, and only a container runs a long-lived service",
					"spec.container.ports is set, and only a container listens on ports",
				},
				Memory: 32 * mib,
			},
		},
		{
			name:     "service mode with containerd down",
			workload: both(func(c *manifest.ContainerSpec) { c.Mode = manifest.ModeService }),
			facts:    containerdDown(host),
			want: Decision{
				Reasons: []string{
					"containerd is not reachable at " + socketPath + ": " + dialError + ", so the container cannot start now",
					"spec.container.mode is service, and only a container runs a long-lived service",
					unused,
				},
				Memory:  32 * mib,
				Pending: true,
			},
		},
		{
			name: "service mode with a wasm artifact image",
			workload: workload(func(s *manifest.Spec) {
				s.Container = containerSection(fx.wasmArchive)
				s.Container.Mode = manifest.ModeService
			}),
			facts:   host,
			wantErr: "spec.container.image " + fx.wasmArchive + " is a wasm artifact, but spec.container.mode is service: use a container image or remove that setting",
		},
	})
}

func TestDecideHostFacts(t *testing.T) {
	fx := newFixtures(t)
	host := hostFacts(t)
	both := func(concurrency int) manifest.Workload {
		return workload(func(s *manifest.Spec) {
			s.Wasm = wasmSection(fx.wasmFile)
			s.Container = containerSection(fx.containerArchive)
			s.Concurrency = concurrency
		})
	}
	cost := func(wasm, container string) string {
		return "wasm is preferred because it starts in milliseconds without a container process, and it reserves " +
			wasm + " where a container would reserve " + container
	}
	down := "containerd is not reachable at " + socketPath + ": " + dialError

	runDecideCases(t, []decideCase{
		{
			name:     "both sections prefer wasm",
			workload: both(1),
			facts:    host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons:  []string{cost("33 MiB", "32 MiB")},
				Memory:   33 * mib,
			},
		},
		{
			name:     "both sections with containerd down",
			workload: both(1),
			facts:    containerdDown(host),
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons:  []string{cost("33 MiB", "32 MiB"), down + ", so a container could not start now either"},
				Memory:   33 * mib,
			},
		},
		{
			name:     "both sections with budget too small for wasm",
			workload: both(8),
			facts:    withBudget(host, 100*mib),
			want: Decision{
				Runtime:  manifest.RuntimeContainer,
				Artifact: fx.containerArchive,
				Reasons: []string{
					"the wasm reservation of 264 MiB does not fit the 100 MiB of budget free, but the container reservation of 32 MiB does",
					cost("264 MiB", "32 MiB"),
				},
				Memory:   32 * mib,
				Fallback: true,
			},
		},
		{
			name:     "both sections with wasm exactly fitting",
			workload: both(8),
			facts:    withBudget(host, 264*mib),
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons:  []string{cost("264 MiB", "32 MiB")},
				Memory:   264 * mib,
			},
		},
		{
			name:     "both sections with budget too small for either",
			workload: both(1),
			facts:    withBudget(host, 16*mib),
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons: []string{
					cost("33 MiB", "32 MiB"),
					"the wasm reservation of 33 MiB does not fit the 16 MiB of budget free now, so admission will reject it until memory is released",
				},
				Memory: 33 * mib,
			},
		},
		{
			name:     "budget favours a container but containerd is down",
			workload: both(8),
			facts:    containerdDown(withBudget(host, 100*mib)),
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons: []string{
					cost("264 MiB", "32 MiB"),
					down + ", so a container could not start now either",
					"the wasm reservation of 264 MiB does not fit the 100 MiB of budget free now, so admission will reject it until memory is released",
				},
				Memory: 264 * mib,
			},
		},
		{
			name:     "container only with containerd down",
			workload: workload(func(s *manifest.Spec) { s.Container = containerSection(fx.containerArchive) }),
			facts:    containerdDown(host),
			want: Decision{
				Reasons: []string{
					down + ", so the container cannot start now",
					"spec.container.image " + fx.containerArchive + " is a container image and spec.wasm is not set",
				},
				Memory:  32 * mib,
				Pending: true,
			},
		},
		{
			name:     "containerd down without an address",
			workload: workload(func(s *manifest.Spec) { s.Container = containerSection(fx.containerArchive) }),
			facts:    Facts{ContainerdErr: errors.New("disabled"), BudgetFree: BudgetUnknown, Inspector: host.Inspector},
			want: Decision{
				Reasons: []string{
					"containerd is not reachable: disabled, so the container cannot start now",
					"spec.container.image " + fx.containerArchive + " is a container image and spec.wasm is not set",
				},
				Memory:  32 * mib,
				Pending: true,
			},
		},
	})
}

func TestDecideExplicitRuntime(t *testing.T) {
	fx := newFixtures(t)
	host := hostFacts(t)
	explicit := func(runtime manifest.Runtime, wasm, image string) manifest.Workload {
		return workload(func(s *manifest.Spec) {
			s.Runtime = runtime
			if wasm != "" {
				s.Wasm = wasmSection(wasm)
			}
			if image != "" {
				s.Container = containerSection(image)
			}
		})
	}

	runDecideCases(t, []decideCase{
		{
			name:     "wasm honoured",
			workload: explicit(manifest.RuntimeWasm, fx.wasmFile, ""),
			facts:    host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons:  []string{"runtime wasm requested", "spec.wasm.module " + fx.wasmFile + " is a core WebAssembly module"},
				Memory:   33 * mib,
			},
		},
		{
			name: "wasm honoured over a service container",
			workload: workload(func(s *manifest.Spec) {
				s.Runtime = manifest.RuntimeWasm
				s.Wasm = wasmSection(fx.wasmFile)
				s.Container = containerSection(fx.containerArchive)
				s.Container.Mode = manifest.ModeService
			}),
			facts: host,
			want: Decision{
				Runtime:  manifest.RuntimeWasm,
				Artifact: fx.wasmFile,
				Reasons: []string{
					"runtime wasm requested",
					"spec.wasm.module " + fx.wasmFile + " is a core WebAssembly module",
					"spec.container is not used because runtime wasm was requested",
				},
				Memory: 33 * mib,
			},
		},
		{
			name:     "wasm without a wasm section",
			workload: explicit(manifest.RuntimeWasm, "", fx.wasmArchive),
			facts:    host,
			wantErr:  "runtime wasm requested, but spec.wasm is missing: add spec.wasm.module or set spec.runtime to auto",
		},
		{
			name:     "wasm with a broken module",
			workload: explicit(manifest.RuntimeWasm, fx.componentFile, ""),
			facts:    host,
			wantErr:  "spec.wasm.module " + fx.componentFile + " is a WebAssembly component, not a core module: build a core WASI module, e.g. with GOOS=wasip1 GOARCH=wasm",
		},
		{
			name:     "container honoured",
			workload: explicit(manifest.RuntimeContainer, fx.wasmFile, fx.containerArchive),
			facts:    host,
			want: Decision{
				Runtime:  manifest.RuntimeContainer,
				Artifact: fx.containerArchive,
				Reasons:  []string{"runtime container requested"},
				Memory:   32 * mib,
			},
		},
		{
			name:     "container honoured over budget",
			workload: explicit(manifest.RuntimeContainer, "", fx.containerArchive),
			facts:    withBudget(host, 31*mib),
			want: Decision{
				Runtime:  manifest.RuntimeContainer,
				Artifact: fx.containerArchive,
				Reasons: []string{
					"runtime container requested",
					"the container reservation of 32 MiB does not fit the 31 MiB of budget free now, so admission will reject it until memory is released",
				},
				Memory: 32 * mib,
			},
		},
		{
			name:     "container with containerd down",
			workload: explicit(manifest.RuntimeContainer, fx.wasmFile, fx.containerArchive),
			facts:    containerdDown(host),
			want: Decision{
				Reasons: []string{"container requested but containerd is not reachable at " + socketPath + ": " + dialError},
				Memory:  32 * mib,
				Pending: true,
			},
		},
		{
			name:     "container without a container section",
			workload: explicit(manifest.RuntimeContainer, fx.wasmFile, ""),
			facts:    host,
			wantErr:  "runtime container requested, but spec.container is missing: add spec.container.image or set spec.runtime to auto",
		},
		{
			name:     "container with a wasm artifact image",
			workload: explicit(manifest.RuntimeContainer, "", fx.wasmArchive),
			facts:    host,
			wantErr:  "runtime container requested, but spec.container.image " + fx.wasmArchive + " is a wasm artifact: set spec.runtime to wasm or auto",
		},
	})
}
