package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// ErrTimeout is returned, wrapped, when a call runs past the module's
// timeout. errors.Is(err, context.DeadlineExceeded) also holds for it.
var ErrTimeout error = timeoutError{}

// ErrOutputLimit is returned, wrapped, when a guest writes more than
// MaxOutputBytes to stdout or publishes more than that in one call.
var ErrOutputLimit = errors.New("guest output exceeds the limit")

// ErrClosed is returned by Invoke on a closed module or host.
var ErrClosed = errors.New("wasm module is closed")

type timeoutError struct{}

func (timeoutError) Error() string { return "wasm call timed out" }

// Is makes errors.Is(ErrTimeout, context.DeadlineExceeded) true.
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// ExitError is a call that ended with a non-zero code. Code is the exit code
// of a command module (or of a reactor that called proc_exit), or the
// non-zero status that a reactor's hybridd_on_message returned.
type ExitError struct {
	Code uint32
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("guest exited with code %d", e.Code)
}

// TrapError is a call that the guest aborted with a WebAssembly trap, such as
// unreachable, an out-of-bounds memory access, an integer division by zero
// or a call stack overflow. Err is wazero's error, including the guest's
// stack trace.
type TrapError struct {
	Err error
}

// Error returns the first line of wazero's message, without the stack trace.
func (e *TrapError) Error() string {
	msg, _, _ := strings.Cut(e.Err.Error(), "\n")
	return "guest trapped: " + msg
}

func (e *TrapError) Unwrap() error { return e.Err }

// classifyCallError converts an error from a wazero call into ExitError,
// TrapError, ErrTimeout or the context's error. callCtx is the context the
// call ran under. A nil or exit-code-0 error becomes nil.
func classifyCallError(callCtx context.Context, err error) error {
	if err == nil {
		return nil
	}

	var exit *sys.ExitError
	if !errors.As(err, &exit) {
		return &TrapError{Err: err}
	}

	switch code := exit.ExitCode(); {
	case code == 0:
		return nil
	case code == sys.ExitCodeDeadlineExceeded && deadlinePassed(callCtx):
		return ErrTimeout
	case code == sys.ExitCodeContextCanceled && errors.Is(callCtx.Err(), context.Canceled):
		return fmt.Errorf("wasm call canceled: %w", callCtx.Err())
	default:
		return &ExitError{Code: code}
	}
}
