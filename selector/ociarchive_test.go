package selector

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

// Media types of wasm artifacts: the config type of the CNCF TAG Runtime
// "Wasm OCI Artifact" layout, and the layer type that OCI image tools use
// for a plain module.
const (
	wasmConfigMediaType types.MediaType = "application/vnd.wasm.config.v0+json"
	wasmLayerMediaType  types.MediaType = "application/wasm"
)

// archiveInspector is an ArtifactInspector for tests that reads real OCI
// archives: "oci-archive:PATH", where PATH is a tar of an OCI image layout
// holding one image. It supports no registry references.
type archiveInspector struct {
	scratch string // a directory to unpack archives into
}

func (i archiveInspector) Inspect(ref string) (ArtifactKind, error) {
	path, ok := strings.CutPrefix(ref, "oci-archive:")
	if !ok {
		return 0, fmt.Errorf("test inspector reads only oci-archive references, not %s", ref)
	}
	dir, err := os.MkdirTemp(i.scratch, "layout")
	if err != nil {
		return 0, err
	}
	if err := untar(path, dir); err != nil {
		return 0, err
	}

	manifest, err := readOnlyManifest(dir)
	if err != nil {
		return 0, err
	}
	if manifest.Config.MediaType == wasmConfigMediaType {
		return ArtifactWasm, nil
	}
	for _, layer := range manifest.Layers {
		if layer.MediaType == wasmLayerMediaType {
			return ArtifactWasm, nil
		}
	}
	return ArtifactContainer, nil
}

func readOnlyManifest(dir string) (*v1.Manifest, error) {
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	indexManifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(indexManifest.Manifests) != 1 {
		return nil, fmt.Errorf("layout holds %d images, expected 1", len(indexManifest.Manifests))
	}
	image, err := index.Image(indexManifest.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	return image.Manifest()
}

// untar unpacks the regular files and directories of the tar at path into dir.
func untar(path, dir string) error {
	archive, err := os.Open(path)
	if err != nil {
		return err
	}
	defer archive.Close()

	reader := tar.NewReader(archive)
	for {
		header, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(header.Name) {
			return fmt.Errorf("tar entry %q leaves the layout directory", header.Name)
		}
		target := filepath.Join(dir, header.Name)
		switch header.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeEntry(target, reader)
		}
		if err != nil {
			return err
		}
	}
}

func writeEntry(target string, content io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	file, err := os.Create(target)
	if err != nil {
		return err
	}
	if _, err := io.Copy(file, content); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// writeOCIArchive writes image as an OCI image layout packed in a tar file
// and returns its "oci-archive:PATH" reference.
func writeOCIArchive(t *testing.T, image v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	layoutPath, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, layoutPath.AppendImage(image))

	archivePath := filepath.Join(t.TempDir(), "image.tar")
	require.NoError(t, tarDirectory(dir, archivePath))
	return "oci-archive:" + archivePath
}

func tarDirectory(dir, archivePath string) error {
	var buffer bytes.Buffer
	writer := tar.NewWriter(&buffer)
	if err := writer.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	if err := writer.Close(); err != nil {
		return err
	}
	return os.WriteFile(archivePath, buffer.Bytes(), fs.FileMode(0o644))
}

// wasmArtifact returns an OCI image whose only layer is module.
func wasmArtifact(t *testing.T, module []byte) v1.Image {
	t.Helper()
	image := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	image = mutate.ConfigMediaType(image, wasmConfigMediaType)
	image, err := mutate.Append(image, mutate.Addendum{Layer: static.NewLayer(module, wasmLayerMediaType)})
	require.NoError(t, err)
	return image
}

// containerImage returns an OCI image with one uncompressed layer holding a
// shell script.
func containerImage(t *testing.T) v1.Image {
	t.Helper()
	var layer bytes.Buffer
	writer := tar.NewWriter(&layer)
	script := []byte("#!/bin/sh\ncat\n")
	require.NoError(t, writer.WriteHeader(&tar.Header{Name: "handler.sh", Mode: 0o755, Size: int64(len(script))}))
	_, err := writer.Write(script)
	require.NoError(t, err)
	require.NoError(t, writer.Close())

	image := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	image = mutate.ConfigMediaType(image, types.OCIConfigJSON)
	image, err = mutate.Append(image, mutate.Addendum{Layer: static.NewLayer(layer.Bytes(), types.OCIUncompressedLayer)})
	require.NoError(t, err)
	return image
}
