;; A command module that misbehaves on request. The first byte of stdin
;; selects: "l" loops forever, "t" traps, "x" exits with code 3; anything
;; else is copied to stdout unchanged.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $first i32)
    ;; iovec at 0: buffer 1024, length 4096; bytes read at 16.
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (local.set $first (i32.load8_u (i32.const 1024)))
    (if (i32.eq (local.get $first) (i32.const 0x6c)) ;; "l"
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $first) (i32.const 0x74)) ;; "t"
      (then unreachable))
    (if (i32.eq (local.get $first) (i32.const 0x78)) ;; "x"
      (then (call $proc_exit (i32.const 3))))
    ;; Echo: iovec at 32 points at the bytes read.
    (i32.store (i32.const 32) (i32.const 1024))
    (i32.store (i32.const 36) (i32.load (i32.const 16)))
    (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 48)))))
