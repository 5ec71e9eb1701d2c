package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tetratelabs/wazero"
)

// Config configures a Host.
type Config struct {
	// CacheDir is the directory of the on-disk compilation cache, created if
	// missing. Compiled code stored there survives a daemon restart, so a
	// module is compiled once per wazero version and binary. Empty keeps the
	// cache in memory only.
	CacheDir string

	// Logger receives the host's own events: loads, closes and replaced
	// instances. Nil discards them. Guest output goes to ModuleConfig.Log.
	Logger *slog.Logger
}

// Host loads and runs WebAssembly modules. It is safe for concurrent use.
type Host struct {
	cache  wazero.CompilationCache
	logger *slog.Logger

	// instrument is instrumentInterrupt. Tests replace it to exercise the
	// fallback for modules that it rejects.
	instrument func(wasm []byte) ([]byte, error)

	mu      sync.Mutex
	modules map[*Module]struct{}
	closed  bool
}

// New creates a Host whose modules share one compilation cache. Close it to
// release the cache.
func New(ctx context.Context, cfg Config) (*Host, error) {
	_ = ctx // reserved for I/O a future cache may do when it opens

	cache := wazero.NewCompilationCache()
	if cfg.CacheDir != "" {
		var err error
		cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("open compilation cache in %q: %w (set Config.CacheDir to a writable directory)", cfg.CacheDir, err)
		}
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Host{cache: cache, logger: logger, instrument: instrumentInterrupt, modules: map[*Module]struct{}{}}, nil
}

// Close closes every module still loaded, waiting for their calls as
// Module.Close does, and then the compilation cache. Calling it again does
// nothing.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	modules := make([]*Module, 0, len(h.modules))
	for m := range h.modules {
		modules = append(modules, m)
	}
	h.mu.Unlock()

	var errs []error
	for _, m := range modules {
		errs = append(errs, m.Close(ctx))
	}
	if err := h.cache.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close compilation cache: %w", err))
	}
	return errors.Join(errs...)
}

// runtimeConfig returns the wazero configuration of one module's runtime.
//
// An instrumented module ends its own calls at the timeout (see
// instrumentInterrupt), so it runs without WithCloseOnContextDone, which
// makes every loop iteration call into the Go runtime and costs over 20
// times a short iteration (BenchmarkGuestLoop). closeOnContextDone is the
// fallback for a module that the instrumentation rejects.
//
// Neither mechanism needs a free P, a host-wide limit on running guests or
// a raised GOMAXPROCS: both enter Go code from every loop, directly or
// every checkInterval iterations, where the goroutine can be preempted.
func (h *Host) runtimeConfig(memoryLimitPages uint32, closeOnContextDone bool) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(memoryLimitPages).
		WithCloseOnContextDone(closeOnContextDone)
}

func (h *Host) track(m *Module) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	h.modules[m] = struct{}{}
	return nil
}

func (h *Host) untrack(m *Module) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.modules, m)
}
