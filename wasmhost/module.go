package wasmhost

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Kind is the calling convention of a module, detected from its exports.
type Kind int

const (
	// KindCommand is a WASI command module: it exports _start and runs
	// once per message in a fresh instance.
	KindCommand Kind = iota + 1
	// KindReactor exports hybridd_on_message and no _start: warm instances
	// handle one message per call and keep their state.
	KindReactor
)

func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "command"
	case KindReactor:
		return "reactor"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Module is a loaded module, ready to be invoked. It is safe for concurrent
// use.
type Module struct {
	host     *Host
	cfg      ModuleConfig
	kind     Kind
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	// instrumented is false for a module that instrumentInterrupt rejected,
	// which then runs with WithCloseOnContextDone.
	instrumented bool
	logger       *slog.Logger // host events
	guestLog     *slog.Logger // hybridd.log messages, written to cfg.Log
	stderr       *lockedWriter

	memory memoryCounter
	denied atomic.Uint64
	warned atomic.Int64 // unix nanoseconds of the last rate-limited warning

	commandSlots *fifoPool[struct{}]
	instances    *fifoPool[*instance] // a nil item is a slot to refill
	closed       atomic.Bool

	// calls is held for reading by every Invoke, so that Close can wait
	// for the calls under way before it closes the runtime under them.
	calls sync.RWMutex
	// closing is cancelled by Close to cut off the calls still under way.
	closing   context.Context
	stopCalls context.CancelFunc
}

// callContext returns the context of one guest call: ctx bounded by the
// module's timeout, and cancelled when Close cuts off running calls.
func (m *Module) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	callCtx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	stop := context.AfterFunc(m.closing, cancel)
	return callCtx, func() {
		stop()
		cancel()
	}
}

