;; A reactor for the hybridd ABI version 1. The first payload byte selects
;; what it does:
;;   'p' publishes the payload to the message's topic and returns the status
;;   'c' counts the message and publishes the count (4 bytes, little-endian)
;;       to the output topic
;;   'g' logs "handled" at warn level
;;   '!' traps with unreachable
;;   'l' spins forever
;; Anything else, and an empty payload, returns status 7.
(module
  (import "hybridd" "message_read" (func $message_read (param i32 i32) (result i32)))
  (import "hybridd" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (import "hybridd" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (global $count (mut i32) (i32.const 0))
  (data (i32.const 0) "handled")

  (func (export "hybridd_abi_version") (result i32) (i32.const 1))

  ;; The topic goes to 1024 (at most 3 KiB), the payload to 4096.
  (func (export "hybridd_on_message") (param $topic_len i32) (param $payload_len i32) (result i32)
    (local $status i32)
    (local $op i32)
    (if (i32.eqz (local.get $payload_len))
      (then (return (i32.const 7))))
    (local.set $status (call $message_read (i32.const 1024) (i32.const 4096)))
    (if (local.get $status)
      (then (return (i32.add (i32.const 100) (local.get $status)))))
    (local.set $op (i32.load8_u (i32.const 4096)))

    (if (i32.eq (local.get $op) (i32.const 0x70)) ;; 'p'
      (then (return (call $publish (i32.const 1024) (local.get $topic_len)
                                   (i32.const 4096) (local.get $payload_len)))))
    (if (i32.eq (local.get $op) (i32.const 0x63)) ;; 'c'
      (then
        (global.set $count (i32.add (global.get $count) (i32.const 1)))
        (i32.store (i32.const 512) (global.get $count))
        (return (call $publish (i32.const 0) (i32.const 0) (i32.const 512) (i32.const 4)))))
    (if (i32.eq (local.get $op) (i32.const 0x67)) ;; 'g'
      (then
        (call $log (i32.const 4) (i32.const 0) (i32.const 7))
        (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 0x21)) ;; '!'
      (then unreachable))
    (if (i32.eq (local.get $op) (i32.const 0x6c)) ;; 'l'
      (then (loop $spin (br $spin))))
    (i32.const 7)))
