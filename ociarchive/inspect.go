package ociarchive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Kind is the kind of image an archive contains.
type Kind string

const (
	KindContainer Kind = "container"
	KindWasm      Kind = "wasm"
)

// Info describes the image an archive holds.
type Info struct {
	Kind Kind
	// Name is the image reference from index.json (AnnotationContainerdName
	// or AnnotationRefName), empty when the archive names none.
	Name string
	// Digest is the digest of the image manifest, e.g. "sha256:...".
	Digest string
	// MediaType is the media type of the image manifest.
	MediaType       string
	ConfigMediaType string
	LayerMediaTypes []string
	// Platform is "os/arch[/variant]" from the index or the image config,
	// empty when neither sets it.
	Platform string
}

// maxMetadataBlob bounds the blobs read into memory while looking for
// manifests and configs. Manifests and configs are a few KiB.
const maxMetadataBlob = 4 << 20

// maxWasmModule bounds the module ReadWasm returns.
const maxWasmModule = 256 << 20

// archive is the metadata read from an archive: the chosen image manifest
// and the small blobs.
type archive struct {
	manifest v1.Manifest
	blobs    map[string][]byte
}

// Inspect reads the index and the image manifest of the archive at path
// and reports whether it is a wasm artifact or a container image. When
// the index lists several images, the one for linux/GOARCH or wasm is
// chosen, otherwise the first.
//
// An image is wasm when its config media type is MediaTypeWasmConfig with
// an application/wasm layer, when a layer has the older
// MediaTypeWasmLayerLegacy type, or when its platform is wasi*/wasm. Any
// other image is a container image.
func Inspect(path string) (Info, error) {
	_, info, err := open(path)
	return info, err
}

func open(archivePath string) (*archive, Info, error) {
	index, blobs, err := readMetadata(archivePath)
	if err != nil {
		return nil, Info{}, err
	}
	desc, err := chooseManifest(archivePath, index, blobs, 0)
	if err != nil {
		return nil, Info{}, err
	}
	raw, ok := blobs[desc.Digest.String()]
	if !ok {
		return nil, Info{}, fmt.Errorf("archive %s: manifest blob %s is missing", archivePath, desc.Digest)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, Info{}, fmt.Errorf("archive %s: invalid manifest %s: %w", archivePath, desc.Digest, err)
	}

	info := Info{
		Name:            desc.Annotations[AnnotationContainerdName],
		Digest:          desc.Digest.String(),
		MediaType:       string(desc.MediaType),
		ConfigMediaType: string(m.Config.MediaType),
	}
	if info.Name == "" {
		info.Name = desc.Annotations[AnnotationRefName]
	}
	for _, l := range m.Layers {
		info.LayerMediaTypes = append(info.LayerMediaTypes, string(l.MediaType))
	}
	platform := desc.Platform
	if platform == nil {
		platform = configPlatform(blobs[m.Config.Digest.String()])
	}
	if platform != nil {
		info.Platform = platform.String()
	}
	info.Kind = classify(m, platform)
	return &archive{manifest: m, blobs: blobs}, info, nil
}

func classify(m v1.Manifest, platform *v1.Platform) Kind {
	hasWasmLayer := false
	for _, l := range m.Layers {
		switch l.MediaType {
		case MediaTypeWasmLayerLegacy:
			return KindWasm
		case MediaTypeWasmLayer:
			hasWasmLayer = true
		}
	}
	if m.Config.MediaType == MediaTypeWasmConfig && hasWasmLayer {
		return KindWasm
	}
	if platform != nil && platform.Architecture == "wasm" && strings.HasPrefix(platform.OS, "wasi") {
		return KindWasm
	}
	return KindContainer
}

// configPlatform reads os and architecture from a config blob, nil when
// the blob is missing or names neither.
func configPlatform(config []byte) *v1.Platform {
	if config == nil {
		return nil
	}
	var p v1.Platform
	if err := json.Unmarshal(config, &p); err != nil || p.OS == "" {
		return nil
	}
	return &p
}

