;; Declares a minimum memory of 100 pages (6400 KiB).
(module
  (memory (export "memory") 100)
  (func (export "_start")))
