package bus

import (
	"bytes"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// quotaRepairHook works around a send-quota leak in mochi-mqtt v2.7.9.
// When a client's Receive Maximum is used up, mochi parks further QoS 1
// messages and later sends one per packet it reads from that client, but
// it drops each from its in-flight table as it writes it. The PUBACK for
// such a message then finds no entry and does not give its quota unit
// back, so the quota shrinks to zero for good and the client receives
// nothing more until it reconnects. The hook gives the unit back for a
// PUBACK that mochi will ignore.
//
// NOTE: mochi also sends the parked messages out of order, and a parked
// message sent this way is not redelivered if the client disconnects
// before its PUBACK. hybridd's own client sets no Receive Maximum on the
// embedded broker, so it never takes this path.
type quotaRepairHook struct {
	mqtt.HookBase
}

func (h *quotaRepairHook) ID() string { return "hybridd-quota-repair" }

func (h *quotaRepairHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPacketRead}, []byte{b})
}

func (h *quotaRepairHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Puback {
		if _, ok := cl.State.Inflight.Get(pk.PacketID); !ok {
			cl.State.Inflight.IncreaseSendQuota()
		}
	}
	return pk, nil
}
