package wasmhost

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// Input is one message handed to a module.
type Input struct {
	Topic   string
	Payload []byte
}

// Output is the result of one call.
type Output struct {
	// Stdout contains the bytes the guest wrote to stdout. For a command module each
	// line is one message for the output topic. After a failed call it is
	// kept for diagnostics.
	Stdout []byte
	// Published lists the messages the guest published through
	// hybridd.publish, in order, all allowed by AllowPublish. It is empty
	// when Invoke returns an error, so a failed call publishes nothing.
	Published []Publish
}

// Publish is one message a guest published. An empty Topic means the
// workload's output topic.
type Publish struct {
	Topic   string
	Payload []byte
}

// callState is the message of the call under way and what the guest has
// published. Host functions find it in the call's context.
type callState struct {
	input     Input
	published []Publish
	budget    int // bytes of topic and payload the guest may still publish
}

type callStateKey struct{}

func withCallState(ctx context.Context, state *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, state)
}

func callStateFrom(ctx context.Context) *callState {
	state, _ := ctx.Value(callStateKey{}).(*callState)
	return state
}

// instantiateHostModule adds the hybridd host module to the runtime. Its
// functions are closures over m, so each module has its own.
func (m *Module) instantiateHostModule(ctx context.Context) error {
	i32 := api.ValueTypeI32
	_, err := m.runtime.NewHostModuleBuilder(hostModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(m.hostMessageRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("topic_ptr", "payload_ptr").
		Export(importMessageRead).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(m.hostPublish), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("topic_ptr", "topic_len", "payload_ptr", "payload_len").
		Export(importPublish).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(m.hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "msg_ptr", "msg_len").
		Export(importLog).
		Instantiate(ctx)
	return err
}

// hostMessageRead copies the current topic and payload into guest memory at
// topic_ptr and payload_ptr. The guest learned both lengths from the
// arguments of hybridd_on_message.
func (m *Module) hostMessageRead(ctx context.Context, mod api.Module, stack []uint64) {
	state := callStateFrom(ctx)
	if state == nil {
		stack[0] = StatusNoMessage
		return
	}

	memory := mod.Memory()
	topicPtr, payloadPtr := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if memory == nil ||
		!memory.WriteString(topicPtr, state.input.Topic) ||
		!memory.Write(payloadPtr, state.input.Payload) {
		stack[0] = StatusBadMemory
		return
	}
	stack[0] = StatusOK
}

// hostPublish records one message for the caller of Invoke to publish.
func (m *Module) hostPublish(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = uint64(m.publish(ctx, mod, stack))
}

func (m *Module) publish(ctx context.Context, mod api.Module, stack []uint64) uint32 {
	state := callStateFrom(ctx)
	if state == nil {
		return StatusNoMessage
	}

	memory := mod.Memory()
	if memory == nil {
		return StatusBadMemory
	}
	topic, ok := memory.Read(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if !ok {
		return StatusBadMemory
	}
	payload, ok := memory.Read(api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	if !ok {
		return StatusBadMemory
	}

	if !validTopic(topic) {
		return StatusBadTopic
	}
	if !m.cfg.AllowPublish(string(topic)) {
		m.denied.Add(1)
		return StatusDenied
	}
	size := len(topic) + len(payload)
	if size > state.budget {
		return StatusTooLarge
	}
	state.budget -= size

	// memory.Read returns views of guest memory, so both are copied.
	state.published = append(state.published, Publish{
		Topic:   string(topic),
		Payload: append([]byte(nil), payload...),
	})
	return StatusOK
}

// validTopic accepts an MQTT topic name that a client may publish to: valid
// UTF-8 without NUL [MQTT-4.7.3-2], no wildcards [MQTT-3.3.2-2], and at most
// 65535 bytes [MQTT-4.7.3-3]. The empty topic stands for the output topic.
func validTopic(topic []byte) bool {
	return len(topic) <= 65535 &&
		utf8.Valid(topic) &&
		!strings.ContainsAny(string(topic), "+#\x00")
}

// hostLog writes one guest message to the module's log at the guest's level.
// Levels are slog's numbers: -4 debug, 0 info, 4 warn, 8 error.
func (m *Module) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	level := slog.Level(api.DecodeI32(stack[0]))
	size := min(api.DecodeU32(stack[2]), maxLogBytes)

	memory := mod.Memory()
	if memory == nil {
		return
	}
	msg, ok := memory.Read(api.DecodeU32(stack[1]), size)
	if !ok {
		m.guestLog.Log(ctx, slog.LevelError, "hybridd.log called with a message outside linear memory")
		return
	}
	m.guestLog.Log(ctx, level, strings.ToValidUTF8(string(msg), "\uFFFD"))
}
