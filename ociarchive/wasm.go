package ociarchive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of WebAssembly artifacts. The v0 config with application/wasm
// layers is the CNCF TAG Runtime "Wasm OCI Artifact" layout; the v1 layer
// type is the older layout written by wasm-to-oci.
const (
	MediaTypeWasmConfig      = "application/vnd.wasm.config.v0+json"
	MediaTypeWasmLayer       = "application/wasm"
	MediaTypeWasmLayerLegacy = "application/vnd.wasm.content.layer.v1+wasm"
)

// wasmMagic starts every WebAssembly binary module: "\0asm".
var wasmMagic = []byte{0x00, 0x61, 0x73, 0x6d}

// wasmConfig is the config blob of a wasm artifact. LayerDigests repeats
// the layer digests so that two artifacts never share a config digest.
type wasmConfig struct {
	Created      string   `json:"created"`
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	LayerDigests []string `json:"layerDigests"`
}

// BuildWasm writes a wasm artifact archive to path holding the module in
// wasmFile as its single application/wasm layer. The image is named after
// the archive's file name, as in Build. Only core modules are accepted
// (the config names os "wasip1"); components are rejected.
func BuildWasm(path string, wasmFile string) error {
	module, err := os.ReadFile(wasmFile)
	if err != nil {
		return fmt.Errorf("wasm module: %w", err)
	}
	if err := checkModule(wasmFile, module); err != nil {
		return err
	}
	name, err := imageName("", path)
	if err != nil {
		return err
	}

	layerHash, layerSize, err := v1.SHA256(bytes.NewReader(module))
	if err != nil {
		return err
	}
	config, err := json.Marshal(wasmConfig{
		Created:      buildTime.Format("2006-01-02T15:04:05Z"),
		Architecture: "wasm",
		OS:           "wasip1",
		LayerDigests: []string{layerHash.String()},
	})
	if err != nil {
		return fmt.Errorf("encode wasm config: %w", err)
	}
	configHash, configSize, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return err
	}
	manifest, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{
			MediaType: MediaTypeWasmConfig,
			Size:      configSize,
			Digest:    configHash,
		},
		Layers: []v1.Descriptor{{
			MediaType: MediaTypeWasmLayer,
			Size:      layerSize,
			Digest:    layerHash,
		}},
	})
	if err != nil {
		return fmt.Errorf("encode wasm manifest: %w", err)
	}
	platform := &v1.Platform{OS: "wasip1", Architecture: "wasm"}
	return writeArchive(path, name, types.OCIManifestSchema1, platform, manifest, [][]byte{config, module})
}

// checkModule rejects data that is not a WebAssembly core module (version 1).
func checkModule(name string, data []byte) error {
	if len(data) < 8 || !bytes.Equal(data[:4], wasmMagic) {
		return fmt.Errorf("%s is not a WebAssembly module: it does not start with \\0asm", name)
	}
	if !bytes.Equal(data[4:8], []byte{1, 0, 0, 0}) {
		return fmt.Errorf("%s is a WebAssembly component or an unknown version (% x): only core modules are supported", name, data[4:8])
	}
	return nil
}

// ReadWasm returns the module bytes of the wasm artifact in the archive at
// path, after checking them against the layer digest. Images whose wasm
// platform comes with tar layers (built for containerd's runwasi shims)
// are rejected, because their module is a file inside a layer.
func ReadWasm(path string) ([]byte, error) {
	a, info, err := open(path)
	if err != nil {
		return nil, err
	}
	if info.Kind != KindWasm {
		return nil, fmt.Errorf("archive %s contains a container image, not a wasm artifact: run it with runtime container", path)
	}
	var layer *v1.Descriptor
	for i := range a.manifest.Layers {
		mt := a.manifest.Layers[i].MediaType
		if mt == MediaTypeWasmLayer || mt == MediaTypeWasmLayerLegacy {
			layer = &a.manifest.Layers[i]
			break
		}
	}
	if layer == nil {
		// TODO: extract the module from a tar layer of a wasi/wasm
		// platform image; no tool of this project writes such images yet.
		return nil, fmt.Errorf("archive %s: wasm image has no %s layer (layers: %v)", path, MediaTypeWasmLayer, info.LayerMediaTypes)
	}
	module, err := readBlob(path, *layer)
	if err != nil {
		return nil, err
	}
	if err := checkModule(fmt.Sprintf("archive %s layer %s", path, layer.Digest), module); err != nil {
		return nil, err
	}
	return module, nil
}
