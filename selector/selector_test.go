package selector

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hybridd/hybridd/manifest"
)

const (
	mib        = int64(1) << 20
	socketPath = "/run/containerd/containerd.sock"
	dialError  = "dial unix /run/containerd/containerd.sock: connect: no such file or directory"
)

// Headers of WebAssembly binaries: a core module of version 1 (the whole
// of an empty module), a component (version 0x0d, layer 1), and a core
// module of a version that does not exist.
var (
	coreModule    = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	componentWasm = []byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}
	version2Wasm  = []byte{0x00, 'a', 's', 'm', 0x02, 0x00, 0x00, 0x00}
)

// fixtures are the artifacts the test workloads refer to, written into a
// temporary directory.
type fixtures struct {
	dir              string
	wasmFile         string
	componentFile    string
	version2File     string
	scriptFile       string
	shortFile        string
	missingFile      string
	wasmArchive      string // "oci-archive:PATH" of a wasm artifact
	containerArchive string // "oci-archive:PATH" of a container image
	missingArchive   string
}

func newFixtures(t *testing.T) fixtures {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, content, 0o644))
		return path
	}
	return fixtures{
		dir:              dir,
		wasmFile:         write("threshold-alert.wasm", coreModule),
		componentFile:    write("component.wasm", componentWasm),
		version2File:     write("future.wasm", version2Wasm),
		scriptFile:       write("handler.sh", []byte("#!/bin/sh\ncat\n")),
		shortFile:        write("truncated.wasm", []byte{0x00, 'a', 's'}),
		missingFile:      filepath.Join(dir, "missing.wasm"),
		wasmArchive:      writeOCIArchive(t, wasmArtifact(t, coreModule)),
		containerArchive: writeOCIArchive(t, containerImage(t)),
		missingArchive:   "oci-archive:" + filepath.Join(dir, "missing.tar"),
	}
}

// workload returns a workload with the manifest's defaults (runtime auto,
// 32 MiB, concurrency 1) changed by edit.
func workload(edit func(spec *manifest.Spec)) manifest.Workload {
	spec := manifest.Spec{
		Runtime:     manifest.RuntimeAuto,
		Resources:   manifest.Resources{Memory: 32 * mib},
		Concurrency: 1,
	}
	edit(&spec)
	return manifest.Workload{Name: "co2-alert", Spec: spec}
}

func wasmSection(module string) *manifest.WasmSpec {
	return &manifest.WasmSpec{Module: module}
}

func containerSection(image string) *manifest.ContainerSpec {
	return &manifest.ContainerSpec{Image: image, Mode: manifest.ModeFunction}
}

// hostFacts returns facts with containerd reachable and the budget unknown.
func hostFacts(t *testing.T) Facts {
	return Facts{
		ContainerdAddress: socketPath,
		BudgetFree:        BudgetUnknown,
		Inspector:         archiveInspector{scratch: t.TempDir()},
	}
}

func containerdDown(facts Facts) Facts {
	facts.ContainerdErr = errors.New(dialError)
	return facts
}

func withBudget(facts Facts, free int64) Facts {
	facts.BudgetFree = free
	return facts
}

// inspectorFunc adapts a function to ArtifactInspector.
type inspectorFunc func(ref string) (ArtifactKind, error)

func (f inspectorFunc) Inspect(ref string) (ArtifactKind, error) { return f(ref) }

func TestArtifactKindString(t *testing.T) {
	assert.Equal(t, "wasm", ArtifactWasm.String())
	assert.Equal(t, "container", ArtifactContainer.String())
	assert.Equal(t, "ArtifactKind(7)", ArtifactKind(7).String())
}

func TestReservations(t *testing.T) {
	tests := []struct {
		name          string
		memory        int64
		concurrency   int
		wantWasm      int64
		wantContainer int64
		wantErr       string
	}{
		{name: "one instance", memory: 32 * mib, concurrency: 1, wantWasm: 33 * mib, wantContainer: 32 * mib},
		{name: "four instances", memory: 16 * mib, concurrency: 4, wantWasm: 68 * mib, wantContainer: 16 * mib},
		{name: "zero memory", memory: 0, concurrency: 1, wantErr: "invalid spec.resources.memory 0 bytes: use a positive size, e.g. 32Mi"},
		{name: "zero concurrency", memory: mib, concurrency: 0, wantErr: "invalid spec.concurrency 0: use 1 or more"},
		{
			name: "overflow", memory: math.MaxInt64 / 2, concurrency: 2,
			wantErr: "spec.resources.memory 4611686018427387903 bytes times spec.concurrency 2 overflows: lower one of them",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := manifest.Spec{Resources: manifest.Resources{Memory: tt.memory}, Concurrency: tt.concurrency}

			got, err := reservations(spec)

			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantWasm, got.wasm)
			assert.Equal(t, tt.wantContainer, got.container)
		})
	}
}
