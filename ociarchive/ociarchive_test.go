package ociarchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// module is the smallest valid WebAssembly core module: magic and version.
var module = []byte("\x00asm\x01\x00\x00\x00")

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o755))
	return p
}

// entries lists the names and contents of a tar file.
func entries(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(tr)
		out[hdr.Name] = buf.Bytes()
	}
	return out
}

func TestBuildContainerImage(t *testing.T) {
	bin := writeFile(t, "app", []byte("#!fake binary"))
	out := filepath.Join(t.TempDir(), "My App.tar")
	require.NoError(t, Build(out, Image{
		Files:      []File{{Source: bin, Dest: "/usr/bin/app", Mode: 0o700}},
		Entrypoint: []string{"/usr/bin/app"},
		Env:        []string{"A=1"},
		User:       "1000:1000",
	}))

	info, err := Inspect(out)
	require.NoError(t, err)
	assert.Equal(t, KindContainer, info.Kind)
	assert.Equal(t, "hybridd.local/my-app:latest", info.Name)
	assert.Equal(t, "linux/"+runtime.GOARCH, info.Platform)
	assert.Equal(t, string(types.OCIConfigJSON), info.ConfigMediaType)
	assert.Equal(t, []string{string(types.OCILayer)}, info.LayerMediaTypes)

	files := entries(t, out)
	assert.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(files["oci-layout"]))
	var index v1.IndexManifest
	require.NoError(t, json.Unmarshal(files["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	assert.Equal(t, "hybridd.local/my-app:latest", index.Manifests[0].Annotations[AnnotationRefName])
	// Every blob is stored under its own SHA-256.
	for name, data := range files {
		if dir, hex := filepath.Split(name); dir == "blobs/sha256/" && hex != "" {
			assert.Equal(t, hex, fmt.Sprintf("%x", sha256.Sum256(data)), name)
		}
	}
	assert.Equal(t, fmt.Sprintf("sha256:%x", sha256.Sum256(files["blobs/sha256/"+index.Manifests[0].Digest.Hex])), info.Digest)

	var manifest v1.Manifest
	require.NoError(t, json.Unmarshal(files["blobs/sha256/"+index.Manifests[0].Digest.Hex], &manifest))
	var config v1.ConfigFile
	require.NoError(t, json.Unmarshal(files["blobs/sha256/"+manifest.Config.Digest.Hex], &config))
	assert.Equal(t, []string{"/usr/bin/app"}, config.Config.Entrypoint)
	assert.Equal(t, []string{"A=1"}, config.Config.Env)
	assert.Equal(t, "1000:1000", config.Config.User)
	assert.Equal(t, buildTime, config.Created.UTC())
}

func TestBuildReproducible(t *testing.T) {
	bin := writeFile(t, "app", bytes.Repeat([]byte("binary"), 10_000))
	img := Image{Name: "hybridd.local/app:1", Files: []File{{Source: bin, Dest: "/app"}}}
	a := filepath.Join(t.TempDir(), "a.tar")
	b := filepath.Join(t.TempDir(), "b.tar")
	require.NoError(t, Build(a, img))
	require.NoError(t, os.Chtimes(bin, buildTime.AddDate(10, 0, 0), buildTime.AddDate(10, 0, 0)))
	require.NoError(t, Build(b, img))
	rawA, err := os.ReadFile(a)
	require.NoError(t, err)
	rawB, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(rawA), sha256.Sum256(rawB))
}

func TestBuildErrors(t *testing.T) {
	bin := writeFile(t, "app", []byte("x"))
	out := filepath.Join(t.TempDir(), "out.tar")
	cases := []struct {
		name string
		img  Image
		want string
	}{
		{"no files", Image{}, "has no files"},
		{"relative dest", Image{Files: []File{{Source: bin, Dest: "bin/app"}}}, `destination "bin/app" must be an absolute path`},
		{"duplicate dest", Image{Files: []File{{Source: bin, Dest: "/a"}, {Source: bin, Dest: "/a"}}}, `destination "/a" is used twice`},
		{"file as dir", Image{Files: []File{{Source: bin, Dest: "/a"}, {Source: bin, Dest: "/a/b"}}}, `destination "/a" is both a file and a parent directory`},
		{"missing source", Image{Files: []File{{Source: "/no/such/file", Dest: "/a"}}}, "/no/such/file"},
		{"bad platform", Image{Files: []File{{Source: bin, Dest: "/a"}}, Platform: "linux"}, `invalid platform "linux"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorContains(t, Build(out, tc.img), tc.want)
			_, err := os.Stat(out)
			assert.ErrorIs(t, err, os.ErrNotExist, "no partial archive is left")
		})
	}
}

func TestBuildWasmAndRead(t *testing.T) {
	mod := writeFile(t, "filter.wasm", module)
	out := filepath.Join(t.TempDir(), "filter.tar")
	require.NoError(t, BuildWasm(out, mod))

	info, err := Inspect(out)
	require.NoError(t, err)
	assert.Equal(t, KindWasm, info.Kind)
	assert.Equal(t, MediaTypeWasmConfig, info.ConfigMediaType)
	assert.Equal(t, []string{MediaTypeWasmLayer}, info.LayerMediaTypes)
	assert.Equal(t, "wasip1/wasm", info.Platform)

	got, err := ReadWasm(out)
	require.NoError(t, err)
	assert.Equal(t, module, got)

	assert.ErrorContains(t, BuildWasm(out, writeFile(t, "x.wasm", []byte("not wasm"))), "is not a WebAssembly module")
	assert.ErrorContains(t, BuildWasm(out, writeFile(t, "c.wasm", []byte("\x00asm\x0d\x00\x01\x00"))), "component")
}

// buildManifest writes an archive with one manifest of the given config
// and layer media types, the way other tools lay out wasm images.
func buildManifest(t *testing.T, configType, layerType string, platform *v1.Platform) string {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	if platform != nil {
		config = []byte(fmt.Sprintf(`{"architecture":%q,"os":%q}`, platform.Architecture, platform.OS))
	}
	configHash, configSize, err := v1.SHA256(bytes.NewReader(config))
	require.NoError(t, err)
	layerHash, layerSize, err := v1.SHA256(bytes.NewReader(module))
	require.NoError(t, err)
	manifest, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.MediaType(configType), Size: configSize, Digest: configHash},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(layerType), Size: layerSize, Digest: layerHash}},
	})
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "image.tar")
	require.NoError(t, writeArchive(out, "example.com/x:1", types.OCIManifestSchema1, nil, manifest, [][]byte{config, module}))
	return out
}

func TestInspectKinds(t *testing.T) {
	cases := []struct {
		name       string
		configType string
		layerType  string
		platform   *v1.Platform
		want       Kind
	}{
		{"tag runtime layout", MediaTypeWasmConfig, MediaTypeWasmLayer, nil, KindWasm},
		{"older wasm-to-oci layer", "application/vnd.wasm.config.v1+json", MediaTypeWasmLayerLegacy, nil, KindWasm},
		{"wasi platform image", string(types.OCIConfigJSON), string(types.OCILayer), &v1.Platform{OS: "wasip1", Architecture: "wasm"}, KindWasm},
		{"wasi platform legacy os", string(types.OCIConfigJSON), string(types.OCILayer), &v1.Platform{OS: "wasi", Architecture: "wasm"}, KindWasm},
		{"container image", string(types.OCIConfigJSON), string(types.OCILayer), nil, KindContainer},
		{"wasm layer without wasm config", string(types.OCIConfigJSON), MediaTypeWasmLayer, nil, KindContainer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Inspect(buildManifest(t, tc.configType, tc.layerType, tc.platform))
			require.NoError(t, err)
			assert.Equal(t, tc.want, info.Kind)
			assert.Equal(t, "example.com/x:1", info.Name)
		})
	}

	got, err := ReadWasm(buildManifest(t, "application/vnd.wasm.config.v1+json", MediaTypeWasmLayerLegacy, nil))
	require.NoError(t, err)
	assert.Equal(t, module, got, "ReadWasm reads the older layer type too")
}

func TestInspectErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.tar")
	_, err := Inspect(missing)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, missing)

	text := writeFile(t, "notes.tar", bytes.Repeat([]byte("this is not a tar file\n"), 40))
	_, err = Inspect(text)
	assert.ErrorContains(t, err, text+" is not a tar archive of an OCI image layout")

	gz := writeFile(t, "img.tar.gz", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	_, err = Inspect(gz)
	assert.ErrorContains(t, err, "is gzip-compressed")

	noIndex := filepath.Join(t.TempDir(), "docker.tar")
	writeTar(t, noIndex, map[string]string{"manifest.json": "[]"})
	_, err = Inspect(noIndex)
	assert.ErrorContains(t, err, "has no index.json")

	empty := filepath.Join(t.TempDir(), "empty.tar")
	writeTar(t, empty, map[string]string{"oci-layout": ociLayoutFile, "index.json": `{"schemaVersion":2,"manifests":[]}`})
	_, err = Inspect(empty)
	assert.EqualError(t, err, "archive "+empty+": index.json lists no image manifest")

	bin := writeFile(t, "app", []byte("x"))
	container := filepath.Join(t.TempDir(), "c.tar")
	require.NoError(t, Build(container, Image{Files: []File{{Source: bin, Dest: "/app"}}}))
	_, err = ReadWasm(container)
	assert.ErrorContains(t, err, "contains a container image, not a wasm artifact")
}

func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}
