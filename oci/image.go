package oci

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hybridd/hybridd/ociarchive"
)

// ArchivePrefix starts an image reference that names a local OCI archive.
const ArchivePrefix = "oci-archive:"

// Image is an image in containerd's image store, unpacked into the
// client's snapshotter.
type Image struct {
	// Ref is the reference EnsureImage was called with.
	Ref string
	// Name is the image's name in containerd's image store.
	Name string
	// Digest is the digest of the image manifest or index.
	Digest string
}

// EnsureImage makes the image ref available for containers and unpacks it.
//
// A reference "oci-archive:/abs/path.tar" imports an OCI image archive
// (see package ociarchive), named after its index.json annotation. Any
// other reference is pulled from its registry, e.g.
// "docker.io/library/alpine:3.20". Progress lines go to progress, which
// may be nil. StartFunction and StartService accept ref afterwards.
func (c *Client) EnsureImage(ctx context.Context, ref string, progress io.Writer) (Image, error) {
	if progress == nil {
		progress = io.Discard
	}
	ctx = c.nsctx(ctx)
	var (
		img containerd.Image
		err error
	)
	if path, ok := strings.CutPrefix(ref, ArchivePrefix); ok {
		img, err = c.importArchive(ctx, ref, path, progress)
	} else {
		img, err = c.pull(ctx, ref, progress)
	}
	if err != nil {
		return Image{}, err
	}

	unpacked, err := img.IsUnpacked(ctx, c.cfg.Snapshotter)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: check unpacked layers: %w", ref, err)
	}
	if !unpacked {
		fmt.Fprintf(progress, "unpacking %s into %s\n", img.Name(), c.cfg.Snapshotter)
		if err := img.Unpack(ctx, c.cfg.Snapshotter); err != nil {
			return Image{}, fmt.Errorf("image %s: unpack into %s: %w", ref, c.cfg.Snapshotter, err)
		}
	}
	fmt.Fprintf(progress, "image %s ready (%s)\n", img.Name(), img.Target().Digest)
	c.images.Store(ref, img.Name())
	return Image{Ref: ref, Name: img.Name(), Digest: img.Target().Digest.String()}, nil
}

func (c *Client) importArchive(ctx context.Context, ref, path string, progress io.Writer) (containerd.Image, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("image %s: archive path %q is not absolute: use oci-archive:/abs/path.tar: %w", ref, path, errdefs.ErrInvalidArgument)
	}
	info, err := ociarchive.Inspect(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if info.Kind == ociarchive.KindWasm {
		return nil, fmt.Errorf("image %s contains a wasm artifact, not a container image: run it with the wasm runtime: %w", ref, errdefs.ErrInvalidArgument)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	defer f.Close()

	fmt.Fprintf(progress, "importing %s\n", path)
	imported, err := c.ctr.Import(ctx, f,
		// An archive without a name annotation gets one from its digest.
		containerd.WithSkipDigestRef(func(name string) bool { return name != "" }),
		containerd.WithDigestRef(func(d digest.Digest) string { return "import.hybridd.local/" + d.Encoded()[:12] + "@" + d.String() }),
	)
	if err != nil {
		return nil, fmt.Errorf("image %s: import: %w", ref, err)
	}
	var chosen *images.Image
	for i := range imported {
		if chosen == nil || matchesHost(imported[i].Target) {
			chosen = &imported[i]
		}
	}
	if chosen == nil {
		return nil, fmt.Errorf("image %s: archive contains no image: %w", ref, errdefs.ErrNotFound)
	}
	fmt.Fprintf(progress, "imported %s (%s)\n", chosen.Name, chosen.Target.Digest)
	return containerd.NewImageWithPlatform(c.ctr, *chosen, platforms.Default()), nil
}

func matchesHost(desc ocispec.Descriptor) bool {
	return desc.Platform != nil && platforms.Default().Match(*desc.Platform)
}

func (c *Client) pull(ctx context.Context, ref string, progress io.Writer) (containerd.Image, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %v (use e.g. docker.io/library/alpine:3.20 or oci-archive:/abs/path.tar): %w", ref, err, errdefs.ErrInvalidArgument)
	}
	fmt.Fprintf(progress, "pulling %s\n", named)
	report := images.HandlerFunc(func(_ context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		fmt.Fprintf(progress, "fetching %s %s (%d bytes)\n", desc.Digest, desc.MediaType, desc.Size)
		return nil, nil
	})
	img, err := c.ctr.Pull(ctx, named.String(),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(c.cfg.Snapshotter),
		containerd.WithImageHandler(report))
	if err != nil {
		return nil, fmt.Errorf("pull image %s: %w", ref, err)
	}
	return img, nil
}

// resolveImage returns the containerd image for a reference passed to
// EnsureImage, or for an image name already in the store.
func (c *Client) resolveImage(ctx context.Context, ref string) (containerd.Image, error) {
	name := ref
	if n, ok := c.images.Load(ref); ok {
		name = n.(string)
	}
	img, err := c.ctr.GetImage(ctx, name)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("image %s not found in containerd namespace %s: call EnsureImage first: %w", ref, c.cfg.Namespace, err)
		}
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}
