;; Copies stdin to stdout in chunks of up to 4096 bytes.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0 (buffer 1024, length), bytes read at 16, bytes written at 20
  (func (export "_start")
    (loop $copy
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 4096))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16))
        (then unreachable))
      (if (i32.eqz (i32.load (i32.const 16)))
        (then return))
      (i32.store (i32.const 4) (i32.load (i32.const 16)))
      (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20))
        (then unreachable))
      (br $copy))))
