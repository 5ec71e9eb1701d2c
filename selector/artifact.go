package selector

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// wasmMagic starts every WebAssembly binary, core module or component.
var wasmMagic = []byte{0x00, 'a', 's', 'm'}

// The 32-bit field after the magic is the version of a core module. The
// component model splits it into a 16-bit version and a 16-bit layer, and
// sets the layer to 1, so a core module has layer 0.
const (
	coreModuleVersion = 1
	componentLayer    = 1
)

// wasmSource is a wasm module that the wasm runtime can load.
type wasmSource struct {
	ref    string // a file path or an OCI reference
	reason string // a description, e.g. "spec.wasm.module /m.wasm is a core WebAssembly module"
}

// wasmModule checks spec.wasm.module. An absolute path is a file checked by
// its header. Anything else ("oci-archive:PATH" or a registry reference) is
// an OCI artifact checked by the inspector.
func (d *decider) wasmModule() (wasmSource, error) {
	module := d.spec.Wasm.Module
	if filepath.IsAbs(module) {
		if err := checkWasmFile(module); err != nil {
			return wasmSource{}, err
		}
		return wasmSource{ref: module, reason: fmt.Sprintf("spec.wasm.module %s is a core WebAssembly module", module)}, nil
	}

	kind, err := d.inspect("spec.wasm.module", module)
	if err != nil {
		return wasmSource{}, err
	}
	if kind != ArtifactWasm {
		return wasmSource{}, fmt.Errorf("spec.wasm.module %s is a container image, not a wasm artifact: move it to spec.container.image", module)
	}
	return wasmSource{ref: module, reason: fmt.Sprintf("spec.wasm.module %s is a wasm artifact", module)}, nil
}

// imageKind inspects spec.container.image.
func (d *decider) imageKind() (ArtifactKind, error) {
	return d.inspect("spec.container.image", d.spec.Container.Image)
}

// inspect returns the kind of ref, which the manifest sets in field, from
// the inspector in Facts.
//
// TODO: an inspector error for a registry reference may be temporary (the
// registry is unreachable), but Decide reports every inspector error as Err
// until the inspector marks temporary failures.
func (d *decider) inspect(field, ref string) (ArtifactKind, error) {
	if d.facts.Inspector == nil {
		return 0, fmt.Errorf("inspect %s %s: no ArtifactInspector in the selector facts", field, ref)
	}
	kind, err := d.facts.Inspector.Inspect(ref)
	if err != nil {
		return 0, fmt.Errorf("inspect %s %s: %w", field, ref, err)
	}
	if kind != ArtifactWasm && kind != ArtifactContainer {
		return 0, fmt.Errorf("inspect %s %s: unknown artifact kind %v", field, ref, kind)
	}
	return kind, nil
}

// checkWasmFile returns an error unless path starts with the header of a
// core WebAssembly module, binary format version 1.
func checkWasmFile(path string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read spec.wasm.module: %w", err)
	}
	defer file.Close()

	header := make([]byte, 8)
	_, err = io.ReadFull(file, header)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return notWasmError(path)
	}
	if err != nil {
		return fmt.Errorf("read spec.wasm.module: %w", err)
	}
	if !bytes.Equal(header[:4], wasmMagic) {
		return notWasmError(path)
	}

	version := binary.LittleEndian.Uint16(header[4:6])
	layer := binary.LittleEndian.Uint16(header[6:8])
	if layer == componentLayer {
		return fmt.Errorf("spec.wasm.module %s is a WebAssembly component, not a core module: build a core WASI module, e.g. with GOOS=wasip1 GOARCH=wasm", path)
	}
	if layer != 0 || version != coreModuleVersion {
		return fmt.Errorf("spec.wasm.module %s has WebAssembly binary version %d: only version 1 is supported", path, binary.LittleEndian.Uint32(header[4:8]))
	}
	return nil
}

func notWasmError(path string) error {
	return fmt.Errorf("spec.wasm.module %s is not a WebAssembly module because it does not start with \\0asm: build it for WASI, e.g. with GOOS=wasip1 GOARCH=wasm", path)
}
