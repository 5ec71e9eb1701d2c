//go:build wasip1

package reactor

import "unsafe"

// Host functions of the "hybridd" module, version 1 of the ABI.

//go:wasmimport hybridd message_read
func messageRead(topicPtr, payloadPtr unsafe.Pointer) uint32

//go:wasmimport hybridd publish
func publish(topicPtr unsafe.Pointer, topicLen uint32, payloadPtr unsafe.Pointer, payloadLen uint32) uint32

//go:wasmimport hybridd log
func hostLog(level int32, msgPtr unsafe.Pointer, msgLen uint32)

//go:wasmexport hybridd_abi_version
func abiVersion() int32 { return ABIVersion }

// onMessage receives the lengths of the next message, allocates one buffer
// for both parts and calls message_read to fill it.
//
//go:wasmexport hybridd_on_message
func onMessage(topicLen, payloadLen uint32) uint32 {
	// One spare byte keeps &buf[topicLen] valid when the payload is empty.
	buf := make([]byte, uint64(topicLen)+uint64(payloadLen)+1)
	if status := messageRead(unsafe.Pointer(&buf[0]), unsafe.Pointer(&buf[topicLen])); status != statusOK {
		Logf(LevelError, "hybridd.message_read returned status %d", status)
		return handlerReadError
	}
	topic := string(buf[:topicLen])
	payload := buf[topicLen : topicLen+payloadLen : topicLen+payloadLen]
	return dispatch(topic, payload)
}

// Publish sends payload to topic; the empty topic is the workload's output
// topic. The host copies both before Publish returns.
func Publish(topic string, payload []byte) error {
	status := publish(unsafe.Pointer(unsafe.StringData(topic)), uint32(len(topic)),
		unsafe.Pointer(unsafe.SliceData(payload)), uint32(len(payload)))
	return statusError(status)
}

// Log writes msg to the workload's log at level.
func Log(level Level, msg string) {
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}