// Load compiles a module and prepares it to run. For a reactor it creates
// Concurrency warm instances. The returned module must be closed.
//
// Load rejects a module that is not a command or a reactor, that imports
// anything but WASI preview 1 functions and the hybridd host functions, or
// whose declared minimum memory exceeds cfg.MemoryLimit.
func (h *Host) Load(ctx context.Context, wasm []byte, cfg ModuleConfig) (_ *Module, retErr error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	info, err := inspectModule(wasm)
	if err != nil {
		return nil, fmt.Errorf("module %q: %w", cfg.Name, err)
	}
	kind, err := info.kind()
	if err != nil {
		return nil, fmt.Errorf("module %q: %w", cfg.Name, err)
	}
	pages, err := memoryLimitPages(cfg.MemoryLimit)
	if err != nil {
		return nil, fmt.Errorf("module %q: %w", cfg.Name, err)
	}
	if info.memoryMinPages > uint64(pages) {
		return nil, fmt.Errorf("module %q declares a minimum linear memory of %d bytes (%d pages), above its memory limit of %d bytes: raise the memory limit to at least %d bytes (%dKi)",
			cfg.Name, info.memoryMinPages*wasmPageSize, info.memoryMinPages, uint64(pages)*wasmPageSize,
			info.memoryMinPages*wasmPageSize, info.memoryMinPages*64)
	}

	started := time.Now()
	m := &Module{
		host:   h,
		cfg:    cfg,
		kind:   kind,
		logger: h.logger.With("workload", cfg.Name, "runtime", "wasm"),
		stderr: &lockedWriter{w: cfg.Log},
	}
	m.closing, m.stopCalls = context.WithCancel(context.Background())
	m.guestLog = slog.New(slog.NewTextHandler(m.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wasm = m.instrument(wasm)
	m.runtime = wazero.NewRuntimeWithConfig(ctx, h.runtimeConfig(pages, !m.instrumented))
	defer func() {
		if retErr != nil {
			_ = m.runtime.Close(ctx)
		}
	}()

	if err := m.instantiateImports(ctx); err != nil {
		return nil, err
	}
	if err := m.checkImports(info.imports); err != nil {
		return nil, err
	}
	// Compile functions on every core: Go modules hold thousands of them.
	compileCtx := experimental.WithCompilationWorkers(ctx, goruntime.GOMAXPROCS(0))
	if m.compiled, err = m.runtime.CompileModule(compileCtx, wasm); err != nil {
		return nil, fmt.Errorf("compile module %q: %w", cfg.Name, err)
	}
	if err := m.startPool(ctx); err != nil {
		return nil, err
	}
	if err := h.track(m); err != nil {
		m.stopPool(ctx)
		return nil, err
	}

	m.logger.Info("wasm module loaded", "kind", kind.String(), "duration", time.Since(started))
	return m, nil
}

// instrument returns wasm with the timeout checks of instrumentInterrupt and
// sets m.instrumented. If the instrumentation fails, it logs why and
// returns wasm unchanged, to run with WithCloseOnContextDone.
func (m *Module) instrument(wasm []byte) []byte {
	instrumented, err := m.host.instrument(wasm)
	if err != nil {
		m.logger.Warn("wasm module not instrumented, so loops run slower under WithCloseOnContextDone", "error", err)
		return wasm
	}
	m.instrumented = true
	return instrumented
}

// kind detects a command or a reactor from the exports.
func (info *moduleInfo) kind() (Kind, error) {
	if kind, ok := info.exports["_start"]; ok && kind == externFunc {
		return KindCommand, nil
	}
	if kind, ok := info.exports[exportOnMessage]; ok && kind == externFunc {
		return KindReactor, nil
	}
	return 0, fmt.Errorf("module exports neither _start (a WASI command) nor %s (a hybridd reactor): build it as a WASI command or a reactor using the hybridd ABI", exportOnMessage)
}

// instantiateImports adds WASI preview 1 and the hybridd host module to the
// module's runtime.
func (m *Module) instantiateImports(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, m.runtime); err != nil {
		return fmt.Errorf("instantiate WASI for module %q: %w", m.cfg.Name, err)
	}
	if err := m.instantiateHostModule(ctx); err != nil {
		return fmt.Errorf("instantiate host module %q for module %q: %w", hostModuleName, m.cfg.Name, err)
	}
	if m.instrumented {
		if err := instantiateInterruptModule(ctx, m.runtime); err != nil {
			return fmt.Errorf("module %q: %w", m.cfg.Name, err)
		}
	}
	return nil
}

// checkImports rejects every import that is not a function exported by WASI
// preview 1 or the hybridd host module.
func (m *Module) checkImports(imports []importEntry) error {
	for _, imp := range imports {
		if imp.module != wasi_snapshot_preview1.ModuleName && imp.module != hostModuleName {
			return fmt.Errorf("module %q imports %s %s.%s, which this host does not provide: import only from %s and %s",
				m.cfg.Name, externNames[imp.kind], imp.module, imp.name, wasi_snapshot_preview1.ModuleName, hostModuleName)
		}
		if imp.kind != externFunc {
			return fmt.Errorf("module %q imports %s %s.%s, but %s provides only functions",
				m.cfg.Name, externNames[imp.kind], imp.module, imp.name, imp.module)
		}
		if _, ok := m.runtime.Module(imp.module).ExportedFunctionDefinitions()[imp.name]; !ok {
			return fmt.Errorf("module %q imports function %s.%s, which this host does not provide: known functions are %v",
				m.cfg.Name, imp.module, imp.name, m.exportedNames(imp.module))
		}
	}
	return nil
}

func (m *Module) exportedNames(module string) []string {
	var names []string
	for name := range m.runtime.Module(module).ExportedFunctionDefinitions() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// baseModuleConfig is the sandbox every instance starts from: no files, no
// sockets, clocks and crypto/rand enabled, and the configured environment.
// Guest sleeps go through sleeper, so that they end with the call.
func (m *Module) baseModuleConfig(sleeper *sleeper) wazero.ModuleConfig {
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous, so that instances can run side by side
		WithArgs(m.cfg.Name).
		WithStderr(m.stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(sleeper.sleep).
		WithRandSource(rand.Reader).
		WithStartFunctions()

	keys := make([]string, 0, len(m.cfg.Env))
	for key := range m.cfg.Env {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		cfg = cfg.WithEnv(key, m.cfg.Env[key])
	}
	return cfg
}

// Kind returns whether the module is a command or a reactor.
func (m *Module) Kind() Kind { return m.kind }

// MemoryBytes returns the sum of the linear memory sizes of the module's live
// instances: the warm pool of a reactor, or the command calls under way.
func (m *Module) MemoryBytes() uint64 { return uint64(max(m.memory.bytes.Load(), 0)) }

// Denied returns how many publish calls AllowPublish has rejected.
func (m *Module) Denied() uint64 { return m.denied.Load() }

// Invoke hands one message to the module and returns what it wrote and
// published. It waits, in arrival order, while Concurrency calls are under
// way.
//
// The error is an *ExitError, a *TrapError, ErrTimeout, ErrOutputLimit or
// ErrClosed, wrapped with the module name, or ctx's error.
func (m *Module) Invoke(ctx context.Context, in Input) (Output, error) {
	m.calls.RLock()
	defer m.calls.RUnlock()
	if m.closed.Load() {
		return Output{}, fmt.Errorf("module %q: %w", m.cfg.Name, ErrClosed)
	}

	var (
		out Output
		err error
	)
	if m.kind == KindCommand {
		out, err = m.invokeCommand(ctx, in)
	} else {
		out, err = m.invokeReactor(ctx, in)
	}
	if err != nil && m.closing.Err() != nil {
		err = ErrClosed // Close cut the call off.
	}
	if err != nil {
		out.Published = nil
		return out, fmt.Errorf("module %q: %w", m.cfg.Name, err)
	}
	return out, nil
}

// Close stops new calls, waits until the calls under way end or ctx is
// done, and releases the module's instances and runtime. Calls still running
// when ctx ends are cut off with ErrClosed, and Close waits for them to
// return before it closes the runtime, which must not happen under a
// running call. Calling it again does nothing.
func (m *Module) Close(ctx context.Context) error {
	if m.closed.Swap(true) {
		return nil
	}
	m.stopPool(ctx)
	m.stopCalls()
	m.calls.Lock() // Cut-off calls return at their next check.
	m.calls.Unlock()
	m.host.untrack(m)

	if err := m.runtime.Close(ctx); err != nil {
		return fmt.Errorf("close module %q: %w", m.cfg.Name, err)
	}
	m.logger.Info("wasm module closed")
	return nil
}

// warnLimited logs a warning at most once a second per module, because
// per-message failures would otherwise flood the log.
func (m *Module) warnLimited(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := m.warned.Load()
	if now-last < int64(time.Second) || !m.warned.CompareAndSwap(last, now) {
		return
	}
	m.logger.Warn(msg, args...)
}
