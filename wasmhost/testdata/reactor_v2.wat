;; A reactor that claims hybridd ABI version 2, which no host supports yet.
(module
  (memory (export "memory") 1)
  (func (export "hybridd_abi_version") (result i32) (i32.const 2))
  (func (export "hybridd_on_message") (param i32 i32) (result i32) (i32.const 0)))
