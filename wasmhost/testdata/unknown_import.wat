;; Imports a function that no hybridd host provides.
(module
  (import "env" "sensor_read" (func $sensor_read (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $sensor_read))))
