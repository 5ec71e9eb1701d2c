;; Computes fib(64) by naive recursion: about 2^44 calls, no loop at all.
(module
  (memory (export "memory") 1)
  (func $fib (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1)))
                     (call $fib (i64.sub (local.get $n) (i64.const 2)))))))
  (func (export "_start")
    (i64.store (i32.const 0) (call $fib (i64.const 64)))))
