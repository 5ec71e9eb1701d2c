;; Grows its memory by 16 pages (1 MiB) and traps if that fails.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1))
      (then unreachable))))
