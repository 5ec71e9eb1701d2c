// Package e2e holds the end-to-end tests: they build the hybridd binary and
// the example modules, run `hybridd serve` against the embedded broker, a
// real mosquitto and a real containerd, and drive it with the CLI and with
// mosquitto_pub and mosquitto_sub as independent clients.
package e2e
