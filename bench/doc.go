// Package bench holds the benchmarks of `make bench` that need more than
// one package: the per-message cost of a container function exec, the
// end-to-end throughput and latency of `hybridd serve` over MQTT against a
// relay that runs no workload, the daemon's resident memory with idle
// reactor workloads, and the deploy time of a Go module with a cold and a
// warm compilation cache. The per-message cost of wasm reactors and
// commands, and the price of timeouts, are in package wasmhost's
// benchmarks, which `make bench` runs in the same invocation.
//
// The package has no code of its own besides this file; everything is in
// the _test.go files. docs/benchmarks.md records one run and the targets.
package bench
