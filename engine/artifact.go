package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hybridd/hybridd/manifest"
)

// archivePrefix marks an OCI image archive reference in a manifest.
const archivePrefix = "oci-archive:"

// artifactPaths returns the local files a spec refers to.
func artifactPaths(spec manifest.Spec) []string {
	var paths []string
	if spec.Wasm != nil {
		paths = append(paths, strings.TrimPrefix(spec.Wasm.Module, archivePrefix))
	}
	if spec.Container != nil && strings.HasPrefix(spec.Container.Image, archivePrefix) {
		paths = append(paths, strings.TrimPrefix(spec.Container.Image, archivePrefix))
	}
	return paths
}

// newRecord copies the workload's artifact files into the store, points the
// spec at the copies and computes the digest.
func (s *store) newRecord(w manifest.Workload) (*record, error) {
	spec := w.Spec
	if spec.Wasm != nil {
		wasm := *spec.Wasm
		path, err := s.importRef(wasm.Module)
		if err != nil {
			return nil, fmt.Errorf("%s: spec.wasm.module: %w", w.Name, err)
		}
		wasm.Module = path
		spec.Wasm = &wasm
	}
	if spec.Container != nil && strings.HasPrefix(spec.Container.Image, archivePrefix) {
		container := *spec.Container
		path, err := s.importRef(container.Image)
		if err != nil {
			return nil, fmt.Errorf("%s: spec.container.image: %w", w.Name, err)
		}
		container.Image = path
		spec.Container = &container
	}
	w.Spec = spec

	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: encode spec: %w", w.Name, err)
	}
	sum := sha256.Sum256(data)
	return &record{Workload: w, Digest: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// importRef imports a file path or an "oci-archive:PATH" reference and
// returns the same kind of reference to the copy.
func (s *store) importRef(ref string) (string, error) {
	prefix := ""
	path := ref
	if strings.HasPrefix(ref, archivePrefix) {
		prefix, path = archivePrefix, strings.TrimPrefix(ref, archivePrefix)
	}
	copyPath, _, err := s.importArtifact(path)
	if err != nil {
		return "", err
	}
	return prefix + copyPath, nil
}
