;; Sleeps for one hour in poll_oneoff on a monotonic clock subscription.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    ;; The subscription at 0 (48 bytes): tag 0 (clock) at 8, clock id 1
    ;; (monotonic) at 16, relative timeout in nanoseconds at 24.
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    ;; One event is written to 64, the event count to 128.
    (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))
