;; Spins forever, unless stdin starts with "ok", in which case it returns.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (if (i32.eq (i32.load16_u (i32.const 1024)) (i32.const 0x6b6f)) ;; "ok", little-endian
      (then return))
    (loop $spin (br $spin))))
