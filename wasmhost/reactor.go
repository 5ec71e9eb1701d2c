package wasmhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// instance is one warm reactor instance with its stdout buffer.
type instance struct {
	guest     api.Module
	onMessage api.Function
	stdout    *limitedBuffer
	sleeper   *sleeper
	stack     []uint64 // parameters and result of hybridd_on_message
}

// startPool creates the command call slots or the warm reactor instances.
func (m *Module) startPool(ctx context.Context) (retErr error) {
	if m.kind == KindCommand {
		m.commandSlots = newFIFOPool(make([]struct{}, m.cfg.Concurrency))
		return nil
	}

	instances := make([]*instance, 0, m.cfg.Concurrency)
	defer func() {
		if retErr != nil {
			for _, inst := range instances {
				_ = inst.guest.Close(ctx)
			}
		}
	}()
	for range m.cfg.Concurrency {
		inst, err := m.newInstance(ctx)
		if err != nil {
			return err
		}
		instances = append(instances, inst)
	}
	if err := m.checkABIVersion(ctx, instances[0]); err != nil {
		return err
	}
	m.instances = newFIFOPool(instances)
	return nil
}

// stopPool rejects new calls and waits for the ones under way, then closes
// the idle reactor instances. The runtime closes whatever is left.
func (m *Module) stopPool(ctx context.Context) {
	if m.kind == KindCommand {
		m.commandSlots.close()
		m.commandSlots.drain(ctx, m.cfg.Concurrency)
		return
	}
	m.instances.close()
	for _, inst := range m.instances.drain(ctx, m.cfg.Concurrency) {
		if inst != nil {
			_ = inst.guest.Close(ctx)
		}
	}
}

// newInstance instantiates the reactor and runs its _initialize export, if
// any, under the module's timeout.
func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	initCtx, cancel := m.callContext(ctx)
	defer cancel()
	initCtx = experimental.WithMemoryAllocator(initCtx, &m.memory)

	stdout := &limitedBuffer{limit: MaxOutputBytes}
	sleeper := &sleeper{ctx: initCtx}
	guest, err := m.runtime.InstantiateModule(initCtx, m.compiled, m.baseModuleConfig(sleeper).WithStdout(stdout))
	if err != nil {
		return nil, fmt.Errorf("instantiate reactor %q: %w", m.cfg.Name, classifyCallError(initCtx, err))
	}

	if initialize := guest.ExportedFunction(exportInitialize); initialize != nil {
		if _, err := initialize.Call(initCtx); err != nil {
			_ = guest.Close(ctx)
			return nil, fmt.Errorf("run %s of reactor %q: %w", exportInitialize, m.cfg.Name, classifyCallError(initCtx, err))
		}
	}
	onMessage := guest.ExportedFunction(exportOnMessage)
	return &instance{guest: guest, onMessage: onMessage, stdout: stdout, sleeper: sleeper, stack: make([]uint64, 2)}, nil
}

// checkABIVersion calls hybridd_abi_version once, on the first instance.
func (m *Module) checkABIVersion(ctx context.Context, inst *instance) error {
	version := inst.guest.ExportedFunction(exportABIVersion)
	if version == nil {
		return fmt.Errorf("reactor %q does not export %s: build it with the hybridd SDK or export the function as docs/abi.md describes", m.cfg.Name, exportABIVersion)
	}

	callCtx, cancel := m.callContext(ctx)
	defer cancel()
	inst.sleeper.ctx = callCtx
	results, err := version.Call(callCtx)
	if err != nil {
		return fmt.Errorf("call %s of reactor %q: %w", exportABIVersion, m.cfg.Name, classifyCallError(callCtx, err))
	}
	if len(results) != 1 || api.DecodeI32(results[0]) != ABIVersion {
		return fmt.Errorf("reactor %q uses hybridd ABI version %v, but this host supports only version %d: rebuild it with a matching SDK", m.cfg.Name, results, ABIVersion)
	}
	return nil
}

// invokeReactor hands one message to a warm instance. An instance that
// traps, times out or exits is discarded and replaced before its slot is
// returned to the pool.
func (m *Module) invokeReactor(ctx context.Context, in Input) (Output, error) {
	inst, err := m.instances.get(ctx)
	if err != nil {
		return Output{}, err
	}
	if inst == nil {
		// An earlier replacement failed, so this slot is empty.
		if inst, err = m.newInstance(ctx); err != nil {
			m.instances.put(nil)
			return Output{}, err
		}
	}

	out, status, err := m.callOnMessage(ctx, inst, in)
	if err != nil {
		m.instances.put(m.replace(ctx, inst, err))
		return out, err
	}
	overflow := inst.stdout.overflow
	m.instances.put(inst)

	if status != StatusOK {
		return out, &ExitError{Code: status}
	}
	if overflow {
		return out, fmt.Errorf("stdout over %d bytes: %w", MaxOutputBytes, ErrOutputLimit)
	}
	return out, nil
}

// callOnMessage calls hybridd_on_message and returns its status. A non-nil
// error means the instance is no longer usable.
func (m *Module) callOnMessage(ctx context.Context, inst *instance, in Input) (Output, uint32, error) {
	callCtx, cancel := m.callContext(ctx)
	defer cancel()
	state := &callState{input: in, budget: MaxOutputBytes}
	callCtx = withCallState(callCtx, state)
	inst.sleeper.ctx = callCtx

	inst.stdout.reset()
	inst.stack[0] = api.EncodeU32(uint32(len(in.Topic)))
	inst.stack[1] = api.EncodeU32(uint32(len(in.Payload)))
	err := inst.onMessage.CallWithStack(callCtx, inst.stack)

	out := Output{Published: state.published}
	if inst.stdout.buf.Len() > 0 {
		out.Stdout = append([]byte(nil), inst.stdout.buf.Bytes()...)
	}
	if err != nil {
		if classified := classifyCallError(callCtx, err); classified != nil {
			return out, 0, classified
		}
		// proc_exit(0) closed the instance.
		return out, 0, &ExitError{Code: 0}
	}
	return out, api.DecodeU32(inst.stack[0]), nil
}

// replace closes a broken instance and returns a new one. It returns nil if
// the new one cannot be created, and the next call on that slot tries again.
func (m *Module) replace(ctx context.Context, broken *instance, cause error) *instance {
	_ = broken.guest.Close(context.WithoutCancel(ctx))
	if errors.Is(cause, ErrClosed) || m.closed.Load() {
		return nil
	}

	fresh, err := m.newInstance(context.WithoutCancel(ctx))
	if err != nil {
		m.warnLimited("replace reactor instance failed", "cause", cause, "error", err)
		return nil
	}
	m.warnLimited("reactor instance replaced", "cause", cause)
	return fresh
}
