// Package reactor turns a Go program into a hybridd reactor module: a WASI
// reactor whose warm instances handle one MQTT message per call and keep
// their state between calls.
//
// A reactor registers its handler in an init function and publishes
// results. Go runs package initializers when the host calls _initialize,
// but with -buildmode=c-shared it never calls main, which stays empty:
//
//	func init() {
//		reactor.Handle(func(topic string, payload []byte) error {
//			return reactor.Publish("", payload) // "" is the output topic
//		})
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm .
//
// The package implements version 1 of the ABI in docs/abi.md. On other
// platforms it compiles, so that tools such as go vet work on a reactor's
// package, but Publish returns ErrNotWasm and Log writes to stderr.
package reactor

import (
	"errors"
	"fmt"
)

// ABIVersion is the version of the hybridd reactor ABI this package
// implements. The host rejects a reactor whose version it does not support.
const ABIVersion = 1

// Handler handles one message. A non-nil error is logged through the host
// and makes the host report the call as failed; the instance stays warm.
type Handler func(topic string, payload []byte) error

// handler is the one registered Handler. A guest instance is a process of
// its own, so a package variable is the only place the exported entry point
// can find it.
var handler Handler

// Handle registers h as the handler of every message. Call it from an init
// function; a later call replaces the earlier handler.
func Handle(h Handler) { handler = h }

// Level is a log level, numbered as in log/slog.
type Level int32

const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// Errors returned by Publish for the host's status codes.
var (
	// ErrDenied means the workload may not publish to the topic.
	ErrDenied = errors.New("hybridd: publish to this topic is denied")
	// ErrTooLarge means the call has used up its publish budget.
	ErrTooLarge = errors.New("hybridd: publish budget of this call is used up")
	// ErrBadTopic means the topic contains a wildcard, a NUL or invalid UTF-8.
	ErrBadTopic = errors.New("hybridd: invalid topic")
	// ErrNoMessage means Publish was called outside a handler.
	ErrNoMessage = errors.New("hybridd: publish called outside a message handler")
	// ErrNotWasm means the program is not running as a wasip1 module.
	ErrNotWasm = errors.New("hybridd: the host functions exist only under GOOS=wasip1")
)

// Status codes of the host functions, from the ABI.
const (
	statusOK        = 0
	statusDenied    = 1
	statusTooLarge  = 2
	statusBadMemory = 3
	statusNoMessage = 4
	statusBadTopic  = 5
)

// Status codes that hybridd_on_message returns to the host.
const (
	handlerOK        = 0
	handlerFailed    = 1
	handlerMissing   = 2
	handlerReadError = 3
)

func statusError(status uint32) error {
	switch status {
	case statusOK:
		return nil
	case statusDenied:
		return ErrDenied
	case statusTooLarge:
		return ErrTooLarge
	case statusNoMessage:
		return ErrNoMessage
	case statusBadTopic:
		return ErrBadTopic
	}
	return fmt.Errorf("hybridd: host returned status %d", status)
}

// Logf formats a message and logs it through the host at level.
func Logf(level Level, format string, args ...any) {
	Log(level, fmt.Sprintf(format, args...))
}

// dispatch runs the handler on one message and returns the status for the
// host.
func dispatch(topic string, payload []byte) uint32 {
	if handler == nil {
		Log(LevelError, "no handler registered: call reactor.Handle from an init function")
		return handlerMissing
	}
	if err := handler(topic, payload); err != nil {
		Log(LevelError, err.Error())
		return handlerFailed
	}
	return handlerOK
}