// chooseManifest follows index.json, and nested indexes up to a small
// depth, to one image manifest descriptor.
func chooseManifest(archivePath string, index v1.IndexManifest, blobs map[string][]byte, depth int) (v1.Descriptor, error) {
	if depth > 4 {
		return v1.Descriptor{}, fmt.Errorf("archive %s: image indexes nest deeper than 4 levels", archivePath)
	}
	var images []v1.Descriptor
	for _, d := range index.Manifests {
		switch {
		case d.MediaType.IsImage():
			images = append(images, d)
		case d.MediaType.IsIndex():
			raw, ok := blobs[d.Digest.String()]
			if !ok {
				continue
			}
			var nested v1.IndexManifest
			if err := json.Unmarshal(raw, &nested); err != nil {
				return v1.Descriptor{}, fmt.Errorf("archive %s: invalid image index %s: %w", archivePath, d.Digest, err)
			}
			if desc, err := chooseManifest(archivePath, nested, blobs, depth+1); err == nil {
				if desc.Annotations == nil {
					desc.Annotations = d.Annotations
				}
				images = append(images, desc)
			}
		}
	}
	if len(images) == 0 {
		return v1.Descriptor{}, fmt.Errorf("archive %s: index.json lists no image manifest", archivePath)
	}
	for _, d := range images {
		if p := d.Platform; p != nil && ((p.OS == "linux" && p.Architecture == runtime.GOARCH) || p.Architecture == "wasm") {
			return d, nil
		}
	}
	return images[0], nil
}

// readMetadata reads index.json and every blob up to maxMetadataBlob
// bytes from the archive in one pass.
func readMetadata(archivePath string) (v1.IndexManifest, map[string][]byte, error) {
	var index v1.IndexManifest
	f, err := os.Open(archivePath)
	if err != nil {
		return index, nil, fmt.Errorf("open OCI archive: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if head, _ := br.Peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		return index, nil, fmt.Errorf("%s is gzip-compressed: decompress it to a plain tar of an OCI image layout", archivePath)
	}

	blobs := map[string][]byte{}
	var indexJSON []byte
	tr := tar.NewReader(br)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return index, nil, fmt.Errorf("%s is not a tar archive of an OCI image layout: %w", archivePath, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		switch {
		case name == "index.json":
			if indexJSON, err = readLimited(tr, maxMetadataBlob); err != nil {
				return index, nil, fmt.Errorf("archive %s: index.json: %w", archivePath, err)
			}
		case strings.HasPrefix(name, "blobs/") && hdr.Size <= maxMetadataBlob:
			parts := strings.Split(name, "/")
			if len(parts) != 3 {
				continue
			}
			data, err := readLimited(tr, maxMetadataBlob)
			if err != nil {
				return index, nil, fmt.Errorf("archive %s: %s: %w", archivePath, name, err)
			}
			blobs[parts[1]+":"+parts[2]] = data
		}
	}
	if indexJSON == nil {
		return index, nil, fmt.Errorf("archive %s has no index.json: it is not an OCI image layout (docker save archives are not supported)", archivePath)
	}
	if err := json.Unmarshal(indexJSON, &index); err != nil {
		return index, nil, fmt.Errorf("archive %s: invalid index.json: %w", archivePath, err)
	}
	return index, blobs, nil
}

// readBlob reads one blob from the archive and checks its size and digest.
func readBlob(archivePath string, desc v1.Descriptor) ([]byte, error) {
	if desc.Size > maxWasmModule {
		return nil, fmt.Errorf("archive %s: blob %s is %d bytes, more than the limit of %d", archivePath, desc.Digest, desc.Size, maxWasmModule)
	}
	f, err := os.Open(archivePath)
	if err != nil {
		return nil, fmt.Errorf("open OCI archive: %w", err)
	}
	defer f.Close()
	want := "blobs/" + desc.Digest.Algorithm + "/" + desc.Digest.Hex
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("archive %s: blob %s is missing", archivePath, desc.Digest)
		}
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", archivePath, err)
		}
		if path.Clean(strings.TrimPrefix(hdr.Name, "./")) != want {
			continue
		}
		data, err := readLimited(tr, maxWasmModule)
		if err != nil {
			return nil, fmt.Errorf("archive %s: blob %s: %w", archivePath, desc.Digest, err)
		}
		got, _, err := v1.SHA256(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if got != desc.Digest || int64(len(data)) != desc.Size {
			return nil, fmt.Errorf("archive %s: blob %s has digest %s and size %d, expected size %d: the archive is corrupt", archivePath, desc.Digest, got, len(data), desc.Size)
		}
		return data, nil
	}
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}
