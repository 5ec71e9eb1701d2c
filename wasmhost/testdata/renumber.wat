;; Refers to functions by index in every place that instrumentInterrupt
;; renumbers: call, call_indirect through both element segment layouts,
;; ref.func in a global initializer and in code, an export and the start
;; function. run(x) returns ((2x)*3+7)*3 + 100 * started, where started is
;; 1 once the start function ran.
(module
  (import "env" "double" (func $double (param i32) (result i32)))
  (type $unary (func (param i32) (result i32)))
  (table $indices 2 funcref)
  (table $refs 2 funcref)
  (elem (table $indices) (i32.const 0) func $triple $plus7)
  (elem (table $refs) (i32.const 0) funcref (ref.func $plus7))
  (global $started (mut i32) (i32.const 0))
  (global $tripleRef funcref (ref.func $triple))
  (start $init)

  (func $init (global.set $started (i32.const 1)))
  (func $triple (type $unary) (i32.mul (local.get 0) (i32.const 3)))
  (func $plus7 (type $unary) (i32.add (local.get 0) (i32.const 7)))

  (func (export "run") (param $x i32) (result i32)
    (local $v i32)
    (local.set $v (call $double (local.get $x)))
    (local.set $v (call_indirect $indices (type $unary) (local.get $v) (i32.const 0)))
    (local.set $v (call_indirect $refs (type $unary) (local.get $v) (i32.const 0)))
    (table.set $refs (i32.const 1) (global.get $tripleRef))
    (local.set $v (call_indirect $refs (type $unary) (local.get $v) (i32.const 1)))
    (table.set $refs (i32.const 1) (ref.func $plus7))
    (if (i32.eqz (call_indirect $refs (type $unary) (i32.const 0) (i32.const 1)))
      (then unreachable))
    (i32.add (local.get $v) (i32.mul (global.get $started) (i32.const 100)))))
