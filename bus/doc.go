// Package bus connects hybridd to MQTT: a Client that keeps one MQTT v5
// connection up and routes incoming messages to subscriptions, an embedded
// Broker for hosts without one, and a bounded Queue per workload.
//
// The Client keeps reconnecting while the broker is away, resubscribes every
// active filter on each new connection and sends publishes through a queue, so
// that results produced during an outage are sent once the broker is back.
package bus
