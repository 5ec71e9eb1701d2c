package wasmhost

// Names and numbers of the hybridd reactor ABI, version 1. docs/abi.md is
// the specification; this file and the Go SDK must agree with it.
const (
	// ABIVersion is the only ABI version this host accepts.
	ABIVersion = 1

	hostModuleName = "hybridd"

	exportABIVersion = "hybridd_abi_version" // () -> i32
	exportOnMessage  = "hybridd_on_message"  // (topic_len i32, payload_len i32) -> i32
	exportInitialize = "_initialize"         // WASI reactor initializer, optional

	importMessageRead = "message_read" // (topic_ptr, payload_ptr i32) -> i32
	importPublish     = "publish"      // (topic_ptr, topic_len, payload_ptr, payload_len i32) -> i32
	importLog         = "log"          // (level, msg_ptr, msg_len i32)
)

// Status codes that host functions return to the guest.
const (
	StatusOK        = 0 // done
	StatusDenied    = 1 // AllowPublish rejected the topic
	StatusTooLarge  = 2 // the call's publish budget, MaxOutputBytes, is used up
	StatusBadMemory = 3 // a pointer and length lie outside linear memory
	StatusNoMessage = 4 // called outside hybridd_on_message or a command's _start
	StatusBadTopic  = 5 // the topic contains a wildcard, a NUL or invalid UTF-8
)

// maxLogBytes caps one hybridd.log message; longer messages are truncated.
const maxLogBytes = 4096
