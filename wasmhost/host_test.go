package wasmhost

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostCacheSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wasm := fixture(t, "echo")

	countFiles := func() int {
		n := 0
		require.NoError(t, filepathWalk(dir, func() { n++ }))
		return n
	}

	first, err := New(ctx, Config{CacheDir: dir})
	require.NoError(t, err)
	m, err := first.Load(ctx, wasm, ModuleConfig{Name: "echo"})
	require.NoError(t, err)
	require.NoError(t, first.Close(ctx))
	assert.ErrorIs(t, func() error { _, err := m.Invoke(ctx, Input{}); return err }(), ErrClosed)
	cached := countFiles()
	require.Positive(t, cached, "compiled code written to the cache directory")

	// A new host on the same directory, as after a daemon restart, finds the
	// compiled code and writes nothing new.
	second, err := New(ctx, Config{CacheDir: dir})
	require.NoError(t, err)
	defer second.Close(ctx)
	m, err = second.Load(ctx, wasm, ModuleConfig{Name: "echo"})
	require.NoError(t, err)
	out, err := m.Invoke(ctx, Input{Payload: []byte("after restart")})
	require.NoError(t, err)
	assert.Equal(t, "after restart", string(out.Stdout))
	assert.Equal(t, cached, countFiles())
}

// filepathWalk calls count once for each regular file under dir.
func filepathWalk(dir string, count func()) error {
	return filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			count()
		}
		return err
	})
}
