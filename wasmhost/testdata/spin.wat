;; A CPU-bound loop for benchmarks: spin(n) adds up 0..n-1 and returns the sum.
(module
  (memory (export "memory") 1)
  (func (export "spin") (param $n i64) (result i64)
    (local $i i64)
    (local $sum i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (i64.add (local.get $sum) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $sum)))
