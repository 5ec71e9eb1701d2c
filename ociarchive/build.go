// Package ociarchive builds and reads OCI image archives: a tar of an OCI
// image layout (oci-layout, index.json and blobs/sha256/...), as described
// by the OCI image spec v1.1 "image-layout" document.
//
// Build packs static binaries into a container image and BuildWasm packs a
// WebAssembly module into a wasm artifact, both without Docker or a
// registry and byte for byte reproducible for the same inputs and Go
// toolchain. Inspect distinguishes the two kinds and ReadWasm returns the
// module of a wasm artifact.
package ociarchive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotation keys written into index.json. containerd's Import names the
// imported image after AnnotationContainerdName when present and after
// AnnotationRefName otherwise.
const (
	AnnotationRefName        = "org.opencontainers.image.ref.name"
	AnnotationContainerdName = "io.containerd.image.name"
)

// buildTime is the timestamp of every file, layer entry and config in a
// built archive, so that equal inputs give equal bytes.
var buildTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// File is one host file copied into an image.
type File struct {
	// Source is the path of a regular file on the host.
	Source string
	// Dest is the absolute path inside the image, e.g. "/bin/probe".
	Dest string
	// Mode is the permission bits inside the image. Zero keeps the
	// permission bits of Source.
	Mode fs.FileMode
}

// Image describes a container image built from host files.
type Image struct {
	// Name is the image reference stored in index.json, e.g.
	// "hybridd.local/probe:latest". Default: "hybridd.local/" followed by
	// the archive's file name without extension, and the tag "latest".
	Name  string
	Files []File
	// Entrypoint, Cmd, Env and User fill the image config. Env entries are
	// "KEY=value"; User is "uid[:gid]" or empty.
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	// Platform is "os/arch[/variant]". Default "linux/" + runtime.GOARCH.
	Platform string
}

// Build writes a container image archive to path. Every directory above
// a file's Dest is created in the single layer, owned by root with mode
// 0755. The archive is written to a temporary file first and renamed, so
// path never holds a partial archive.
func Build(path string, img Image) error {
	if len(img.Files) == 0 {
		return fmt.Errorf("image for %s has no files: add at least one SOURCE:DEST file", path)
	}
	platform, err := parsePlatform(img.Platform)
	if err != nil {
		return err
	}
	name, err := imageName(img.Name, path)
	if err != nil {
		return err
	}
	layerTar, err := layerTar(img.Files)
	if err != nil {
		return err
	}

	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return fmt.Errorf("build layer: %w", err)
	}
	image, err := containerImage(img, platform, layer)
	if err != nil {
		return err
	}

	manifest, err := image.RawManifest()
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	config, err := image.RawConfigFile()
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	compressed, err := layer.Compressed()
	if err != nil {
		return fmt.Errorf("compress layer: %w", err)
	}
	layerBlob, err := io.ReadAll(compressed)
	compressed.Close()
	if err != nil {
		return fmt.Errorf("compress layer: %w", err)
	}

	return writeArchive(path, name, types.OCIManifestSchema1, platform, manifest, [][]byte{config, layerBlob})
}

// containerImage assembles the OCI image from one layer and the config.
func containerImage(img Image, platform *v1.Platform, layer v1.Layer) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	withLayer, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: buildTime},
			CreatedBy: "hybridd ociarchive.Build",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cfg, err := withLayer.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Created = v1.Time{Time: buildTime}
	cfg.OS = platform.OS
	cfg.Architecture = platform.Architecture
	cfg.Variant = platform.Variant
	cfg.Config.Entrypoint = img.Entrypoint
	cfg.Config.Cmd = img.Cmd
	cfg.Config.Env = img.Env
	cfg.Config.User = img.User
	out, err := mutate.ConfigFile(withLayer, cfg)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return out, nil
}

// layerTar returns an uncompressed tar holding files and their parent
// directories, sorted by path, with fixed owners and times.
func layerTar(files []File) ([]byte, error) {
	dirs := map[string]bool{}
	dests := map[string]bool{}
	for i, f := range files {
		if f.Source == "" {
			return nil, fmt.Errorf("file %d: empty source path", i)
		}
		dest := path.Clean(f.Dest)
		if !path.IsAbs(f.Dest) || dest == "/" {
			return nil, fmt.Errorf("file %s: destination %q must be an absolute path below /, e.g. /bin/app", f.Source, f.Dest)
		}
		if dests[dest] {
			return nil, fmt.Errorf("file %s: destination %q is used twice", f.Source, dest)
		}
		dests[dest] = true
		for d := path.Dir(dest); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if dests[d] {
			return nil, fmt.Errorf("destination %q is both a file and a parent directory", d)
		}
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	sortedDirs := make([]string, 0, len(dirs))
	for d := range dirs {
		sortedDirs = append(sortedDirs, d)
	}
	sort.Strings(sortedDirs)
	for _, d := range sortedDirs {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir,
			Name:     strings.TrimPrefix(d, "/") + "/",
			Mode:     0o755,
			ModTime:  buildTime,
			Format:   tar.FormatPAX,
		}); err != nil {
			return nil, err
		}
	}

	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return path.Clean(sorted[i].Dest) < path.Clean(sorted[j].Dest) })
	for _, f := range sorted {
		if err := addFile(tw, f); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func addFile(tw *tar.Writer, f File) error {
	info, err := os.Stat(f.Source)
	if err != nil {
		return fmt.Errorf("source file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("source %s is not a regular file (mode %s)", f.Source, info.Mode())
	}
	data, err := os.ReadFile(f.Source)
	if err != nil {
		return fmt.Errorf("source file: %w", err)
	}
	mode := f.Mode.Perm()
	if mode == 0 {
		mode = info.Mode().Perm()
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(path.Clean(f.Dest), "/"),
		Mode:     int64(mode),
		Size:     int64(len(data)),
		ModTime:  buildTime,
		Format:   tar.FormatPAX,
	}); err != nil {
		return err
	}
	_, err = tw.Write(data)
	return err
}

func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		return &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" || p.OSVersion != "" {
		return nil, fmt.Errorf("invalid platform %q: use os/arch[/variant], e.g. linux/%s", s, runtime.GOARCH)
	}
	return p, nil
}

// imageName returns name, or a default derived from the archive path.
func imageName(name, archivePath string) (string, error) {
	if name != "" {
		if strings.ContainsAny(name, " \t\n") {
			return "", fmt.Errorf("invalid image name %q: use a reference such as hybridd.local/app:latest", name)
		}
		return name, nil
	}
	base := strings.TrimSuffix(filepath.Base(archivePath), filepath.Ext(archivePath))
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	repo := strings.Trim(b.String(), ".-_")
	if repo == "" {
		repo = "image"
	}
	return "hybridd.local/" + repo + ":latest", nil
}
