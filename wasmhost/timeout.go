package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// instantiateInterruptModule adds the host module that instrumented guests
// import, interruptModuleName, to rt.
func instantiateInterruptModule(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(interruptModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(checkInterrupt), nil, nil).
		Export(interruptFunctionName).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate host module %q: %w", interruptModuleName, err)
	}
	return nil
}

// checkInterrupt ends the guest call when the call's context is done or its
// deadline has passed. It compares the deadline with the clock itself, so
// that the call ends even before the context's timer has run. It also ends
// the call of an instance that was closed meanwhile, as Module.Close does
// when its context ends, with exit code 0, the code that wazero's
// Runtime.Close uses.
//
// Returning normally also matters: the guest entered Go code, where the
// scheduler and a stop-the-world phase of the garbage collector can preempt
// its goroutine.
func checkInterrupt(ctx context.Context, mod api.Module, _ []uint64) {
	if code, done := interruptCode(ctx); done {
		exitGuest(ctx, mod, code)
	}
	if mod.IsClosed() {
		panic(sys.NewExitError(0))
	}
}

// exitGuest closes mod and unwinds the guest call, as WASI proc_exit does.
// wazero returns the *sys.ExitError that the panic carries as the call's
// error, which classifyCallError maps back to ErrTimeout or the context's
// error.
func exitGuest(ctx context.Context, mod api.Module, code uint32) {
	_ = mod.CloseWithExitCode(context.WithoutCancel(ctx), code)
	panic(sys.NewExitError(code))
}

// interruptCode returns the wazero exit code for a call context that is
// done or past its deadline, and false while the call may go on.
func interruptCode(ctx context.Context) (uint32, bool) {
	switch err := ctx.Err(); {
	case errors.Is(err, context.DeadlineExceeded):
		return sys.ExitCodeDeadlineExceeded, true
	case err != nil:
		return sys.ExitCodeContextCanceled, true
	case deadlinePassed(ctx):
		return sys.ExitCodeDeadlineExceeded, true
	}
	return 0, false
}

// deadlinePassed reports whether ctx has a deadline that has passed, even
// if the context's timer has not yet fired.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// sleeper implements the guest's sleep (WASI poll_oneoff on a clock), which
// the loop checks cannot cut short because the guest waits inside Go code.
// A sleep ends early, and ends the call, when ctx is done.
//
// ctx is the context of the call under way. A command call creates its own
// sleeper. A reactor instance keeps one, and each call sets ctx before it
// runs guest code, in the goroutine that then runs the guest, so the field
// needs no lock.
type sleeper struct {
	ctx context.Context
}

func (s *sleeper) sleep(ns int64) {
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	timer := time.NewTimer(time.Duration(ns))
	defer timer.Stop()

	select {
	case <-timer.C:
	case <-ctx.Done():
		// The caller discards the instance after this error.
		code, _ := interruptCode(ctx)
		panic(sys.NewExitError(code))
	}
}
