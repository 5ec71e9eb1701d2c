;; Prints its arguments and then its environment, one per line.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Replaces each NUL in [start, start+len) with a newline.
  (func $nul_to_newline (param $start i32) (param $len i32)
    (local $i i32)
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.eqz (i32.load8_u (i32.add (local.get $start) (local.get $i))))
          (then (i32.store8 (i32.add (local.get $start) (local.get $i)) (i32.const 10))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan))))

  ;; Sizes at 0..16, iovecs at 16..32, pointer arrays at 64 and 1024,
  ;; argument strings at 4096 and environment strings at 8192.
  (func (export "_start")
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 64) (i32.const 4096)))
    (drop (call $environ_sizes_get (i32.const 8) (i32.const 12)))
    (drop (call $environ_get (i32.const 1024) (i32.const 8192)))
    (call $nul_to_newline (i32.const 4096) (i32.load (i32.const 4)))
    (call $nul_to_newline (i32.const 8192) (i32.load (i32.const 12)))
    (i32.store (i32.const 16) (i32.const 4096))
    (i32.store (i32.const 20) (i32.load (i32.const 4)))
    (i32.store (i32.const 24) (i32.const 8192))
    (i32.store (i32.const 28) (i32.load (i32.const 12)))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 2) (i32.const 32)))))
