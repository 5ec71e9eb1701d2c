// Package wasmhost runs hybridd's WebAssembly workloads in embedded wazero.
//
// A Host owns the on-disk compilation cache shared by every module. Each
// module loaded into it gets its own wazero runtime, because wazero applies
// the linear-memory cap per runtime and hybridd caps memory per workload.
// Compiled code is still shared: runtimes that use one compilation cache
// share one engine, so loading the same binary twice compiles it once.
//
// Two kinds of module are accepted:
//
//   - A WASI command module exports _start. Every Invoke instantiates it
//     afresh, writes the payload to its stdin, sets HYBRIDD_TOPIC and
//     captures its stdout. Exit code 0 is success.
//   - A hybridd reactor exports hybridd_on_message and no _start. Load
//     creates a pool of warm instances that keep their state between calls,
//     and each Invoke hands one message to one instance through the ABI that
//     docs/abi.md describes.
//
// Guests see no files, no sockets and only the environment given to Load.
// Clocks and a cryptographic random source are available. Every call is cut
// off at the module's timeout.
package wasmhost
