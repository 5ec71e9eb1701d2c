package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ociArchivePrefix marks an artifact that is an OCI image layout archive
// on disk, as in "oci-archive:sensor-logger.tar".
const ociArchivePrefix = "oci-archive:"

// localArtifact resolves a file path from the manifest, with or without the
// oci-archive: prefix, against the manifest's directory and checks that
// the file exists. It returns the value with an absolute path.
func (d *decoder) localArtifact(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("must not be empty (name a file, or %sPATH for an OCI archive)", ociArchivePrefix)
	}
	path, archive := strings.CutPrefix(s, ociArchivePrefix)
	if path == "" {
		return "", fmt.Errorf("%s needs a path, as in %ssensor-logger.tar", ociArchivePrefix, ociArchivePrefix)
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(d.dir, abs)
	}
	abs = filepath.Clean(abs)
	if err := checkFile(abs); err != nil {
		return "", err
	}
	if archive {
		return ociArchivePrefix + abs, nil
	}
	return abs, nil
}

// checkFile returns an error unless path names an existing regular file,
// or a link to one.
func checkFile(path string) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("file not found: %s (relative paths start at the manifest's directory)", path)
	case err != nil:
		return fmt.Errorf("cannot read %s: %w", path, err)
	case info.IsDir():
		return fmt.Errorf("%s is a directory (name a file)", path)
	}
	return nil
}

// wasm reads spec.wasm.
func (d *decoder) wasm(f *fields) *WasmSpec {
	v, ok := d.get(f, "wasm")
	if !ok {
		return nil
	}
	section := d.mapping(v, "spec.wasm", "module")
	if section == nil {
		return nil
	}
	mv, ok := d.get(section, "module")
	if !section.has("module") {
		d.missing(section.node, "spec.wasm", "module", "add the path of a .wasm file, e.g. module: threshold-alert.wasm")
		return nil
	}
	if !ok {
		return nil
	}
	module, ok := d.str(mv, "spec.wasm.module")
	if !ok {
		return nil
	}
	resolved, err := d.localArtifact(module)
	if err != nil {
		d.errorf(mv.at, "spec.wasm.module", "%v", err)
		return nil
	}
	return &WasmSpec{Module: resolved}
}
