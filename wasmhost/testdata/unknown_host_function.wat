;; Imports a function from the hybridd module that does not exist.
(module
  (import "hybridd" "subscribe" (func $subscribe (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $subscribe (i32.const 0) (i32.const 0)))))
