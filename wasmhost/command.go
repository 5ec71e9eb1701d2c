package wasmhost

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/experimental"
)

// invokeCommand runs a command module once in a fresh instance: payload on
// stdin, HYBRIDD_TOPIC set, stdout captured, exit code 0 for success.
func (m *Module) invokeCommand(ctx context.Context, in Input) (Output, error) {
	token, err := m.commandSlots.get(ctx)
	if err != nil {
		return Output{}, err
	}
	defer m.commandSlots.put(token)

	callCtx, cancel := m.callContext(ctx)
	defer cancel()
	state := &callState{input: in, budget: MaxOutputBytes}
	callCtx = withCallState(experimental.WithMemoryAllocator(callCtx, &m.memory), state)

	stdout := &limitedBuffer{limit: MaxOutputBytes}
	cfg := m.baseModuleConfig(&sleeper{ctx: callCtx}).
		WithStdin(bytes.NewReader(in.Payload)).
		WithStdout(stdout).
		WithEnv(TopicEnv, in.Topic)

	guest, err := m.runtime.InstantiateModule(callCtx, m.compiled, cfg)
	if err != nil {
		if classified := classifyCallError(callCtx, err); classified != nil {
			return Output{}, fmt.Errorf("instantiate: %w", classified)
		}
		return Output{}, nil
	}
	defer guest.Close(context.WithoutCancel(ctx))

	_, err = guest.ExportedFunction("_start").Call(callCtx)
	out := Output{Stdout: stdout.buf.Bytes(), Published: state.published}
	if err = classifyCallError(callCtx, err); err != nil {
		return out, err
	}
	if stdout.overflow {
		return out, fmt.Errorf("stdout over %d bytes: %w", MaxOutputBytes, ErrOutputLimit)
	}
	return out, nil
}
