package ociarchive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociLayoutFile is the content of the "oci-layout" marker file.
const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// writeArchive writes an OCI layout tar with one manifest, named name in
// index.json, and the blobs it references. The file appears at path only
// when complete.
func writeArchive(path, name string, manifestType types.MediaType, platform *v1.Platform, manifest []byte, blobs [][]byte) (retErr error) {
	manifestHash, manifestSize, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return err
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: manifestType,
			Size:      manifestSize,
			Digest:    manifestHash,
			Platform:  platform,
			Annotations: map[string]string{
				AnnotationRefName:        name,
				AnnotationContainerdName: name,
			},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encode index.json: %w", err)
	}

	byDigest := map[string][]byte{manifestHash.Hex: manifest}
	for _, b := range blobs {
		h, _, err := v1.SHA256(bytes.NewReader(b))
		if err != nil {
			return err
		}
		byDigest[h.Hex] = b
	}
	hexes := make([]string, 0, len(byDigest))
	for h := range byDigest {
		hexes = append(hexes, h)
	}
	sort.Strings(hexes)

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create archive %s: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	tw := tar.NewWriter(tmp)
	if err := writeDir(tw, "blobs/"); err != nil {
		return err
	}
	if err := writeDir(tw, "blobs/sha256/"); err != nil {
		return err
	}
	for _, h := range hexes {
		if err := writeBlob(tw, "blobs/sha256/"+h, byDigest[h]); err != nil {
			return err
		}
	}
	if err := writeBlob(tw, "oci-layout", []byte(ociLayoutFile)); err != nil {
		return err
	}
	if err := writeBlob(tw, "index.json", indexJSON); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	return nil
}

func writeDir(tw *tar.Writer, name string) error {
	return tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir,
		Name:     name,
		Mode:     0o755,
		ModTime:  buildTime,
		Format:   tar.FormatPAX,
	})
}

func writeBlob(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o644,
		Size:     int64(len(data)),
		ModTime:  buildTime,
		Format:   tar.FormatPAX,
	}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
